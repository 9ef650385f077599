import { playUrls, type CallbackFields } from './callback-body.js';

/**
 * The bodies of ZEGO's mix_start / mix_stop callbacks, written once: the simulator's own mix
 * events, the control API and the `send-callback` command all build them here, then sign and
 * encode them as every callback (callback-body.ts). Fields and their order follow the docs' pages
 * "Stream Mixing Started/Stopped Callback", whose example also carries the first play URL of each
 * list as a plain string beside the list.
 */

export type MixCallbackEvent = 'mix_start' | 'mix_stop';
export const MIX_CALLBACK_EVENTS: readonly MixCallbackEvent[] = ['mix_start', 'mix_stop'];

/**
 * ZEGO adds the AppID before the customer's TaskId: the docs' example is `111111:1111` (task
 * `1111` of AppID 111111). The text says only "adds the appid prefix", so a sender can be set to
 * another separator, or none.
 */
export const DEFAULT_MIX_TASK_ID_SEPARATOR = ':';

export interface MixCallbackInput {
  event: MixCallbackEvent;
  appId: number;
  /** The customer's TaskId (without the prefix). */
  taskId: string;
  /** Between the AppID and the TaskId; default ':'. */
  separator?: string;
  seq: number;
  roomId?: string | null;
  userId?: string;
  /** Output stream ids (the first is mix_stream_alias and stream_alias). */
  outputs: readonly string[];
  /** The simulator's own URL: `hls_urls` / `hdl_urls` point at its CDN; without it, at `.invalid` hosts. */
  mediaBaseUrl?: string;
}

export function isMixCallbackEvent(v: unknown): v is MixCallbackEvent {
  return (MIX_CALLBACK_EVENTS as readonly unknown[]).includes(v);
}

/** Every business field the docs list for the event, in their order; strings, url lists as arrays. */
export function mixCallbackFields(i: MixCallbackInput): CallbackFields {
  const main = i.outputs[0] ?? `${i.taskId}-mix`;
  // .invalid: the simulator serves no RTMP, and nothing must ever resolve these.
  const mixUrl = `rtmp://publish.simulator.invalid/mix/${main}`;
  const common: CallbackFields = {
    appid: String(i.appId),
    event: i.event,
    seq: String(i.seq),
    task_id: `${i.appId}${i.separator ?? DEFAULT_MIX_TASK_ID_SEPARATOR}${i.taskId}`,
    channel_id: i.roomId ?? '',
    publish_id: i.userId ?? 'mix-user',
    mix_url: mixUrl,
    mix_stream_alias: main,
  };
  if (i.event === 'mix_stop') return common;
  const outs = i.outputs.length > 0 ? i.outputs : [main];
  const rtmp = outs.map((o) => `rtmp://play.simulator.invalid/mix/${o}`);
  const hls = outs.map((o) => playUrls(o, i.mediaBaseUrl, 'mix').hls);
  const hdl = outs.map((o) => playUrls(o, i.mediaBaseUrl, 'mix').hdl);
  return {
    ...common,
    rtmp_url: rtmp[0]!,
    rtmp_urls: rtmp,
    hls_url: hls[0]!,
    hls_urls: hls,
    hdl_url: hdl[0]!,
    hdl_urls: hdl,
    stream_alias: main,
  };
}
