import type { TransportFault } from './faults.js';

export interface WindowPeaks {
  /** Peak arrivals in any 1 s window, counting only those the limiter let through. */
  admitted: number;
  /** Peak arrivals in any 1 s window, throttled ones included. */
  all: number;
}

export interface SimStats {
  /** Every request to the API path, whatever its AppId. */
  arrivals: number;
  /** Arrivals for a known AppId that the rate limiter let through (they may still fail later checks). */
  accepted: number;
  /** Arrivals for a known AppId answered 30002 by the rate limiter itself (not by `forceCode`). */
  throttled: number;
  sequenceViolations: number;
  /** Max over all (AppId, environment) windows. */
  peakWindow: WindowPeaks;
  /** Keyed `<AppId>:production` / `<AppId>:test`. */
  windows: Record<string, WindowPeaks>;
  /** Arrivals per StreamId exactly as sent (rejected and throttled ones included). */
  streamCalls: Record<string, number>;
  /** Business Codes sent in (or computed for) JSON envelopes, keyed by Code. */
  codes: Record<string, number>;
  /** Injected transport faults; `forced` counts envelopes replaced by `forceCode`. */
  faults: Record<TransportFault | 'forced', number>;
}

function emptyStats(): SimStats {
  return {
    arrivals: 0,
    accepted: 0,
    throttled: 0,
    sequenceViolations: 0,
    peakWindow: { admitted: 0, all: 0 },
    windows: {},
    streamCalls: {},
    codes: {},
    faults: { http500: 0, badJson: 0, reset: 0, hang: 0, forced: 0 },
  };
}

export class StatsCollector {
  #s = emptyStats();

  arrival(streamId: string | null): void {
    this.#s.arrivals++;
    if (streamId !== null) this.#s.streamCalls[streamId] = (this.#s.streamCalls[streamId] ?? 0) + 1;
  }

  admission(key: string, throttled: boolean, countAll: number, countAdmitted: number): void {
    if (throttled) this.#s.throttled++;
    else this.#s.accepted++;
    const w = (this.#s.windows[key] ??= { admitted: 0, all: 0 });
    w.all = Math.max(w.all, countAll);
    w.admitted = Math.max(w.admitted, countAdmitted);
    this.#s.peakWindow.all = Math.max(this.#s.peakWindow.all, countAll);
    this.#s.peakWindow.admitted = Math.max(this.#s.peakWindow.admitted, countAdmitted);
  }

  code(code: number): void {
    const k = String(code);
    this.#s.codes[k] = (this.#s.codes[k] ?? 0) + 1;
  }

  sequenceViolation(): void {
    this.#s.sequenceViolations++;
  }

  fault(kind: TransportFault | 'forced'): void {
    this.#s.faults[kind]++;
  }

  snapshot(): SimStats {
    return structuredClone(this.#s);
  }

  reset(): void {
    this.#s = emptyStats();
  }
}
