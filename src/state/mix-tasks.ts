import { CALLBACK_RETRY_WINDOW_MS } from '../zego/callback-rules.js';
import { MIX_INPUTS_GONE_END_MS } from '../zego/mix.js';

/**
 * What the exporter knows of one stream mixing task, fed by GetMixTaskInfo polls and mix_start /
 * mix_stop callbacks, ordered by time. Pure: no clock, no timers; every input says when it
 * happened and `settle(nowMs)` moves time on. See docs/mix-tasks.md.
 *
 * The rule only polling can apply: ZEGO sends no mix_stop when a mixer dies. A task polling finds
 * gone is not running at once; if no mix_stop comes within ZEGO's callback retry window (62 s)
 * plus a margin, its stop is counted without one: `inputs_gone` when the streams of its room had
 * all left (ZEGO ends such a task by itself 90 s later), else `unannounced`, the crash.
 */

export type MixStopReason = 'callback' | 'inputs_gone' | 'unannounced';
export const MIX_STOP_REASONS: readonly MixStopReason[] = ['callback', 'inputs_gone', 'unannounced'];

/** Time for a mix_stop to arrive besides ZEGO's retries: the last attempt's own timeout, the fleet's relay, clock skew. */
export const MIX_STOP_MARGIN_MS = 15_000;
/** How long after polling saw a task gone its mix_stop may still come. */
export const MIX_STOP_WINDOW_MS = CALLBACK_RETRY_WINDOW_MS + MIX_STOP_MARGIN_MS;
/**
 * A callback's `timestamp` is whole seconds of ZEGO's clock: a poll sent within this long after it
 * may have been answered before the change it announces, so it cannot contradict it.
 */
export const CALLBACK_SLACK_MS = 2_000;
/**
 * Inputs gone for at least the 90 s ZEGO waits, less this, when the task was seen gone: room
 * polling learns of a departure up to an interval late, so the count starts late too.
 */
export const INPUTS_GONE_TOLERANCE_MS = 30_000;
/** Stops seen by polling and still waiting for their mix_stop, at most (older ones are decided first). */
const MAX_PENDING = 4;

/** A GetMixTaskInfo result, as zego/mix-response.ts reads it (failures carry nothing here). */
export type MixPollOutcome = { kind: 'active'; mixDurationSec: number } | { kind: 'not_found' } | { kind: 'failed' };

/**
 * The streams of the task's room when the poll was made: `gone` with (when known) since when
 * none is published; undefined when nobody knows (no room, or the room is not watched).
 */
export type MixInputs = { gone: true; sinceMs: number | null } | { gone: false };

export interface MixPoll {
  outcome: MixPollOutcome;
  /** Wall ms the request was sent. */
  sentAtMs: number;
  inputs?: MixInputs | undefined;
}

/** The output of a task, from its mix_start. */
export interface MixOutput {
  /** mix_stream_alias, else stream_alias: the stream viewers play. */
  streamId: string | null;
  playUrls: { rtmp: readonly string[]; hls: readonly string[]; hdl: readonly string[] };
}

export interface MixCallback {
  event: 'mix_start' | 'mix_stop';
  seq: number;
  /** The callback's `timestamp`, in ms. */
  atMs: number;
  roomId?: string | undefined;
  output?: MixOutput | undefined;
}

export interface MixTaskView {
  /** null until a poll or a callback said. */
  running: boolean | null;
  /** Seconds the running task has run at `nowMs`; null when not running. */
  durationSec: number | null;
  /** Whether the last poll answered (running or not); null before any. */
  probeSuccess: boolean | null;
  lastSuccessMs: number | null;
  roomId: string | null;
  output: MixOutput | null;
  stops: Record<MixStopReason, number>;
  /** Stops polling saw, still waiting for their mix_stop (the oldest first). */
  awaitingStopSinceMs: number[];
}

/** A stop counted: why, and when the run was seen to end. */
export interface MixStop {
  reason: MixStopReason;
  atMs: number;
}

interface Pending {
  sinceMs: number;
  inputs: MixInputs | undefined;
}

interface Applied {
  event: MixCallback['event'];
  atMs: number;
  seq: number;
}

export interface MixTaskStateOptions {
  stopWindowMs?: number;
}

export class MixTaskState {
  readonly #windowMs: number;
  #running: boolean | null = null;
  #startedAtMs: number | null = null;
  #probeSuccess: boolean | null = null;
  #lastSuccessMs: number | null = null;
  #lastPollSentMs = -Infinity;
  #lastCallback: Applied | null = null;
  #roomId: string | null = null;
  #output: MixOutput | null = null;
  #pending: Pending[] = [];
  readonly #stops: Record<MixStopReason, number> = { callback: 0, inputs_gone: 0, unannounced: 0 };

  constructor(opts: MixTaskStateOptions = {}) {
    this.#windowMs = opts.stopWindowMs ?? MIX_STOP_WINDOW_MS;
  }

  /** One GetMixTaskInfo answer. Returns the stops this decided (an old stop pushed out by a newer one). */
  poll(p: MixPoll): MixStop[] {
    if (p.outcome.kind === 'failed') {
      this.#probeSuccess = false;
      return [];
    }
    this.#probeSuccess = true;
    this.#lastSuccessMs = Math.max(this.#lastSuccessMs ?? -Infinity, p.sentAtMs);
    // Answers can come back out of order; only the latest sent speaks for the state.
    if (p.sentAtMs < this.#lastPollSentMs) return [];
    this.#lastPollSentMs = p.sentAtMs;
    const cb = this.#lastCallback;
    const contradicts = cb !== null && p.sentAtMs < cb.atMs + CALLBACK_SLACK_MS && (cb.event === 'mix_stop') === (p.outcome.kind === 'active');
    if (contradicts) return [];
    if (p.outcome.kind === 'active') {
      const impliedStartMs = p.sentAtMs - p.outcome.mixDurationSec * 1000;
      // Seen gone, yet running since before then: the "gone" was wrong, not a stop.
      this.#pending = this.#pending.filter((q) => impliedStartMs >= q.sinceMs - 1000);
      this.#running = true;
      this.#startedAtMs = impliedStartMs;
      return [];
    }
    for (const q of this.#pending) if (q.inputs === undefined && p.inputs !== undefined) q.inputs = p.inputs;
    const wasRunning = this.#running === true;
    this.#running = false;
    this.#startedAtMs = null;
    if (!wasRunning) return [];
    // A run ended and no mix_stop has said so (yet).
    this.#pending.push({ sinceMs: p.sentAtMs, inputs: p.inputs });
    const decided: MixStop[] = [];
    while (this.#pending.length > MAX_PENDING) decided.push(this.#decide(this.#pending.shift()!));
    return decided;
  }

  /** One mix_start / mix_stop (signature and replay already checked). Returns the stop it counted, if any. */
  callback(c: MixCallback): MixStop | null {
    if (c.roomId !== undefined) this.#roomId = c.roomId;
    if (c.event === 'mix_stop' && this.#pending.length > 0) {
      // The stop polling saw (the oldest first) was announced after all.
      const q = this.#pending.shift()!;
      this.#stops.callback++;
      this.#lastCallback = newer(c, this.#lastCallback);
      return { reason: 'callback', atMs: q.sinceMs };
    }
    if (this.#lastCallback !== null && newer(c, this.#lastCallback) !== c) return null;
    this.#lastCallback = c;
    // A poll sent well after the callback knows better than it.
    const pollIsNewer = this.#lastPollSentMs >= c.atMs + CALLBACK_SLACK_MS;
    if (c.event === 'mix_start') {
      if (c.output !== undefined) this.#output = c.output;
      if (pollIsNewer) return null;
      this.#running = true;
      this.#startedAtMs = c.atMs;
      return null;
    }
    if (pollIsNewer || this.#running === false) return null;
    this.#running = false;
    this.#startedAtMs = null;
    this.#stops.callback++;
    return { reason: 'callback', atMs: c.atMs };
  }

  /** Decides the stops whose mix_stop can no longer come (their window passed by `nowMs`). */
  settle(nowMs: number): MixStop[] {
    const decided: MixStop[] = [];
    while (this.#pending.length > 0 && nowMs >= this.#pending[0]!.sinceMs + this.#windowMs) decided.push(this.#decide(this.#pending.shift()!));
    return decided;
  }

  /** When the next settle() can decide something, or null. */
  nextDeadlineMs(): number | null {
    const first = this.#pending[0];
    return first === undefined ? null : first.sinceMs + this.#windowMs;
  }

  view(nowMs: number): MixTaskView {
    return {
      running: this.#running,
      durationSec: this.#running === true && this.#startedAtMs !== null ? Math.max(0, (nowMs - this.#startedAtMs) / 1000) : null,
      probeSuccess: this.#probeSuccess,
      lastSuccessMs: this.#lastSuccessMs,
      roomId: this.#roomId,
      output: this.#output,
      stops: { ...this.#stops },
      awaitingStopSinceMs: this.#pending.map((q) => q.sinceMs),
    };
  }

  #decide(q: Pending): MixStop {
    const reason = inputsGoneBefore(q.inputs, q.sinceMs) ? 'inputs_gone' : 'unannounced';
    this.#stops[reason]++;
    return { reason, atMs: q.sinceMs };
  }
}

/**
 * Whether the task's inputs were gone long enough before it was seen gone for ZEGO to have ended
 * it: unknown inputs, or inputs gone too briefly, leave the crash as the reading (it is the one
 * only polling can see, and the one to alert on).
 */
function inputsGoneBefore(inputs: MixInputs | undefined, seenGoneMs: number): boolean {
  if (inputs === undefined || !inputs.gone) return false;
  return inputs.sinceMs === null || seenGoneMs - inputs.sinceMs >= MIX_INPUTS_GONE_END_MS - INPUTS_GONE_TOLERANCE_MS;
}

/**
 * The later of two callbacks: by timestamp (whole seconds), then by seq; on a tie the one that
 * arrived last wins, as it is the one the receiver saw last.
 */
function newer<T extends Applied>(a: T, b: Applied | null): T | Applied {
  if (b === null) return a;
  if (a.atMs !== b.atMs) return a.atMs > b.atMs ? a : b;
  return a.seq >= b.seq ? a : b;
}
