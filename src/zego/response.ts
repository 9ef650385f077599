import { classifyCode } from './codes.js';
import type { ProbeOutcome } from './outcome.js';
import { parseApiTime } from './time.js';

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
export function parseResponse(status: number, body: string): ParsedResponse {
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
  // Unknown codes become label values; a server sending absurd ones must not grow the series set.
  const codeLabel = cls === 'error' && (code < 0 || code > 999_999_999) ? 'invalid' : String(code);
  const base = requestId === undefined ? {} : { requestId };

  switch (cls) {
    case 'active':
      return { ...base, code: codeLabel, outcome: { kind: 'active', createTimeSec: parseApiTime(data['create_time']) } };
    case 'closed':
      return {
        ...base,
        code: codeLabel,
        outcome: {
          kind: 'closed',
          createTimeSec: parseApiTime(data['create_time']),
          closeTimeSec: parseApiTime(data['close_time']),
        },
      };
    case 'not_found':
      return { ...base, code: codeLabel, outcome: { kind: 'not_found' } };
    default:
      return { ...base, code: codeLabel, outcome: { kind: 'failed', reason: cls, message: `Code ${code}: ${message}`.trim() } };
  }
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
