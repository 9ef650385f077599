import { classify, codeLabel } from './codes.js';
import { mixTaskIdCandidates } from './mix.js';
import type { FailedOutcome, FailureReason } from './outcome.js';
import { readEnvelope, type Parsed } from './response.js';

/**
 * GetMixTaskInfo for one task. `active`: the task runs, `mixDurationSec` its age as ZEGO reports
 * it (whole seconds); `not_found`: 110209001, the task does not exist (ended, crashed or never
 * started). The kinds are the outcome labels the stream API uses for the same two readings.
 */
export type MixTaskOutcome = { kind: 'active'; mixDurationSec: number } | { kind: 'not_found' } | FailedOutcome;

/**
 * MixDuration is an int32 of seconds; a task older than ten years is a broken answer, not a show
 * (ZEGO's mixing service is younger than that).
 */
export const MAX_PLAUSIBLE_MIX_DURATION_SEC = 10 * 365 * 86_400;

/**
 * GetMixTaskInfo: any HTTP status and body → an outcome; never throws. `taskId` is the id asked
 * for; `appId` lets a `Data.TaskInfo.TaskId` carrying the AppID prefix (as callbacks do) match it.
 * Code 0 must carry `Data.TaskInfo` with a `MixDuration` that is a non-negative integer (a digit
 * string is read too) and, when present, a `TaskId` naming the task asked for; anything else is
 * `bad_response`, because a running task with a made-up age, or another task's answer, would be
 * shown as this one.
 */
export function parseMixTaskInfoResponse(status: number, body: string, taskId: string, appId: number): Parsed<MixTaskOutcome> {
  const read = readEnvelope(status, body);
  if (!read.ok) return read.failed;
  const { code, message, requestId, data } = read.envelope;
  const base = requestId === undefined ? {} : { requestId };
  const label = codeLabel('GetMixTaskInfo', code);
  const cls = classify('GetMixTaskInfo', code);
  if (cls === 'not_found') return { ...base, code: label, outcome: { kind: 'not_found' } };
  if (cls !== 'active') {
    // Readings of other families never reach here (the table keeps them apart); an error if they did.
    const reason: FailureReason = cls === 'closed' || cls === 'ok' || cls === 'room_absent' ? 'error' : cls;
    return { ...base, code: label, outcome: { kind: 'failed', reason, message: `Code ${code}: ${clip(message)}`.trim() } };
  }
  const info = data['TaskInfo'];
  if (!isRecord(info)) return { ...base, ...bad('Data.TaskInfo is not an object') };
  const given = info['TaskId'];
  if (given !== undefined) {
    if (typeof given !== 'string') return { ...base, ...bad('Data.TaskInfo.TaskId is not a string') };
    if (given !== taskId && !mixTaskIdCandidates(given, appId).includes(taskId))
      return { ...base, ...bad(`Data.TaskInfo.TaskId ${JSON.stringify(clip(given))} is not the task asked for`) };
  }
  const mixDurationSec = readSeconds(info['MixDuration']);
  if (mixDurationSec === undefined) return { ...base, ...bad('Data.TaskInfo.MixDuration is not a non-negative integer of seconds') };
  if (mixDurationSec > MAX_PLAUSIBLE_MIX_DURATION_SEC)
    return { ...base, ...bad(`Data.TaskInfo.MixDuration ${mixDurationSec} s is above ${MAX_PLAUSIBLE_MIX_DURATION_SEC} s (ten years)`) };
  return { ...base, code: label, outcome: { kind: 'active', mixDurationSec } };
}

function bad(message: string): Parsed<FailedOutcome> {
  return { code: 'bad_response', outcome: { kind: 'failed', reason: 'error', message } };
}

function readSeconds(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v === 0 ? 0 : v; // -0 reads 0
  if (typeof v === 'string' && /^\d{1,12}$/.test(v.trim())) return Number(v);
  return undefined;
}

/** Text from a server goes into messages clipped: a hostile one must not fill the log. */
function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
