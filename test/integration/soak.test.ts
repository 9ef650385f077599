import { describe, expect, it } from 'vitest';
import { printSoak, soak, soakProblems } from '../../bench/soak.js';

describe('soak (CI short form of npm run soak)', () => {
  it('60 s at full budget with faults cycling and reloads every 3 s: every scrape answered, no leak, no unhandled rejection', async () => {
    const r = await soak({ durationSec: 60 });
    printSoak(r);
    expect(soakProblems(r, false)).toEqual([]);
    expect(r.scrapes).toBeGreaterThanOrEqual(47);
    expect(r.reloads).toBeGreaterThanOrEqual(16);
    expect(r.faultPhases).toBeGreaterThanOrEqual(9);
    expect(r.accepted).toBeGreaterThan(40 * 20);
  }, 80_000);
});
