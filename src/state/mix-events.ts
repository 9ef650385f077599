import { MIX_STOP_WINDOW_MS, type MixCallback } from './mix-tasks.js';

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

export class MixEvents {
  #handler: MixHandler | null = null;

  /** How long after polling saw a task gone its mix_stop may still come: ZEGO's retry window plus margin (shorter only under test-clock.ts's knob). */
  constructor(readonly stopWindowMs: number = MIX_STOP_WINDOW_MS) {}

  /** The mix part's handler (one: the last set wins). */
  handle(fn: MixHandler): void {
    this.#handler = fn;
  }

  /** Unwatched while no part handles mix tasks. */
  apply(e: MixCallbackEvent, receivedAtMs: number): MixApply {
    return this.#handler?.(e, receivedAtMs) ?? 'unwatched';
  }
}
