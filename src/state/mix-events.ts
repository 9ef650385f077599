import { MIX_STOP_WINDOW_MS, type MixCallback, type MixTaskView } from './mix-tasks.js';

/**
 * The core's hand-off for mix tasks between the parts and the core: the callbacks part, which
 * receives and verifies mix_start / mix_stop, applies them here; the mix part, which keeps the
 * tasks, handles them. The discovery service watches a task a mix_start discovered through the
 * watcher the mix part sets, and learns when one ended through `changed`. Nobody imports anybody,
 * as streams' callbacks reach the store without knowing who probes.
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

/** What the mix part does for the discovery service (the mix_task kind's hooks, discovery/discovered.ts). */
export interface MixTaskWatcher {
  /** Watch a discovered task (its id as ZEGO's task_id gave it); for one watched already, its labels follow. */
  watch(id: string, labels: Readonly<Record<string, string>>): void;
  /** No source holds it any more and the config does not list it. */
  unwatch(id: string): void;
  /** When it ended (ms): not running and no stop left to decide; null otherwise. */
  endedAt(id: string): number | null;
}

export interface MixEventsOptions {
  /** A discovered task's end changed (it ended, or runs again): the discovery service re-times it. */
  changed?: (id: string) => void;
  /** How long after polling saw a task gone its mix_stop may still come (shorter only under test-clock.ts's knob). */
  stopWindowMs?: number;
}

export class MixEvents {
  #handler: MixHandler | null = null;
  #watcher: MixTaskWatcher | null = null;
  #lookup: MixTaskLookup | null = null;
  readonly #changed: (id: string) => void;
  /** How long after polling saw a task gone its mix_stop may still come: ZEGO's retry window plus margin (shorter only under test-clock.ts's knob). */
  readonly stopWindowMs: number;

  constructor(opts: MixEventsOptions = {}) {
    this.#changed = opts.changed ?? (() => undefined);
    this.stopWindowMs = opts.stopWindowMs ?? MIX_STOP_WINDOW_MS;
  }

  /** The mix part's handler (one: the last set wins). */
  handle(fn: MixHandler): void {
    this.#handler = fn;
  }

  /** Unwatched while no part handles mix tasks. */
  apply(e: MixCallbackEvent, receivedAtMs: number): MixApply {
    return this.#handler?.(e, receivedAtMs) ?? 'unwatched';
  }

  /** The mix part's watcher (one: the last set wins). */
  watchWith(w: MixTaskWatcher): void {
    this.#watcher = w;
  }

  /** The discovery service's hooks for the mix_task kind: inert while no part keeps mix tasks. */
  readonly hooks: MixTaskWatcher = {
    watch: (id, labels) => this.#watcher?.watch(id, labels),
    unwatch: (id) => this.#watcher?.unwatch(id),
    endedAt: (id) => this.#watcher?.endedAt(id) ?? null,
  };

  /** Called by the mix part when a discovered task ended or runs again. */
  changed(id: string): void {
    this.#changed(id);
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
