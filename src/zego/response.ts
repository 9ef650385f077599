import { classifyCode, codeLabel as labelOf } from './codes.js';
import type { ProbeOutcome } from './outcome.js';
import { isPlausibleTimeMs, parseApiTime } from './time.js';

export interface ParsedResponse {
  outcome: ProbeOutcome;
  /** The `code` label: the ZEGO Code, or what went wrong before one could be read. */
  code: string;
  requestId?: string;
}

/**
 * Turns any HTTP status and body into an outcome; never throws. A reply without a numeric Code is
 * `bad_response`, whatever else it holds, because guessing a state from it could flip a stream.
 */
export function parseResponse(status: number, body: string, nowMs: number = Date.now()): ParsedResponse {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  const envelope = isRecord(json) ? json : undefined;
  const code = envelope ? readCode(envelope['Code']) : undefined;

  if (code === undefined) {
    if (status >= 500) return failed(`http_${Math.floor(status / 100)}xx`, 'transient', `HTTP ${status}`);
    if (status === 429) return failed('http_429', 'throttled', 'HTTP 429');
    return failed('bad_response', 'error', `HTTP ${status}: response has no numeric Code`);
  }

  const message = typeof envelope?.['Message'] === 'string' ? envelope['Message'] : '';
  const requestId = typeof envelope?.['RequestId'] === 'string' ? envelope['RequestId'] : undefined;
  const data = isRecord(envelope?.['Data']) ? envelope['Data'] : {};
  const cls = classifyCode(code);
  const codeLabel = labelOf(code);
  const base = requestId === undefined ? {} : { requestId };

  switch (cls) {
    case 'active': {
      const createTimeSec = parseApiTime(data['create_time']);
      const bad = implausible(nowMs, ['create_time', createTimeSec]);
      if (bad) return { ...base, ...bad };
      return { ...base, code: codeLabel, outcome: { kind: 'active', createTimeSec } };
    }
    case 'closed': {
      const createTimeSec = parseApiTime(data['create_time']);
      const closeTimeSec = parseApiTime(data['close_time']);
      const bad = implausible(nowMs, ['create_time', createTimeSec], ['close_time', closeTimeSec]);
      if (bad) return { ...base, ...bad };
      return { ...base, code: codeLabel, outcome: { kind: 'closed', createTimeSec, closeTimeSec } };
    }
    case 'not_found':
      return { ...base, code: codeLabel, outcome: { kind: 'not_found' } };
    default:
      return { ...base, code: codeLabel, outcome: { kind: 'failed', reason: cls, message: `Code ${code}: ${message}`.trim() } };
  }
}

/**
 * A time outside the plausible window makes the whole answer a bad response: shown, it would be
 * decades of uptime or a start in the future, and a server that sends it cannot be trusted about
 * the state either.
 */
function implausible(nowMs: number, ...times: [string, number | null][]): ParsedResponse | null {
  for (const [name, sec] of times) {
    if (sec !== null && !isPlausibleTimeMs(sec * 1000, nowMs)) {
      return failed('bad_response', 'error', `${name} ${sec} s is outside the plausible window (2015 to one day ahead)`);
    }
  }
  return null;
}

function failed(code: string, reason: 'transient' | 'throttled' | 'error', message: string): ParsedResponse {
  return { code, outcome: { kind: 'failed', reason, message } };
}

function readCode(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Number(v);
  return undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
