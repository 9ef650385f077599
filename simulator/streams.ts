import { isValidStreamId } from '../src/zego/protocol.js';

/** A stream as the API reports it. Times are Unix seconds. */
export type StreamState = { state: 'active'; createTime: number } | { state: 'closed'; createTime: number; closeTime: number };

export class StreamStateError extends Error {
  override name = 'StreamStateError';
}

function isUnixSeconds(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function validateStreamState(s: StreamState): StreamState {
  if (s.state === 'active') {
    if (!isUnixSeconds(s.createTime)) throw new StreamStateError('createTime must be Unix seconds');
    return { state: 'active', createTime: s.createTime };
  }
  if (s.state === 'closed') {
    if (!isUnixSeconds(s.createTime) || !isUnixSeconds(s.closeTime)) {
      throw new StreamStateError('createTime and closeTime must be Unix seconds');
    }
    return { state: 'closed', createTime: s.createTime, closeTime: s.closeTime };
  }
  throw new StreamStateError('state must be "active" or "closed"');
}

/**
 * The stream table, keyed by the id exactly as the API receives it (test-environment ids carry
 * their `zegotest-<AppId>-` prefix), so a client that forgets the prefix finds nothing.
 */
export class StreamTable {
  readonly #streams = new Map<string, StreamState>();
  /** Told every state a stream takes (the simulator's own callbacks follow the table through it). */
  onChange: ((id: string, state: StreamState) => void) | null = null;

  get(id: string): StreamState | undefined {
    return this.#streams.get(id);
  }

  set(id: string, state: StreamState): void {
    if (!isValidStreamId(id)) throw new StreamStateError(`invalid stream id: ${JSON.stringify(id)}`);
    const valid = validateStreamState(state);
    this.#streams.set(id, valid);
    this.onChange?.(id, { ...valid });
  }

  delete(id: string): boolean {
    return this.#streams.delete(id);
  }

  snapshot(): Record<string, StreamState> {
    const out: Record<string, StreamState> = {};
    for (const [id, s] of this.#streams) out[id] = { ...s };
    return out;
  }

  /**
   * The control endpoint's transition: times come from the simulator's clock, and an already
   * active stream keeps its create_time (a real stream doesn't restart because someone looked).
   */
  transition(id: string, target: 'active' | 'closed', nowSec: number): StreamState {
    const prev = this.#streams.get(id);
    let next: StreamState;
    if (target === 'active') {
      next = prev?.state === 'active' ? prev : { state: 'active', createTime: nowSec };
    } else if (prev?.state === 'closed') {
      next = prev;
    } else {
      next = { state: 'closed', createTime: prev?.createTime ?? nowSec, closeTime: nowSec };
    }
    this.set(id, next);
    return { ...next };
  }
}

// ---- scripted demo -------------------------------------------------------------------------

export interface DemoTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

interface DemoTarget {
  setStream(id: string, state: StreamState): void;
}

export interface DemoScriptOptions {
  /** Number of streams: demo-1..demo-N. */
  count: number;
  /** Maps the demo name to the id stored in the table (e.g. adds the test-environment prefix). */
  idFor?: (name: string) => string;
  /** How often the schedule is re-evaluated. */
  tickMs?: number;
  timers?: DemoTimers;
  /** Unix seconds, for create/close times (the simulator's clock, so times match its `Date`). */
  nowSec?: () => number;
}

export interface DemoScript {
  stop(): void;
}

/**
 * Whether demo stream `index` (1-based) is up `elapsedSec` seconds into the script. Each stream has
 * its own period (20..50 s) and phase so flips are spread out and a dashboard shows a mix; the
 * schedule is a pure function of time so two runs of the demo look the same.
 */
export function demoIsUp(index: number, elapsedSec: number): boolean {
  const halfPeriod = 20 + ((index * 7) % 4) * 10;
  const phase = (index * 13) % halfPeriod;
  return Math.floor((elapsedSec + phase) / halfPeriod) % 2 === 0;
}

export function startDemoScript(sim: DemoTarget, opts: DemoScriptOptions): DemoScript {
  if (!Number.isInteger(opts.count) || opts.count < 0) throw new RangeError('count must be a non-negative integer');
  const idFor = opts.idFor ?? ((name: string) => name);
  const tickMs = opts.tickMs ?? 1000;
  const timers: DemoTimers = opts.timers ?? {
    setInterval: (fn, ms) => setInterval(fn, ms),
    clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
  };
  const nowSec = opts.nowSec ?? (() => Math.floor(Date.now() / 1000));
  const up: boolean[] = [];
  const created: number[] = [];
  let ticks = 0;

  const apply = (): void => {
    const elapsedSec = Math.floor((ticks * tickMs) / 1000);
    const now = nowSec();
    for (let i = 1; i <= opts.count; i++) {
      const want = demoIsUp(i, elapsedSec);
      if (up[i] === want) continue;
      up[i] = want;
      const id = idFor(`demo-${i}`);
      if (want) {
        created[i] = now;
        sim.setStream(id, { state: 'active', createTime: now });
      } else {
        sim.setStream(id, { state: 'closed', createTime: created[i] ?? now, closeTime: now });
      }
    }
  };

  apply();
  const handle = timers.setInterval(() => {
    ticks++;
    apply();
  }, tickMs);
  return { stop: () => timers.clearInterval(handle) };
}
