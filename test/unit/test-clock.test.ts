import { describe, expect, it } from 'vitest';
import { TEST_CLOCK_ENV, testClock } from '../../src/test-clock.js';

describe('test clock offset (ZEGO_EXPORTER_TEST_CLOCK_OFFSET_MS)', () => {
  it('is off when unset or empty', () => {
    expect(testClock({})).toBeNull();
    expect(testClock({ [TEST_CLOCK_ENV]: '' })).toBeNull();
  });

  it('runs the clock that many ms ahead or behind', () => {
    for (const offset of [5000, -5000]) {
      const c = testClock({ [TEST_CLOCK_ENV]: String(offset) });
      expect(c?.ok).toBe(true);
      if (!c?.ok) continue;
      const before = Date.now();
      const t = c.now();
      expect(t - offset).toBeGreaterThanOrEqual(before);
      expect(t - offset).toBeLessThanOrEqual(Date.now());
    }
  });

  it.each(['5s', '1e4', '3600001', ' 5', 'NaN'])('refuses %j with a message naming the variable', (v) => {
    const c = testClock({ [TEST_CLOCK_ENV]: v });
    expect(c).toMatchObject({ ok: false, message: expect.stringContaining(TEST_CLOCK_ENV) });
  });
});
