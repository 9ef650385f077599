/**
 * The one type for what a probe learned. Produced in zego/, consumed in state/ and the scheduler;
 * nothing outside zego/ interprets ZEGO codes.
 */
export type ProbeOutcome =
  | { kind: 'active'; createTimeSec: number | null }
  | { kind: 'closed'; createTimeSec: number | null; closeTimeSec: number | null }
  | { kind: 'not_found' }
  | { kind: 'failed'; reason: FailureReason; message: string };

/** One probe: what it learned, the code it got and when it was sent. */
export interface ProbeResult {
  outcome: ProbeOutcome;
  /** ZEGO Code as a string, or timeout / network / http_5xx / bad_response. */
  code: string;
  /** Wall-clock ms when the request was handed to the network. */
  sentAtMs: number;
  durationMs: number;
  requestId?: string;
}

/**
 * Why a probe told us nothing about the stream. `throttled`, `clock_skew`, `auth` and `config`
 * concern the whole AppID; `stream_config` only this stream; `transient` and `error` are
 * worth retrying at the normal pace.
 */
export type FailureReason = 'throttled' | 'clock_skew' | 'auth' | 'config' | 'stream_config' | 'transient' | 'error';

/** The `outcome` label of zego_exporter_api_requests_total. */
export type OutcomeLabel = 'active' | 'closed' | 'not_found' | FailureReason;

export function outcomeLabel(o: ProbeOutcome): OutcomeLabel {
  return o.kind === 'failed' ? o.reason : o.kind;
}
