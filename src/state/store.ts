import type { Logger } from 'pino';
import type { ProbeResult } from '../zego/client.js';

export interface WatchedStream {
  id: string;
  intervalMs: number;
  labels: Readonly<Record<string, string>>;
}

/** What we know of one stream. `active === null` until a probe first succeeds. */
export interface StreamState {
  readonly id: string;
  labels: Readonly<Record<string, string>>;
  intervalMs: number;
  active: boolean | null;
  notFound: boolean;
  /** Unix seconds, while active and known. */
  createTimeSec: number | null;
  closeTimeSec: number | null;
  /** null until the first probe completes. */
  probeSuccess: boolean | null;
  lastProbeMs: number | null;
  lastSuccessMs: number | null;
  lastCode: string | null;
  lastError: string | null;
  /** Where the current state came from (callbacks add a second source). */
  source: 'probe' | null;
  changedAtMs: number | null;
}

export interface StoreOptions {
  logger: Logger;
  now?: () => number;
}

/**
 * Per-stream state. Only known outcomes (active / closed / not found) change what we know: a failed
 * probe marks the probe failed and keeps the last known state, so an API hiccup never shows a
 * stream as down. Logs one info line per state change.
 */
export class StateStore {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #streams = new Map<string, StreamState>();

  constructor(opts: StoreOptions) {
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
  }

  /** Kept streams keep their state; removed ones are gone at once; added ones start unknown. */
  setStreams(watched: readonly WatchedStream[]): void {
    const ids = new Set(watched.map((w) => w.id));
    for (const id of this.#streams.keys()) if (!ids.has(id)) this.#streams.delete(id);
    for (const w of watched) {
      const s = this.#streams.get(w.id);
      if (s) {
        s.labels = w.labels;
        s.intervalMs = w.intervalMs;
      } else {
        this.#streams.set(w.id, {
          id: w.id,
          labels: w.labels,
          intervalMs: w.intervalMs,
          active: null,
          notFound: false,
          createTimeSec: null,
          closeTimeSec: null,
          probeSuccess: null,
          lastProbeMs: null,
          lastSuccessMs: null,
          lastCode: null,
          lastError: null,
          source: null,
          changedAtMs: null,
        });
      }
    }
  }

  /** `atMs`: when the probe's answer came, for a result another replica probed (default now). */
  applyProbe(id: string, result: ProbeResult, atMs?: number): void {
    const s = this.#streams.get(id);
    if (!s) return; // removed while its call was in flight
    const now = atMs ?? this.#now();
    const o = result.outcome;
    s.lastProbeMs = now;
    s.lastCode = result.code;
    if (o.kind === 'failed') {
      s.probeSuccess = false;
      s.lastError = o.message;
      return;
    }
    s.probeSuccess = true;
    s.lastSuccessMs = now;
    s.lastError = null;
    const wasActive = s.active;
    const wasNotFound = s.notFound;
    s.active = o.kind === 'active';
    s.notFound = o.kind === 'not_found';
    s.createTimeSec = o.kind === 'active' ? o.createTimeSec : null;
    s.closeTimeSec = o.kind === 'closed' ? o.closeTimeSec : null;
    s.source = 'probe';
    if (wasActive !== s.active || wasNotFound !== s.notFound) {
      s.changedAtMs = now;
      this.#logChange(s, wasActive, result.code);
    }
  }

  get(id: string): Readonly<StreamState> | undefined {
    return this.#streams.get(id);
  }

  /** Live view for the metrics and the landing page: read, never written, by them. */
  snapshot(): IterableIterator<Readonly<StreamState>> {
    return this.#streams.values();
  }

  get size(): number {
    return this.#streams.size;
  }

  #logChange(s: StreamState, wasActive: boolean | null, code: string): void {
    const fields = { stream_id: s.id, code, outcome: s.active ? 'active' : s.notFound ? 'not_found' : 'closed', source: 'probe' };
    if (s.active) {
      this.#log.info({ ...fields, create_time: s.createTimeSec }, wasActive === null ? 'stream is up' : 'stream went up');
    } else if (s.notFound) {
      this.#log.info(fields, 'stream not found');
    } else {
      this.#log.info({ ...fields, close_time: s.closeTimeSec }, wasActive === true ? 'stream went down' : 'stream is down');
    }
  }
}
