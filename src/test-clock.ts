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
