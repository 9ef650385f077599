import type { MixCallback, MixTaskView } from './mix-tasks.js';

/**
 * The core's hand-off for mix_start / mix_stop: the callbacks part, which receives and verifies
 * them, applies them here; the mix part, which keeps the tasks, handles them. Neither imports the
 * other, as streams' callbacks reach the store without knowing who probes.
 */

/** One verified mix callback: `task_id` as ZEGO sent it (AppID prefix and all) and what it says. */
export interface MixCallbackEvent {
  rawTaskId: string;
  callback: MixCallback;
}

/** Whether a watched task took it. */
export type MixApply = 'accepted' | 'unwatched';

export type MixHandler = (e: MixCallbackEvent, receivedAtMs: number) => MixApply;

/** A watched task's state at `nowMs`; null when the task is not watched. */
export type MixTaskLookup = (taskId: string, nowMs: number) => MixTaskView | null;

export class MixEvents {
  #handler: MixHandler | null = null;
  #lookup: MixTaskLookup | null = null;

  /** The mix part's handler (one: the last set wins). */
  handle(fn: MixHandler): void {
    this.#handler = fn;
  }

  /** Unwatched while no part handles mix tasks. */
  apply(e: MixCallbackEvent, receivedAtMs: number): MixApply {
    return this.#handler?.(e, receivedAtMs) ?? 'unwatched';
  }

  /** The mix part's view of its tasks (one: the last set wins): what other parts read of a task, such as the outputs' diagnosis. */
  provide(fn: MixTaskLookup): void {
    this.#lookup = fn;
  }

  /** A watched task's state; null when no part keeps mix tasks or this one is not watched. */
  task(taskId: string, nowMs: number): MixTaskView | null {
    return this.#lookup?.(taskId, nowMs) ?? null;
  }
}
