import { describe, expect, it } from 'vitest';
import { MixEvents } from '../../src/state/mix-events.js';
import { MIX_STOP_WINDOW_MS } from '../../src/state/mix-tasks.js';
import { TEST_CLOCK_ENV, TEST_MIX_STOP_WINDOW_ENV, testClock, testMixStopWindow } from '../../src/test-clock.js';

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

describe('test mix stop window (ZEGO_EXPORTER_TEST_MIX_STOP_WINDOW_MS)', () => {
  it("is off when unset or empty: the mix part's hand-off then carries the real window", () => {
    expect(testMixStopWindow({})).toBeNull();
    expect(testMixStopWindow({ [TEST_MIX_STOP_WINDOW_ENV]: '' })).toBeNull();
    expect(new MixEvents().stopWindowMs).toBe(MIX_STOP_WINDOW_MS);
  });

  it('shortens the window to that many ms, down to 1 s and up to the real window', () => {
    expect(testMixStopWindow({ [TEST_MIX_STOP_WINDOW_ENV]: '8000' })).toEqual({ ok: true, ms: 8000 });
    expect(testMixStopWindow({ [TEST_MIX_STOP_WINDOW_ENV]: '1000' })).toEqual({ ok: true, ms: 1000 });
    expect(testMixStopWindow({ [TEST_MIX_STOP_WINDOW_ENV]: String(MIX_STOP_WINDOW_MS) })).toEqual({ ok: true, ms: MIX_STOP_WINDOW_MS });
  });

  it.each(['8s', '999', String(MIX_STOP_WINDOW_MS + 1), '-5000', '1e4', ' 8000'])('refuses %j with a message naming the variable', (v) => {
    expect(testMixStopWindow({ [TEST_MIX_STOP_WINDOW_ENV]: v })).toMatchObject({ ok: false, message: expect.stringContaining(TEST_MIX_STOP_WINDOW_ENV) });
  });
});
