import type { Budget } from '../scheduler/budget.js';
import type { FailedOutcome } from '../zego/outcome.js';

/** What an answer says about the API's budget (AIMD per API) and the credentials, as the stream prober reads it. */
export function feedback(budget: Budget, outcome: { kind: 'ok' } | FailedOutcome): void {
  if (outcome.kind === 'failed' && outcome.reason === 'throttled') return budget.noteThrottled();
  budget.noteAccepted();
  if (outcome.kind === 'failed' && (outcome.reason === 'auth' || outcome.reason === 'config')) budget.setSlowMode(true);
  else if (outcome.kind !== 'failed') budget.setSlowMode(false);
}
