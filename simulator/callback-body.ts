import { callbackSignature } from '../src/callbacks/verify.js';

/**
 * The bodies of ZEGO's stream_create / stream_close callbacks, written once: the automatic sender,
 * the control API and the `send-callback` command all build, sign and encode through here. Every
 * field is a string as the docs type them; the playback URL lists are arrays.
 */

export type StreamCallbackEvent = 'stream_create' | 'stream_close';
export const STREAM_CALLBACK_EVENTS: readonly StreamCallbackEvent[] = ['stream_create', 'stream_close'];

/**
 * How a body goes on the wire. `json` is ZEGO's default (POST/JSON); `form` is the POST/FORM it sets
 * up on request; `json-as-form` is a JSON body under a form Content-Type, which the docs allow
 * (they never name the header), so a receiver must decide by the body.
 */
export type CallbackEncoding = 'json' | 'form' | 'json-as-form';
export const CALLBACK_ENCODINGS: readonly CallbackEncoding[] = ['json', 'form', 'json-as-form'];

export type CallbackFields = Record<string, string | string[]>;

export interface StreamCallbackInput {
  event: StreamCallbackEvent;
  appId: number;
  roomId: string;
  roomSessionId: string;
  streamId: string;
  streamSeq: number;
  /** Unix ms the stream was created. */
  createTimeMs: number;
  /** stream_close: Unix ms it was destroyed. */
  destroyTimeMs?: number;
  /** stream_close: 0 normal stop, 1 heartbeat timeout, … 100 DeleteStream. */
  type?: number;
  userId?: string;
  userName?: string;
  /**
   * The simulator's own URL: `hls_url` / `hdl_url` point at its CDN (`/cdn/hls/<id>.m3u8`,
   * `/cdn/flv/<id>.flv`). Without it (a callback sent with no simulator running) they point at
   * `.invalid` hosts that nothing resolves.
   */
  mediaBaseUrl?: string;
}

/** Where viewers play a stream: the simulator's CDN when there is one, else hosts that never resolve. */
export function playUrls(streamId: string, mediaBaseUrl: string | undefined, path: 'live' | 'mix'): { hls: string; hdl: string } {
  if (mediaBaseUrl === undefined) {
    return path === 'live'
      ? { hls: `http://play.simulator.invalid/live/${streamId}/playlist.m3u8`, hdl: `http://play.simulator.invalid/live/${streamId}.flv` }
      : { hls: `http://play.simulator.invalid/mix/${streamId}/playlist.m3u8`, hdl: `http://play.simulator.invalid/mix/${streamId}.flv` };
  }
  return { hls: `${mediaBaseUrl}/cdn/hls/${streamId}.m3u8`, hdl: `${mediaBaseUrl}/cdn/flv/${streamId}.flv` };
}

/** Every business field the docs list for the event, in their order. */
export function streamCallbackFields(i: StreamCallbackInput): CallbackFields {
  const userId = i.userId ?? `user-${i.streamId}`;
  const userName = i.userName ?? userId;
  const common = {
    event: i.event,
    appid: String(i.appId),
    room_id: i.roomId,
    room_session_id: i.roomSessionId,
    user_id: userId,
    user_name: userName,
    channel_id: i.roomId,
  };
  const sid = `s-${i.streamId}-${i.createTimeMs}`;
  if (i.event === 'stream_create') {
    const play = playUrls(i.streamId, i.mediaBaseUrl, 'live');
    return {
      ...common,
      stream_id: i.streamId,
      stream_sid: sid,
      stream_alias: i.streamId,
      stream_seq: String(i.streamSeq),
      create_time: String(Math.floor(i.createTimeMs / 1000)),
      create_time_ms: String(i.createTimeMs),
      recreate: '0',
      extra_info: '',
      title: '',
      publish_id: userId,
      publish_name: userName,
      // .invalid: the simulator serves no RTMP or pictures, and nothing must ever resolve these.
      rtmp_url: [`rtmp://play.simulator.invalid/live/${i.streamId}`],
      hls_url: [play.hls],
      hdl_url: [play.hdl],
      pic_url: [`http://pic.simulator.invalid/${i.streamId}.jpg`],
    };
  }
  return {
    ...common,
    type: String(i.type ?? 0),
    stream_alias: i.streamId,
    stream_id: i.streamId,
    stream_sid: sid,
    stream_seq: String(i.streamSeq),
    third_define_data: '',
    create_time_ms: String(i.createTimeMs),
    destroy_timemillis: String(i.destroyTimeMs ?? i.createTimeMs),
  };
}

/** Adds timestamp, nonce and ZEGO's signature (sha1 of the sorted secret, timestamp and nonce). */
export function signCallback(fields: CallbackFields, secret: string, timestampSec: number, nonce: string): CallbackFields {
  const timestamp = String(timestampSec);
  return { ...fields, timestamp, nonce, signature: callbackSignature(secret, timestamp, nonce) };
}

/** The body and Content-Type for an encoding. In a form, an array is one field repeated per item. */
export function encodeCallback(fields: CallbackFields, encoding: CallbackEncoding): { contentType: string; body: string } {
  if (encoding === 'form') {
    const form = new URLSearchParams();
    for (const [k, v] of Object.entries(fields)) for (const item of Array.isArray(v) ? v : [v]) form.append(k, item);
    return { contentType: 'application/x-www-form-urlencoded', body: form.toString() };
  }
  const contentType = encoding === 'json' ? 'application/json' : 'application/x-www-form-urlencoded';
  return { contentType, body: JSON.stringify(fields) };
}

export function isCallbackEncoding(v: unknown): v is CallbackEncoding {
  return (CALLBACK_ENCODINGS as readonly unknown[]).includes(v);
}
