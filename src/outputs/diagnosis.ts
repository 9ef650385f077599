import type { MixTaskView } from '../state/mix-tasks.js';
import type { StreamRecord } from '../state/store.js';

/**
 * Which layer fails first for one output, from what the exporter already knows: the publisher (the
 * feeding stream's state; for a mix task's output, the streams of the task's room), the mixer (the
 * task) and delivery (the output as viewers play it). Pure (docs/outputs.md#diagnosis).
 */
export type OutputLayer = 'publisher' | 'mixer' | 'delivery' | 'none';
export const OUTPUT_LAYERS: readonly OutputLayer[] = ['publisher', 'mixer', 'delivery', 'none'];

/** What the feed says, as the diagnosis reads it. */
export type FeedState =
  | {
      kind: 'stream';
      /** The stream's state (null: not known yet). */
      active: boolean | null;
      notFound: boolean;
      /** Whether the exporter ever saw it active. */
      everActive: boolean;
    }
  | {
      kind: 'mix';
      /** The task runs (null: not known, or not watched). */
      running: boolean | null;
      /** Some stream of its room is active (true), all known ones are not (false), none known (null). */
      inputsLive: boolean | null;
    };

export interface OutputView {
  /** null until a probe reached it. */
  up: boolean | null;
  everUp: boolean;
}

/** The first failing layer; null while the output's own state is unknown. */
export function diagnose(output: OutputView, feed: FeedState | null): OutputLayer | null {
  if (output.up === null) return null;
  if (feed?.kind === 'stream' && publisherDown(feed, output.everUp)) return 'publisher';
  if (feed?.kind === 'mix') {
    if (feed.inputsLive === false) return 'publisher';
    if (feed.running === false) return 'mixer';
  }
  return output.up ? 'none' : 'delivery';
}

/**
 * A closed stream fails the publisher layer. A stream ZEGO answers "not found" for fails it too
 * once it was seen active (a closed stream reads so without the history permission); but one never
 * seen active behind an output that played is published straight to the CDN, which ZEGO cannot
 * see by design: not the publisher's fault.
 */
function publisherDown(s: Extract<FeedState, { kind: 'stream' }>, outputEverUp: boolean): boolean {
  if (s.active !== false) return false;
  if (s.notFound && !s.everActive && outputEverUp) return false;
  return true;
}

/** The feed state of a stream, from the store's record (undefined: not watched). */
export function streamFeed(s: Readonly<StreamRecord> | undefined, everActive: boolean): FeedState {
  return { kind: 'stream', active: s?.active ?? null, notFound: s?.notFound ?? false, everActive: everActive || s?.active === true };
}

/** The feed state of a mix task: its view (null: not watched) and, by room, whether its room's streams are live. */
export function mixFeed(task: MixTaskView | null, roomsLive: (roomId: string) => boolean | null): FeedState {
  const roomId = task?.roomId ?? null;
  return { kind: 'mix', running: task?.running ?? null, inputsLive: roomId === null ? null : roomsLive(roomId) };
}

/**
 * Per room, whether any watched stream in it is active (true), or all its known ones are not
 * (false); rooms with no stream whose state is known are absent. One pass over the streams.
 */
export function roomLiveness(streams: readonly Readonly<StreamRecord>[]): Map<string, boolean> {
  const rooms = new Map<string, boolean>();
  for (const s of streams) {
    if (s.roomId === null || s.active === null) continue;
    rooms.set(s.roomId, (rooms.get(s.roomId) ?? false) || s.active);
  }
  return rooms;
}
