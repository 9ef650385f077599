#!/usr/bin/env node
/**
 * Runs the simulator as a process (demo, integration tests of other processes).
 * Prints exactly one JSON line `{"url":"http://127.0.0.1:PORT"}` on stdout once listening, so a
 * parent can start it with --listen 127.0.0.1:0 and learn the port without racing.
 */
import { parseArgs } from 'node:util';
import { apiStreamId, parseHostPort } from '../src/zego/protocol.js';
import { ACTIONS, ROOM_APP_LIMIT_CODES, type RoomAppLimitCode, type SimAction } from './api.js';
import { isCallbackEncoding } from './callback-body.js';
import { sendCallbackCommand, SendCallbackUsageError, SEND_CALLBACK_USAGE } from './send-callback.js';
import { FaultsError, parseFaultsPatch, type Faults } from './faults.js';
import { startSimulator, type SimulatorCallbacks, type StreamState } from './server.js';
import { startRoomDemoScript } from './rooms.js';
import { startDemoScript, type DemoScript } from './streams.js';

const USAGE = `usage: zego-simulator --app-id N (--secret S | env SIM_SECRET) [--listen 127.0.0.1:0]
  [--test-env] [--history | --no-history] [--is-test-optional] [--empty-room-list]
  [--room-app-limit-code 206|7] [--disable-action ACTION]... [--rate-limit 40] [--test-rate-limit 10]
  [--list-rate-limit 50] [--user-num-rate-limit 10] [--user-num-test-rate-limit 1]
  [--mix-rate-limit 100] [--mix-test-rate-limit 10] [--mix-task-id-separator ':']
  [--streams N [--script]] [--room-script] [--faults '{"jitterMs":20}'] [--hls-target-duration 2]
  [--callback-url URL (--callback-secret S | env SIM_CALLBACK_SECRET) [--callback-encoding json|form|json-as-form]]
  --hls-target-duration sets the CDN's HLS segment length (/cdn/hls/<id>.m3u8), whole seconds 1..60
  --room-script plays the demo room (demo-room: streams come and go, the audience moves)
  --callback-url sends stream_create / stream_close there for every change of a stream
usage: zego-simulator send-callback ...   one signed callback; see zego-simulator send-callback --help`;

class UsageError extends Error {}

/** A host is required: the simulator never listens on every interface by default. */
function parseListen(v: string): { host: string; port: number } {
  const a = parseHostPort(v);
  if (!a.ok) throw new UsageError(`--listen: ${a.message}`);
  if (a.host === undefined) throw new UsageError(`--listen must name a host (e.g. 127.0.0.1:0), got ${v}`);
  return { host: a.host, port: a.port };
}

function parseNonNegInt(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new UsageError(`${name} must be a non-negative integer`);
  return n;
}

function callbackOptions(url: string | undefined, secret: string | undefined, encoding: string | undefined, appId: number): SimulatorCallbacks | null {
  if (url === undefined) {
    if (encoding !== undefined) throw new UsageError('--callback-encoding needs --callback-url');
    return null;
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError('--callback-url must be an http(s) URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError('--callback-url must be an http(s) URL');
  if (secret === undefined || secret === '') throw new UsageError('--callback-url needs --callback-secret or SIM_CALLBACK_SECRET');
  const enc = encoding ?? 'json';
  if (!isCallbackEncoding(enc)) throw new UsageError('--callback-encoding must be json, form or json-as-form');
  return { url, secret, appId, encoding: enc };
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'send-callback') {
    process.exitCode = await sendCallbackCommand(argv.slice(1), process.env, (line) => console.log(line));
    return;
  }
  const { values } = parseArgs({
    args: argv,
    options: {
      listen: { type: 'string', default: '127.0.0.1:0' },
      'app-id': { type: 'string' },
      secret: { type: 'string' },
      'test-env': { type: 'boolean', default: false },
      history: { type: 'boolean', default: false },
      // The default since history became opt-in; kept so scripts that passed it keep working.
      'no-history': { type: 'boolean', default: false },
      'is-test-optional': { type: 'boolean', default: false },
      'empty-room-list': { type: 'boolean', default: false },
      'room-app-limit-code': { type: 'string' },
      'disable-action': { type: 'string', multiple: true },
      'callback-url': { type: 'string' },
      'callback-secret': { type: 'string' },
      'callback-encoding': { type: 'string' },
      'rate-limit': { type: 'string' },
      'test-rate-limit': { type: 'string' },
      streams: { type: 'string' },
      script: { type: 'boolean', default: false },
      'list-rate-limit': { type: 'string' },
      'user-num-rate-limit': { type: 'string' },
      'user-num-test-rate-limit': { type: 'string' },
      'mix-rate-limit': { type: 'string' },
      'mix-test-rate-limit': { type: 'string' },
      'mix-task-id-separator': { type: 'string' },
      'room-script': { type: 'boolean', default: false },
      faults: { type: 'string' },
      'hls-target-duration': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const appIdRaw = values['app-id'];
  if (appIdRaw === undefined) throw new UsageError('--app-id is required');
  const appId = parseNonNegInt('--app-id', appIdRaw, 0);
  // Prefer the environment: argv is visible to every user via ps.
  const secret = values.secret ?? process.env.SIM_SECRET;
  if (secret === undefined || secret === '') throw new UsageError('--secret or SIM_SECRET is required');
  const { host, port } = parseListen(values.listen);
  const count = parseNonNegInt('--streams', values.streams, 0);
  const isTest = values['test-env'];
  if (values.history && values['no-history']) throw new UsageError('--history and --no-history contradict each other');
  const limitCode = parseNonNegInt('--room-app-limit-code', values['room-app-limit-code'], 206);
  if (!(ROOM_APP_LIMIT_CODES as readonly number[]).includes(limitCode)) throw new UsageError('--room-app-limit-code must be 206 or 7');
  const disabled = values['disable-action'] ?? [];
  for (const a of disabled)
    if (!(ACTIONS as readonly string[]).includes(a)) throw new UsageError(`--disable-action: unknown Action ${a} (${ACTIONS.join(', ')})`);
  const callbacks = callbackOptions(
    values['callback-url'],
    values['callback-secret'] ?? process.env['SIM_CALLBACK_SECRET'],
    values['callback-encoding'],
    appId,
  );

  const separator = values['mix-task-id-separator'];
  if (separator !== undefined) {
    if (!/^[\x21-\x7e]?$/.test(separator)) throw new UsageError('--mix-task-id-separator must be one printable character, or empty');
    if (callbacks === null) throw new UsageError('--mix-task-id-separator needs --callback-url');
  }

  let faults: Partial<Faults> = {};
  if (values.faults !== undefined) {
    let raw: unknown;
    try {
      raw = JSON.parse(values.faults);
    } catch {
      throw new UsageError('--faults must be JSON');
    }
    faults = parseFaultsPatch(raw);
  }

  const hlsTargetDurationS = parseNonNegInt('--hls-target-duration', values['hls-target-duration'], 2);
  if (hlsTargetDurationS < 1 || hlsTargetDurationS > 60) throw new UsageError('--hls-target-duration must be whole seconds in [1, 60]');

  const nowSec = Math.floor(Date.now() / 1000);
  const streams: Record<string, StreamState> = {};
  if (!values.script) {
    for (let i = 1; i <= count; i++) streams[apiStreamId(`demo-${i}`, appId, isTest)] = { state: 'active', createTime: nowSec };
  }

  const sim = await startSimulator({
    host,
    port,
    apps: [
      {
        appId,
        secret,
        // --test-env models an app that isn't launched yet: production calls answer 30004.
        production: !isTest,
        history: values.history,
        isTestRequired: !values['is-test-optional'],
        emptyRoomList: values['empty-room-list'],
        roomAppLimitCode: limitCode as RoomAppLimitCode,
        rateLimit: parseNonNegInt('--rate-limit', values['rate-limit'], 40),
        testRateLimit: parseNonNegInt('--test-rate-limit', values['test-rate-limit'], 10),
        listRateLimit: parseNonNegInt('--list-rate-limit', values['list-rate-limit'], 50),
        userNumRateLimit: parseNonNegInt('--user-num-rate-limit', values['user-num-rate-limit'], 10),
        userNumTestRateLimit: parseNonNegInt('--user-num-test-rate-limit', values['user-num-test-rate-limit'], 1),
        mixRateLimit: parseNonNegInt('--mix-rate-limit', values['mix-rate-limit'], 100),
        mixTestRateLimit: parseNonNegInt('--mix-test-rate-limit', values['mix-test-rate-limit'], 10),
      },
    ],
    streams,
    faults,
    hlsTargetDurationS,
    disabledActions: disabled as SimAction[],
    ...(callbacks === null ? {} : { callbacks: { ...callbacks, ...(separator === undefined ? {} : { mixTaskIdSeparator: separator }) } }),
  });

  let script: DemoScript | null = null;
  if (values.script && count > 0) {
    script = startDemoScript(sim, {
      count,
      idFor: (name) => apiStreamId(name, appId, isTest),
      nowSec: () => Math.floor((Date.now() + sim.faults().clockOffsetMs) / 1000),
    });
  }

  const roomScript = values['room-script'] ? startRoomDemoScript(sim, { idFor: (name) => apiStreamId(name, appId, isTest) }) : null;

  process.stdout.write(`${JSON.stringify({ url: sim.url })}\n`);

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    script?.stop();
    roomScript?.stop();
    sim.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error('simulator: close failed:', err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof SendCallbackUsageError || (process.argv[2] === 'send-callback' && err instanceof TypeError && 'code' in err)) {
    console.error(`simulator: ${err.message}\n${SEND_CALLBACK_USAGE}`);
    process.exit(2);
  }
  if (err instanceof UsageError || err instanceof FaultsError || (err instanceof TypeError && 'code' in err)) {
    console.error(`simulator: ${err.message}\n${USAGE}`);
    process.exit(2);
  }
  console.error('simulator:', err);
  process.exit(1);
});
