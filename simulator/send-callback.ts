/**
 * `zego-simulator send-callback`: one signed stream_create / stream_close to a URL, built, signed
 * and encoded exactly as the simulator's own callbacks, without a simulator running. Prints one JSON
 * line `{"status", "contentType", "body"}`; exits 0 when the receiver answered 2xx, 1 otherwise.
 */
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { isValidRoomId, isValidStreamId } from '../src/zego/protocol.js';
import { isValidMixTaskId } from '../src/zego/mix.js';
import { isCallbackEncoding, STREAM_CALLBACK_EVENTS, type StreamCallbackEvent } from './callback-body.js';
import { isMixCallbackEvent, mixCallbackFields } from './mix-callback-body.js';
import { MAX_MIX_OUTPUTS } from './mix.js';
import { CallbackSender } from './callbacks.js';
import { defaultRoomId } from './sessions.js';

export const SEND_CALLBACK_USAGE = `usage: zego-simulator send-callback --url URL (--secret S | env SIM_CALLBACK_SECRET) --app-id N
  --event stream_create|stream_close --stream-id ID [--room-id R] [--room-session-id X] [--stream-seq N]
  [--type 0] [--create-time-ms MS] [--destroy-time-ms MS] [--user-id U] [--encoding json|form|json-as-form]
  --event mix_start|mix_stop --task-id ID [--room-id R] [--seq N] [--output-stream-id S]...
  [--task-id-separator ':'] [--user-id U] [--encoding json|form|json-as-form]`;

export class SendCallbackUsageError extends Error {}

function uint(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new SendCallbackUsageError(`${name} must be a non-negative integer`);
  return n;
}

/**
 * Without --room-session-id, a room's session id is derived from its id, so two commands for one
 * room agree; without --stream-seq, the seq is the current Unix ms, so successive commands in one
 * session are in order (ZEGO's seqs are small counters: give --stream-seq to mimic them).
 */
export function defaultSessionIdFor(roomId: string): string {
  return BigInt(`0x${createHash('sha1').update(roomId).digest('hex').slice(0, 15)}`).toString();
}

export async function sendCallbackCommand(argv: string[], env: NodeJS.ProcessEnv, print: (line: string) => void): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      secret: { type: 'string' },
      'app-id': { type: 'string' },
      event: { type: 'string' },
      'stream-id': { type: 'string' },
      'room-id': { type: 'string' },
      'room-session-id': { type: 'string' },
      'stream-seq': { type: 'string' },
      type: { type: 'string' },
      'create-time-ms': { type: 'string' },
      'destroy-time-ms': { type: 'string' },
      'user-id': { type: 'string' },
      'task-id': { type: 'string' },
      seq: { type: 'string' },
      'output-stream-id': { type: 'string', multiple: true },
      'task-id-separator': { type: 'string' },
      encoding: { type: 'string', default: 'json' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    print(SEND_CALLBACK_USAGE);
    return 0;
  }
  const url = values.url;
  if (url === undefined) throw new SendCallbackUsageError('--url is required');
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    throw new SendCallbackUsageError('--url must be an http(s) URL');
  }
  if (parsedUrl.protocol !== 'http:' && parsedUrl.protocol !== 'https:') throw new SendCallbackUsageError('--url must be an http(s) URL');
  // Prefer the environment: argv is visible to every user via ps.
  const secret = values.secret ?? env['SIM_CALLBACK_SECRET'];
  if (secret === undefined || secret === '') throw new SendCallbackUsageError('--secret or SIM_CALLBACK_SECRET is required');
  const appId = uint('--app-id', values['app-id']);
  if (appId === undefined || appId > 0xffff_ffff) throw new SendCallbackUsageError('--app-id is required (a uint32)');
  const event = values.event;
  if (isMixCallbackEvent(event)) {
    return sendMix(event, { url, secret, appId, encoding: values.encoding, values }, print);
  }
  if (!(STREAM_CALLBACK_EVENTS as readonly (string | undefined)[]).includes(event))
    throw new SendCallbackUsageError('--event must be stream_create, stream_close, mix_start or mix_stop');
  const streamId = values['stream-id'];
  if (streamId === undefined || !isValidStreamId(streamId)) throw new SendCallbackUsageError('--stream-id must be 1..256 bytes of [A-Za-z0-9_-]');
  const roomId = values['room-id'];
  if (roomId !== undefined && !isValidRoomId(roomId)) throw new SendCallbackUsageError('--room-id breaks the room id rule');
  if (!isCallbackEncoding(values.encoding)) throw new SendCallbackUsageError('--encoding must be json, form or json-as-form');

  const sender = new CallbackSender({ url, secret, appId, encoding: values.encoding, retryGapsMs: [] });
  try {
    const createTimeMs = uint('--create-time-ms', values['create-time-ms']);
    const destroyTimeMs = uint('--destroy-time-ms', values['destroy-time-ms']);
    const type = uint('--type', values.type);
    const streamSeq = uint('--stream-seq', values['stream-seq']) ?? Date.now();
    const room = roomId;
    const r = await sender.sendEvent({
      event: event as StreamCallbackEvent,
      streamId,
      ...(room === undefined ? {} : { roomId: room }),
      roomSessionId: values['room-session-id'] ?? defaultSessionIdFor(room ?? defaultRoomId(streamId)),
      streamSeq,
      ...(values['user-id'] === undefined ? {} : { userId: values['user-id'] }),
      ...(createTimeMs === undefined ? {} : { createTimeMs }),
      ...(destroyTimeMs === undefined ? {} : { destroyTimeMs }),
      ...(type === undefined ? {} : { type }),
    });
    print(JSON.stringify(r));
    return r.status !== null && r.status >= 200 && r.status < 300 ? 0 : 1;
  } finally {
    sender.close();
  }
}

interface MixFlags {
  'task-id'?: string | undefined;
  'room-id'?: string | undefined;
  seq?: string | undefined;
  'output-stream-id'?: string[] | undefined;
  'task-id-separator'?: string | undefined;
  'user-id'?: string | undefined;
  encoding?: string | undefined;
}

/**
 * A mix_start / mix_stop: task_id is `<app id><separator><task id>` as ZEGO sends it; without
 * --seq, the seq is the current Unix ms, so successive commands are in order.
 */
async function sendMix(
  event: 'mix_start' | 'mix_stop',
  o: { url: string; secret: string; appId: number; encoding: string | undefined; values: MixFlags },
  print: (line: string) => void,
): Promise<number> {
  const v = o.values;
  const taskId = v['task-id'];
  if (taskId === undefined || !isValidMixTaskId(taskId)) throw new SendCallbackUsageError('--task-id must be 1..256 bytes of printable ASCII without spaces');
  const roomId = v['room-id'];
  if (roomId !== undefined && !isValidRoomId(roomId)) throw new SendCallbackUsageError('--room-id breaks the room id rule');
  const outputs = v['output-stream-id'] ?? [];
  if (outputs.length > MAX_MIX_OUTPUTS || !outputs.every(isValidStreamId))
    throw new SendCallbackUsageError(`--output-stream-id: up to ${MAX_MIX_OUTPUTS} stream ids of [A-Za-z0-9_-]`);
  const separator = v['task-id-separator'];
  if (separator !== undefined && !/^[\x21-\x7e]?$/.test(separator))
    throw new SendCallbackUsageError('--task-id-separator must be one printable character, or empty');
  const encoding = o.encoding ?? 'json';
  if (!isCallbackEncoding(encoding)) throw new SendCallbackUsageError('--encoding must be json, form or json-as-form');
  const seq = uint('--seq', v.seq) ?? Date.now();
  const sender = new CallbackSender({ url: o.url, secret: o.secret, appId: o.appId, encoding, retryGapsMs: [] });
  try {
    const r = await sender.sendFields(
      mixCallbackFields({
        event,
        appId: o.appId,
        taskId,
        seq,
        roomId: roomId ?? null,
        outputs,
        ...(v['user-id'] === undefined ? {} : { userId: v['user-id'] }),
        ...(separator === undefined ? {} : { separator }),
      }),
    );
    print(JSON.stringify(r));
    return r.status !== null && r.status >= 200 && r.status < 300 ? 0 : 1;
  } finally {
    sender.close();
  }
}
