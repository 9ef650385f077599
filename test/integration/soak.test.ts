import { describe, expect, it } from 'vitest';
import { printSoak, soak, soakProblems } from '../../bench/soak.js';

/**
 * 30 s with a reload every second and a fault phase every 2 s: the exporter goes through the same
 * number of reloads (≥ 16) and fault phases (≥ 9, every phase at least once) as the 60 s form did
 * with 3 s and 5 s, so a leak per reload or per fault shows as before; the scrape and call counts
 * keep their share of the window (≥ 23 scrapes of ~30, > 13 accepted calls/s).
 */
describe('soak (CI short form of npm run soak)', () => {
  it('30 s at full budget with faults cycling every 2 s and a reload every second: every scrape answered, no leak, no unhandled rejection', async () => {
    const r = await soak({ durationSec: 30, reloadEverySec: 1, faultEverySec: 2 });
    printSoak(r);
    expect(soakProblems(r, false)).toEqual([]);
    expect(r.scrapes).toBeGreaterThanOrEqual(23);
    expect(r.reloads).toBeGreaterThanOrEqual(16);
    expect(r.faultPhases).toBeGreaterThanOrEqual(9);
    expect(r.accepted).toBeGreaterThan(40 * 10);
  }, 60_000);
});
