import { afterAll, describe, expect, it } from 'vitest';
import { startFleetHarness, type FleetHarness } from '../../bench/callbacks-fleet.js';
import { TEST_CLOCK_ENV } from '../../src/test-clock.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * ZEGO's Sequence must rise strictly per stream within 10 s, whichever replica sends. Three real
 * processes probe the same 6 streams every second through one fleet budget; one runs its clock
 * 5 s ahead (the test hook), so a per-process counter from the host clock would send values the
 * others then undercut. The strict simulator counts every breach.
 */
describe('Sequence fleet-wide (3 real processes, one clock 5 s ahead)', () => {
  let h: FleetHarness | undefined;
  afterAll(async () => {
    await h?.stop();
  });

  it('no Sequence breach in ~6 s of probing the same streams from every replica', async () => {
    const streams = Array.from({ length: 6 }, (_, i) => `seq-${i}`);
    h = await startFleetHarness(3, streams, {
      intervalMs: 1000,
      rate: 10,
      env: (i): Record<string, string> => (i === 0 ? { [TEST_CLOCK_ENV]: '5000' } : {}),
    });
    expect(h.replicas[0]!.logs().some((l) => l.msg.startsWith('test clock offset in effect'))).toBe(true);
    // 6 s is ~60 calls, each stream through every replica's hands several times: a breach comes
    // at the first hand-over after the replica 5 s ahead (80 in 12 s without the fleet Sequence).
    await sleep(6_000);
    const s = h.sim.stats();
    // Every replica took part: each stream went through several processes' hands.
    expect(s.accepted).toBeGreaterThan(40);
    expect(s.sequenceViolations).toBe(0);
    expect(s.codes['30010'] ?? 0).toBe(0);
  }, 40_000);
});
