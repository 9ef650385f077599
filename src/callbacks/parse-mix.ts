import { isValidRoomId, isValidStreamId } from '../zego/protocol.js';
import { MAX_MIX_TASK_ID_BYTES } from '../zego/mix.js';
import { parseBody, type Parsed } from './parse.js';

/**
 * ZEGO's `mix_start` / `mix_stop` callback bodies → typed events (../shared notes, "Stream
 * mixing"). They come on the same path, signed the same way, as the stream callbacks, and are told
 * apart by `event`; the signature and replay checks are the receiver's (verify.ts). The body is
 * read as parse.ts reads any callback (JSON, form, or URL-encoded JSON, the body decides), plus
 * the play URL arrays of mix_start, which the stream events do not need. Every failure is a value
 * with a short reason, never an exception.
 */

export type MixEventName = 'mix_start' | 'mix_stop';
export const MIX_EVENTS: readonly MixEventName[] = ['mix_start', 'mix_stop'];

export function isMixEvent(event: string | undefined): event is MixEventName {
  return (MIX_EVENTS as readonly (string | undefined)[]).includes(event);
}

/** mix_start's play URLs of the output (one per CDN), in the order sent. */
export interface MixPlayUrls {
  rtmp: string[];
  hls: string[];
  hdl: string[];
}

export interface MixEvent {
  event: MixEventName;
  /**
   * `task_id` exactly as sent: ZEGO prefixes the customer's TaskId with the AppID (`111111:1111` in
   * the docs). zego/mix.ts resolveMixTaskId reads it against the watched tasks.
   */
  rawTaskId: string;
  /** The mix request's sequence number (ZEGO: "auto-incrementing and unique"). */
  seq: number;
  /** channel_id, when it keeps the room id rule (absent otherwise: the room stays unknown). */
  roomId?: string;
  publishId?: string;
  /** The output's RTMP address (mix_url). */
  mixUrl?: string;
  /** The output stream (mix_stream_alias), when it keeps the stream id rule. */
  mixStreamAlias?: string;
  /** mix_start's stream_alias (the output stream id), when it keeps the stream id rule. */
  streamAlias?: string;
  /** Empty lists for mix_stop, which carries none. */
  playUrls: MixPlayUrls;
}

/** task_id carries the AppID (up to 10 digits) and a separator before the task id. */
export const MAX_RAW_TASK_ID_CHARS = MAX_MIX_TASK_ID_BYTES + 11;
/** The docs bound each list at 1024 bytes; 16 entries is more CDNs than any app pushes to. */
export const MAX_PLAY_URLS = 16;
export const MAX_URL_CHARS = 1024;
/** publish_id is a user id: ZEGO bounds it at 255 bytes. */
const PUBLISH_ID_RE = /^[\x21-\x7e]{1,255}$/;
const PRINTABLE_RE = /^[\x21-\x7e]+$/;
const SEQ_RE = /^\d{1,16}$/;

const LISTS = [
  ['rtmp', 'rtmp_urls', 'rtmp_url', ['rtmp:', 'rtmps:']],
  ['hls', 'hls_urls', 'hls_url', ['http:', 'https:']],
  ['hdl', 'hdl_urls', 'hdl_url', ['http:', 'https:']],
] as const;

/**
 * A mix callback body → its event. `event` must be mix_start or mix_stop; `task_id` and `seq` are
 * required; the other fields are kept when valid and left out when absent or unusable (as
 * stream callbacks treat room_id), except the play URLs of mix_start: a list that is not strings,
 * longer than {@link MAX_PLAY_URLS}, or holding something that is not an rtmp/http(s) URL makes
 * the body malformed, because what is kept of them is handed to the output probes.
 */
export function parseMixCallback(body: string): Parsed<MixEvent> {
  const fields = parseBody(body);
  if (!fields.ok) return fields;
  const lists = listsOf(body);
  if (!lists.ok) return lists;
  return mixEvent(fields.value, lists.value);
}

/** The flat fields (parse.ts parseBody) and the lists of a body → the event. */
export function mixEvent(f: Record<string, string>, lists: Record<string, string[]>): Parsed<MixEvent> {
  const event = f['event'];
  if (!isMixEvent(event)) return { ok: false, reason: `unsupported event ${JSON.stringify(event ?? '').slice(0, 40)}` };
  const rawTaskId = f['task_id'] ?? '';
  if (rawTaskId === '' || rawTaskId.length > MAX_RAW_TASK_ID_CHARS || !PRINTABLE_RE.test(rawTaskId))
    return { ok: false, reason: `task_id missing, longer than ${MAX_RAW_TASK_ID_CHARS} characters or not printable ASCII` };
  const seqText = f['seq'];
  const seq = seqText !== undefined && SEQ_RE.test(seqText) ? Number(seqText) : null;
  if (seq === null || !Number.isSafeInteger(seq)) return { ok: false, reason: 'seq missing or not a number' };
  const out: MixEvent = { event, rawTaskId, seq, playUrls: { rtmp: [], hls: [], hdl: [] } };
  const room = f['channel_id'];
  if (room !== undefined && isValidRoomId(room)) out.roomId = room;
  const publishId = f['publish_id'];
  if (publishId !== undefined && PUBLISH_ID_RE.test(publishId)) out.publishId = publishId;
  const mixUrl = f['mix_url'];
  if (mixUrl !== undefined && isUrl(mixUrl, ['rtmp:', 'rtmps:'])) out.mixUrl = mixUrl;
  const alias = f['mix_stream_alias'];
  if (alias !== undefined && isValidStreamId(alias)) out.mixStreamAlias = alias;
  if (event === 'mix_stop') return { ok: true, value: out };
  const streamAlias = f['stream_alias'];
  if (streamAlias !== undefined && isValidStreamId(streamAlias)) out.streamAlias = streamAlias;
  for (const [key, listName, single, schemes] of LISTS) {
    // The docs' example sends each list and, beside it, its first entry as a plain string.
    const given = lists[listName] ?? (f[single] === undefined || f[single] === '' ? [] : [f[single]]);
    if (given.length > MAX_PLAY_URLS) return { ok: false, reason: `${listName} has more than ${MAX_PLAY_URLS} entries` };
    for (const [i, u] of given.entries()) {
      if (!isUrl(u, schemes)) return { ok: false, reason: `${listName}[${i}] is not a ${schemes.join('/')} URL of at most ${MAX_URL_CHARS} characters` };
    }
    out.playUrls[key] = [...given];
  }
  return { ok: true, value: out };
}

/**
 * The url lists of a body: JSON arrays (in JSON, or URL-encoded JSON), or a form's repeated
 * `rtmp_urls` / `rtmp_urls[]` fields. A list that is not all strings is malformed. Only the three
 * list names are read, so a body cannot make this keep anything else.
 */
export function listsOf(body: string): Parsed<Record<string, string[]>> {
  const text = body.trim();
  const out: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  let json: string | null = null;
  if (text.startsWith('{')) json = text;
  else if (/^%7b/i.test(text)) {
    try {
      json = decodeURIComponent(text.replace(/\+/g, ' '));
    } catch {
      return { ok: false, reason: 'body is not valid URL encoding' };
    }
  }
  if (json === null) {
    const form = new URLSearchParams(text);
    for (const [, name] of LISTS) {
      const items = [...form.getAll(name), ...form.getAll(`${name}[]`)];
      if (items.length > 0) out[name] = items;
    }
    return { ok: true, value: out };
  }
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return { ok: false, reason: 'body is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'body is not a JSON object' };
  for (const [, name] of LISTS) {
    const v = (value as Record<string, unknown>)[name];
    if (v === undefined || v === null) continue;
    if (!Array.isArray(v) || !v.every((s): s is string => typeof s === 'string')) return { ok: false, reason: `${name} is not a list of strings` };
    out[name] = v;
  }
  return { ok: true, value: out };
}

function isUrl(s: string, schemes: readonly string[]): boolean {
  if (s.length > MAX_URL_CHARS || !PRINTABLE_RE.test(s)) return false;
  try {
    return schemes.includes(new URL(s).protocol);
  } catch {
    return false;
  }
}
