/**
 * Misbehaviour the simulator can inject into API responses, changeable at runtime so a test (or
 * the demo) can flip a running server into a bad state and back.
 */
export interface Faults {
  /** Fixed delay before every API response. */
  latencyMs: number;
  /** Extra uniformly random delay in [0, jitterMs] on top of latencyMs. */
  jitterMs: number;
  /** Probability of an HTTP 500/502/503 with a non-JSON body (a gateway failure). */
  http500: number;
  /** Probability of an HTTP 200 whose body is not valid JSON. */
  badJson: number;
  /** Probability the socket is destroyed without any response. */
  reset: number;
  /** Probability the request is never answered (until the client gives up or the server closes). */
  hang: number;
  /** Another caller sharing the AppID eats budget: the effective limit drops to this. */
  throttleRate: number | null;
  /** The same for DescribeSimpleStreamList: another caller of the list API leaves this much of its AppID limit (answered 206, or 7). */
  listThrottleRate: number | null;
  /** Answer every API request with this Code (e.g. a 40005 or 30002 storm). */
  forceCode: number | null;
  /** Simulator wall clock = real wall clock + this (drives Timestamp checks and `Date`). */
  clockOffsetMs: number;
  /** Probability a DescribeSimpleStreamList that passed the rate limits answers Code 154 (transient). */
  listFailure: number;
  /** Probability a GetMixTaskInfo that passed the rate limit answers Code 110200001 (failed, retry). */
  mixFailure: number;
}

export const DEFAULT_FAULTS: Readonly<Faults> = Object.freeze({
  latencyMs: 0,
  jitterMs: 0,
  http500: 0,
  badJson: 0,
  reset: 0,
  hang: 0,
  throttleRate: null,
  listThrottleRate: null,
  forceCode: null,
  clockOffsetMs: 0,
  listFailure: 0,
  mixFailure: 0,
});

export type TransportFault = 'http500' | 'badJson' | 'reset' | 'hang';

/** A source of uniform numbers in [0, 1); injectable so fault sequences are reproducible. */
export type RandomSource = () => number;

export class FaultsError extends Error {
  override name = 'FaultsError';
}

const PROBABILITIES = ['http500', 'badJson', 'reset', 'hang', 'listFailure', 'mixFailure'] as const;
const DURATIONS = ['latencyMs', 'jitterMs'] as const;
const MAX_DELAY_MS = 600_000;

/**
 * Validates an untrusted partial (control endpoint body, CLI flag) field by field. Unknown keys
 * are rejected rather than ignored: a typo like `"latency": 500` silently doing nothing would
 * make a test pass for the wrong reason.
 */
export function parseFaultsPatch(input: unknown): Partial<Faults> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new FaultsError('faults must be a JSON object');
  }
  const out: Partial<Faults> = {};
  for (const [key, value] of Object.entries(input)) {
    if ((PROBABILITIES as readonly string[]).includes(key)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
        throw new FaultsError(`${key} must be a probability in [0, 1]`);
      }
      out[key as (typeof PROBABILITIES)[number]] = value;
    } else if ((DURATIONS as readonly string[]).includes(key)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_DELAY_MS) {
        throw new FaultsError(`${key} must be a number of ms in [0, ${MAX_DELAY_MS}]`);
      }
      out[key as (typeof DURATIONS)[number]] = value;
    } else if (key === 'throttleRate' || key === 'listThrottleRate') {
      if (value !== null && (typeof value !== 'number' || !Number.isInteger(value) || value < 0)) {
        throw new FaultsError(`${key} must be a non-negative integer or null`);
      }
      out[key] = value;
    } else if (key === 'forceCode') {
      if (value !== null && (typeof value !== 'number' || !Number.isSafeInteger(value))) {
        throw new FaultsError('forceCode must be an integer or null');
      }
      out.forceCode = value;
    } else if (key === 'clockOffsetMs') {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new FaultsError('clockOffsetMs must be a finite number');
      }
      out.clockOffsetMs = value;
    } else {
      throw new FaultsError(`unknown fault: ${key}`);
    }
  }
  return out;
}

/**
 * One draw decides the transport fault, so with probabilities p1..p4 the outcomes are mutually
 * exclusive and their rates are exactly p1..p4 (while the sum ≤ 1); the order of the cumulative
 * bands is fixed so an injected random sequence maps to a predictable outcome.
 */
export function rollTransportFault(faults: Faults, random: RandomSource): TransportFault | null {
  if (faults.http500 + faults.badJson + faults.reset + faults.hang === 0) return null;
  const r = random();
  let edge = 0;
  for (const kind of ['reset', 'hang', 'http500', 'badJson'] as const) {
    edge += faults[kind];
    if (r < edge) return kind;
  }
  return null;
}

export function responseDelayMs(faults: Faults, random: RandomSource): number {
  return faults.latencyMs + (faults.jitterMs > 0 ? random() * faults.jitterMs : 0);
}

const GATEWAY_STATUSES = [500, 502, 503] as const;

export function gatewayFailure(random: RandomSource): { status: number; body: string } {
  const status = GATEWAY_STATUSES[Math.min(2, Math.floor(random() * 3))] ?? 500;
  return { status, body: `<html><body><h1>${status}</h1>upstream error</body></html>\n` };
}

/** Bodies a client's JSON handling must survive without crashing or misreading a state. */
export function garbageBody(random: RandomSource, validJson: string): string {
  const variants = [
    validJson.slice(0, Math.max(1, Math.floor(validJson.length / 2))),
    '{"Code":0,"Message":"ok","Data":{"create_time":',
    'not json at all',
    '',
  ];
  return variants[Math.min(variants.length - 1, Math.floor(random() * variants.length))] ?? '';
}
