import { isPlausibleTimeMs } from '../zego/time.js';

/**
 * Callback bodies → typed events. ZEGO sends JSON by default and form fields on request, so both
 * are accepted (and JSON that arrives URL-encoded), told apart by the body. Every failure is a
 * value with a short reason, never an exception.
 */

import { isValidRoomId, isValidStreamId } from '../zego/protocol.js';
import { closeReason, type StreamEvent } from '../zego/stream-event.js';

export interface SignedPart {
  timestamp: string;
  nonce: string;
  signature: string;
  /** Absent in some samples; checked against the configured AppID when present. */
  appId: number | null;
  event: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Flat string fields from a body. The body decides, never the header: ZEGO sends JSON by default
 * and form fields on request, and does not document the Content-Type, so a JSON body labelled
 * form-urlencoded (or a form labelled JSON) is read as what it is. JSON that arrives URL-encoded
 * (`%7B…`) is read as JSON. Non-scalar JSON values (the url arrays) are dropped: nothing here
 * reads them.
 */
export function parseBody(body: string): Parsed<Record<string, string>> {
  let text = body.trim();
  if (text === '') return { ok: false, reason: 'empty body' };
  if (text.startsWith('%7B') || text.startsWith('%7b')) {
    try {
      text = decodeURIComponent(text.replace(/\+/g, ' '));
    } catch {
      return { ok: false, reason: 'body is not valid URL encoding' };
    }
  } else if (!text.startsWith('{') && !text.startsWith('[')) {
    return { ok: true, value: fromForm(text) };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'body is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, reason: 'body is not a JSON object' };
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'number' && Number.isFinite(v)) out[k] = String(v);
  }
  return { ok: true, value: out };
}

function fromForm(text: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of new URLSearchParams(text)) if (!(k in out)) out[k] = v;
  return out;
}

/** ZEGO's nonces are short numbers; 64 printable characters leave room for any sane sender. */
export const MAX_NONCE_CHARS = 64;
const NONCE_RE = new RegExp(`^[\\x21-\\x7e]{1,${MAX_NONCE_CHARS}}$`);
/** Unix seconds: up to 12 digits (the year 33658), as the verifier reads them. */
const TIMESTAMP_RE = /^\d{1,12}$/;
/** room_session_id: opaque, kept per stream, so bounded to what any real id fits in. */
const ROOM_SESSION_RE = /^[\x21-\x7e]{1,64}$/;
/** sha1 hex, either case. */
const SIGNATURE_RE = /^[0-9a-fA-F]{40}$/;

export function signedPart(f: Record<string, string>): Parsed<SignedPart> {
  const missing = ['event', 'timestamp', 'nonce', 'signature'].filter((k) => !f[k]);
  if (missing.length > 0) return { ok: false, reason: `missing ${missing.join(', ')}` };
  // Bounded before anything is computed or remembered from them: the nonce is kept for the whole
  // replay window, so its size is memory an unauthenticated sender would otherwise choose.
  if (!TIMESTAMP_RE.test(f['timestamp']!)) return { ok: false, reason: 'timestamp is not Unix seconds' };
  if (!NONCE_RE.test(f['nonce']!)) return { ok: false, reason: `nonce longer than ${MAX_NONCE_CHARS} characters or not printable ASCII` };
  if (!SIGNATURE_RE.test(f['signature']!)) return { ok: false, reason: 'signature is not 40 hex characters' };
  let appId: number | null = null;
  if (f['appid'] !== undefined && f['appid'] !== '') {
    appId = uint(f['appid']);
    if (appId === null) return { ok: false, reason: 'appid is not a number' };
  }
  return { ok: true, value: { event: f['event']!, timestamp: f['timestamp']!, nonce: f['nonce']!, signature: f['signature']!, appId } };
}

export function streamEvent(f: Record<string, string>): Parsed<StreamEvent> {
  const event = f['event'];
  if (event !== 'stream_create' && event !== 'stream_close') return { ok: false, reason: `unsupported event ${JSON.stringify(event ?? '').slice(0, 40)}` };
  const streamId = f['stream_id'] ?? '';
  if (!isValidStreamId(streamId)) return { ok: false, reason: 'stream_id missing or invalid' };
  const streamSeq = uint(f['stream_seq']);
  if (streamSeq === null) return { ok: false, reason: 'stream_seq missing or not a number' };
  const room = f['room_id'];
  const session = f['room_session_id'];
  const roomId = {
    ...(room !== undefined && isValidRoomId(room) ? { roomId: room } : {}),
    // Opaque to us (ZEGO sends a number or a string); bounded, since it is kept with the stream.
    ...(session !== undefined && ROOM_SESSION_RE.test(session) ? { roomSession: session } : {}),
  };
  if (event === 'stream_create') {
    // create_time (s) is the documented fallback when create_time_ms is absent.
    const createTimeMs = uint(f['create_time_ms']) ?? mul(uint(f['create_time']), 1000);
    if (createTimeMs === null) return { ok: false, reason: 'create_time_ms missing or not a number' };
    return { ok: true, value: { event, streamId, streamSeq, createTimeMs, ...roomId } };
  }
  const type = uint(f['type']);
  if (type === null) return { ok: false, reason: 'type missing or not a number' };
  const destroyTimeMs = uint(f['destroy_timemillis']);
  const createTimeMs = uint(f['create_time_ms']);
  return { ok: true, value: { event, streamId, streamSeq, createTimeMs, destroyTimeMs, type, reason: closeReason(type), ...roomId } };
}

/**
 * Why an event's times cannot be true (before 2015, more than a day after `nowMs`), or null. Such an
 * event is malformed: shown, create_time_ms "0" would be uptime since 1970.
 */
export function implausibleTime(e: StreamEvent, nowMs: number): string | null {
  const times: [string, number | null][] =
    e.event === 'stream_create'
      ? [['create_time_ms', e.createTimeMs]]
      : [
          ['create_time_ms', e.createTimeMs],
          ['destroy_timemillis', e.destroyTimeMs],
        ];
  for (const [name, ms] of times) {
    if (ms !== null && !isPlausibleTimeMs(ms, nowMs)) return `${name} outside the plausible window (2015 to one day ahead)`;
  }
  return null;
}

function uint(v: string | undefined): number | null {
  if (v === undefined || !/^\d{1,16}$/.test(v)) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : null;
}

function mul(v: number | null, k: number): number | null {
  return v === null ? null : v * k;
}
