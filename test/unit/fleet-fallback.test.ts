import { describe, expect, it } from 'vitest';
import { ACTIONS, limitOf } from '../../src/api/actions.js';

const API_RATE_LIMIT = limitOf(ACTIONS.DescribeRTCStreamState, false);
const API_STREAM_LIST_LIMIT = limitOf(ACTIONS.DescribeSimpleStreamList, false);
const API_USER_NUM_LIMIT = limitOf(ACTIONS.DescribeUserNum, false);
import { fallbackRate } from '../../src/fleet/fleet.js';
import { SequenceCounter } from '../../src/zego/sequence.js';

/** What holds while the fleet's Redis is away, and what does not (docs/fleet.md, "Without Redis"). */
describe('fleet without Redis', () => {
  it('the fallback rule: DescribeRTCStreamState runs at fallback_rate_limit, every other API at the same fraction of its budget', () => {
    // rate_limit 10, fallback_rate_limit 2: a fifth of every budget.
    expect(fallbackRate(10, 2, 10)).toBe(2);
    expect(fallbackRate(20, 2, 10)).toBe(4);
    expect(fallbackRate(5, 2, 10)).toBe(1);
    // Never below half a call a second (a budget must be able to send at all) unless fallback_rate_limit is.
    expect(fallbackRate(1, 2, 10)).toBe(0.5);
    expect(fallbackRate(1, 0.2, 10)).toBe(0.2);
    // Never above the budget itself, whatever fallback_rate_limit says.
    expect(fallbackRate(3, 50, 10)).toBe(3);
    expect(fallbackRate(10, 10, 10)).toBe(10);
  });

  it('replicas × fallback stays under every API limit when replicas × fallback_rate_limit ≤ rate_limit', () => {
    for (const rateLimit of [4, 10, 38, API_RATE_LIMIT]) {
      for (const replicas of [1, 2, 3, 5, 8]) {
        const fb = rateLimit / replicas;
        for (const [rate, limit] of [
          [rateLimit, API_RATE_LIMIT],
          [API_STREAM_LIST_LIMIT, API_STREAM_LIST_LIMIT],
          [API_USER_NUM_LIMIT, API_USER_NUM_LIMIT],
        ] as const) {
          expect(replicas * fallbackRate(rate, fb, rateLimit)).toBeLessThanOrEqual(limit + 1e-9);
        }
      }
    }
  });

  it("a replica's Sequence never goes below the last one the fleet handed out, even on a host clock far behind", () => {
    const host = new SequenceCounter(() => 1000);
    expect(host.next(5_000_000)).toBe('5000000');
    // Redis is away now: the local counter goes on from the fleet's number, not from the host's clock.
    expect(host.next()).toBe('5000001');
    expect(host.next()).toBe('5000002');
    expect(host.last).toBe(5_000_002);
  });

  it('what Redis cannot hold while away: two replicas in the same millisecond send the same Sequence (a tie ZEGO refuses for a stream both probe)', () => {
    const a = new SequenceCounter(() => 7000);
    const b = new SequenceCounter(() => 7000);
    expect(a.next()).toBe(b.next());
  });
});
