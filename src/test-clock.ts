import { MIX_STOP_WINDOW_MS } from './state/mix-tasks.js';

/**
 * ZEGO_EXPORTER_TEST_CLOCK_OFFSET_MS (test only): runs this process's clock that many ms ahead
 * (or behind, negative), so a test can put fleet replicas on skewed "hosts" without touching the
 * machine's clock. Not for production: a real skew is the host's to fix (NTP).
 */
export const TEST_CLOCK_ENV = 'ZEGO_EXPORTER_TEST_CLOCK_OFFSET_MS';
const MAX_OFFSET_MS = 3_600_000;

export type TestClock = { ok: true; offsetMs: number; now: () => number } | { ok: false; message: string };

/** null when the variable is unset or empty. */
export function testClock(env: NodeJS.ProcessEnv): TestClock | null {
  const raw = env[TEST_CLOCK_ENV];
  if (raw === undefined || raw === '') return null;
  const n = Number(raw);
  if (!/^-?\d{1,7}$/.test(raw) || Math.abs(n) > MAX_OFFSET_MS) {
    return { ok: false, message: `${TEST_CLOCK_ENV} must be an integer number of ms within ±${MAX_OFFSET_MS}` };
  }
  return { ok: true, offsetMs: n, now: () => Date.now() + n };
}

/**
 * ZEGO_EXPORTER_TEST_MIX_STOP_WINDOW_MS (test only): how long after polling saw a mix task gone its
 * mix_stop may still come, shortened from ZEGO's 62 s retry window plus margin, so a real-process
 * test proves "not counted before the window, counted after it" without waiting 77 s of wall time
 * per case. Never longer than the real window: production cannot be made to wait longer.
 */
export const TEST_MIX_STOP_WINDOW_ENV = 'ZEGO_EXPORTER_TEST_MIX_STOP_WINDOW_MS';
const MIN_MIX_STOP_WINDOW_MS = 1000;

export type TestMixStopWindow = { ok: true; ms: number } | { ok: false; message: string };

/** null when the variable is unset or empty (the real window applies). */
export function testMixStopWindow(env: NodeJS.ProcessEnv): TestMixStopWindow | null {
  const raw = env[TEST_MIX_STOP_WINDOW_ENV];
  if (raw === undefined || raw === '') return null;
  const n = Number(raw);
  if (!/^\d{1,6}$/.test(raw) || n < MIN_MIX_STOP_WINDOW_MS || n > MIX_STOP_WINDOW_MS) {
    return { ok: false, message: `${TEST_MIX_STOP_WINDOW_ENV} must be an integer number of ms from ${MIN_MIX_STOP_WINDOW_MS} to ${MIX_STOP_WINDOW_MS}` };
  }
  return { ok: true, ms: n };
}
