import { describe, expect, it } from 'vitest';
import { Budget } from '../../src/scheduler/budget.js';
import { feedback } from '../../src/scheduler/feedback.js';
import type { FailureReason } from '../../src/zego/outcome.js';

const failed = (reason: FailureReason) => ({ kind: 'failed' as const, reason, message: 'm' });

describe('what an answer says about its API budget (every API)', () => {
  it("a room's own limit (207, room_throttled) never backs the API's budget off; the AppID's (206/7, throttled) does", () => {
    let t = 1_700_000_000_000;
    const budget = new Budget({ rateLimit: 40, hardLimit: 50, now: () => t });
    for (let i = 0; i < 20; i++) {
      feedback(budget, failed('room_throttled'));
      t += 100;
    }
    expect(budget.effectiveRate).toBe(40);
    feedback(budget, failed('throttled'));
    expect(budget.effectiveRate).toBeLessThan(40);
  });

  it('a configuration or credential error slows the API down until it answers again', () => {
    const budget = new Budget({ rateLimit: 40, hardLimit: 50 });
    feedback(budget, failed('config'));
    expect(budget.effectiveRate).toBe(1);
    feedback(budget, failed('transient'));
    expect(budget.effectiveRate).toBe(1);
    feedback(budget, { kind: 'ok' });
    expect(budget.effectiveRate).toBe(40);
    feedback(budget, failed('auth'));
    expect(budget.effectiveRate).toBe(1);
  });
});
