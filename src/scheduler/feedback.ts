import type { FailedOutcome } from '../zego/outcome.js';
import type { Budget } from './budget.js';

/**
 * What an answer says about its API's budget (AIMD per API) and the credentials, for every API:
 * `throttled` (the AppID's limit) backs the budget off; anything else answered counts as accepted,
 * `room_throttled` included (one room's limit says nothing of the API's); `auth` and `config`
 * slow the API down until it answers again, since no retry can fix them.
 */
export function feedback(budget: Budget, outcome: { kind: string } | FailedOutcome): void {
  if (isFailed(outcome) && outcome.reason === 'throttled') return budget.noteThrottled();
  budget.noteAccepted();
  if (isFailed(outcome) && (outcome.reason === 'auth' || outcome.reason === 'config')) budget.setSlowMode(true);
  else if (!isFailed(outcome)) budget.setSlowMode(false);
}

function isFailed(o: { kind: string } | FailedOutcome): o is FailedOutcome {
  return o.kind === 'failed';
}
