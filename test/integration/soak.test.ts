import { describe, expect, it } from 'vitest';
import { printSoak, soak, soakProblems } from '../../bench/soak.js';

describe('soak (CI short form of npm run soak)', () => {
  it('45 s at full budget with faults cycling and reloads every 3 s: every scrape answered, no leak, no unhandled rejection', async () => {
    const r = await soak({ durationSec: 45 });
    printSoak(r);
    expect(soakProblems(r, false)).toEqual([]);
    expect(r.scrapes).toBeGreaterThanOrEqual(35);
    expect(r.reloads).toBeGreaterThanOrEqual(12);
    expect(r.faultPhases).toBeGreaterThanOrEqual(7);
    expect(r.accepted).toBeGreaterThan(30 * 20);
  }, 60_000);
});
