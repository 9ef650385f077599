import type { SimAction } from './api.js';
import type { TransportFault } from './faults.js';

export interface WindowPeaks {
  /** Peak arrivals in any 1 s window, counting only those the limiter let through. */
  admitted: number;
  /** Peak arrivals in any 1 s window, throttled ones included. */
  all: number;
}

/** One API's arrivals and its own rate window. */
export interface ApiStats {
  arrivals: number;
  accepted: number;
  throttled: number;
  /** Max over this API's (AppId, environment) windows. */
  peakWindow: WindowPeaks;
}

export interface SimStats {
  /** Every request to the API path, whatever its AppId. */
  arrivals: number;
  /** Arrivals for a known AppId that the rate limiter let through (they may still fail later checks). */
  accepted: number;
  /** Arrivals for a known AppId answered 30002 by the rate limiter itself (not by `forceCode`). */
  throttled: number;
  sequenceViolations: number;
  /** DescribeRTCStreamState only (as before rooms): max over its (AppId, environment) windows; see `apis`. */
  peakWindow: WindowPeaks;
  /**
   * Keyed `<AppId>:production` / `<AppId>:test` for DescribeRTCStreamState and
   * `<AppId>:<env>:<Action>` for the room APIs.
   */
  windows: Record<string, WindowPeaks>;
  /** Arrivals per StreamId exactly as sent (rejected and throttled ones included). */
  streamCalls: Record<string, number>;
  /** Business Codes sent in (or computed for) JSON envelopes, keyed by Code. */
  codes: Record<string, number>;
  /** Injected faults; `forced` counts envelopes replaced by `forceCode`, `listFailure` Code 154 answers, `mixFailure` Code 110200001 ones. */
  faults: Record<TransportFault | 'forced' | 'listFailure' | 'mixFailure', number>;
  /** Per API (unknown Actions count as DescribeRTCStreamState, whose window they use). */
  apis: Record<SimAction, ApiStats>;
  /** DescribeSimpleStreamList arrivals for a room within 10 s of the previous one for it. */
  roomRuleViolations: number;
  /** DescribeSimpleStreamList arrivals per RoomId as sent. */
  roomListCalls: Record<string, number>;
  /** Rooms carried by DescribeUserNum calls that passed validation (÷ their count = rooms a call). */
  userNumRooms: number;
  userNumCalls: number;
  /** GetMixTaskInfo calls per TaskId that passed validation. */
  mixTaskCalls: Record<string, number>;
  /** Arrivals without an IsTest parameter (whatever the project requires): a client that always sends it keeps this at 0. */
  missingIsTest: number;
}

function apiStats(): ApiStats {
  return { arrivals: 0, accepted: 0, throttled: 0, peakWindow: { admitted: 0, all: 0 } };
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
    faults: { http500: 0, badJson: 0, reset: 0, hang: 0, forced: 0, listFailure: 0, mixFailure: 0 },
    apis: { DescribeRTCStreamState: apiStats(), DescribeSimpleStreamList: apiStats(), DescribeUserNum: apiStats(), GetMixTaskInfo: apiStats() },
    roomRuleViolations: 0,
    roomListCalls: {},
    userNumRooms: 0,
    userNumCalls: 0,
    mixTaskCalls: {},
    missingIsTest: 0,
  };
}

export class StatsCollector {
  #s = emptyStats();

  arrival(q: URLSearchParams, action: SimAction): void {
    this.#s.arrivals++;
    this.#s.apis[action].arrivals++;
    if (!q.has('IsTest')) this.#s.missingIsTest++;
    const streamId = q.get('StreamId');
    if (streamId !== null) this.#s.streamCalls[streamId] = (this.#s.streamCalls[streamId] ?? 0) + 1;
    const roomId = q.get('RoomId');
    if (action === 'DescribeSimpleStreamList' && roomId !== null) this.#s.roomListCalls[roomId] = (this.#s.roomListCalls[roomId] ?? 0) + 1;
  }

  admission(key: string, action: SimAction, throttled: boolean, countAll: number, countAdmitted: number): void {
    const api = this.#s.apis[action];
    if (throttled) {
      this.#s.throttled++;
      api.throttled++;
    } else {
      this.#s.accepted++;
      api.accepted++;
    }
    const w = (this.#s.windows[key] ??= { admitted: 0, all: 0 });
    w.all = Math.max(w.all, countAll);
    w.admitted = Math.max(w.admitted, countAdmitted);
    api.peakWindow.all = Math.max(api.peakWindow.all, countAll);
    api.peakWindow.admitted = Math.max(api.peakWindow.admitted, countAdmitted);
    if (action !== 'DescribeRTCStreamState') return;
    this.#s.peakWindow.all = Math.max(this.#s.peakWindow.all, countAll);
    this.#s.peakWindow.admitted = Math.max(this.#s.peakWindow.admitted, countAdmitted);
  }

  roomRuleViolation(): void {
    this.#s.roomRuleViolations++;
  }

  userNumRooms(rooms: number): void {
    this.#s.userNumCalls++;
    this.#s.userNumRooms += rooms;
  }

  mixTaskCall(taskId: string): void {
    this.#s.mixTaskCalls[taskId] = (this.#s.mixTaskCalls[taskId] ?? 0) + 1;
  }

  code(code: number): void {
    const k = String(code);
    this.#s.codes[k] = (this.#s.codes[k] ?? 0) + 1;
  }

  sequenceViolation(): void {
    this.#s.sequenceViolations++;
  }

  fault(kind: TransportFault | 'forced' | 'listFailure' | 'mixFailure'): void {
    this.#s.faults[kind]++;
  }

  snapshot(): SimStats {
    return structuredClone(this.#s);
  }

  reset(): void {
    this.#s = emptyStats();
  }
}
