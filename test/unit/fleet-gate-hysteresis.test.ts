import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FleetGate } from '../../src/fleet/gate.js';
import type { AcquireResult, FleetLimiter } from '../../src/fleet/limiter.js';
import { FleetLink, LINK_DOWN_MESSAGE } from '../../src/fleet/redis.js';

/** The fleet link's switches, driven by a gate's failed grants, on a fake clock, with a Redis that is up or down at the test's word. */
describe('fleet link hysteresis', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  const setup = (): { gate: FleetGate; link: FleetLink; modes: boolean[]; warnings: string[]; redis: { up: boolean } } => {
    const redis = { up: true };
    const modes: boolean[] = [];
    const warnings: string[] = [];
    const fail = (): Promise<never> => Promise.reject(new Error('OOM command not allowed'));
    const limiter = {
      acquire: (): Promise<AcquireResult> => (redis.up ? Promise.resolve({ granted: true, member: 'm@3000', held: 1, sequence: null }) : fail()),
      release: (): Promise<void> => (redis.up ? Promise.resolve() : fail()),
    } as unknown as FleetLimiter;
    const logger = pino({ level: 'warn' }, { write: (s: string) => void warnings.push((JSON.parse(s) as { msg: string }).msg) });
    const link = new FleetLink({ ping: () => (redis.up ? Promise.resolve('OK') : fail()), logger, now: () => Date.now() });
    link.onChange((c) => modes.push(c));
    const gate = new FleetGate({ limiter, link, rateLimit: 10, fallbackRateLimit: 2, callTimeoutMs: 1000, now: () => Date.now() });
    return { gate, link, modes, warnings, redis };
  };
  /** One call through the gate (a grant, or a fallback slot once the fallback may send). */
  const call = async (gate: FleetGate): Promise<void> => {
    const p = gate.acquire(new AbortController().signal);
    await vi.advanceTimersByTimeAsync(1100);
    (await p)?.release();
  };

  it('back to the shared budget only after 3 probes in a row; a loss within 10 s of returning doubles that; one warning per loss', async () => {
    const { gate, link, modes, warnings, redis } = setup();
    try {
      await vi.advanceTimersByTimeAsync(10);
      expect(modes).toEqual([true]);
      redis.up = false;
      await call(gate);
      expect(modes).toEqual([true, false]);
      // Redis takes writes again: two good probes are not enough.
      redis.up = true;
      await vi.advanceTimersByTimeAsync(1100);
      expect(modes).toEqual([true, false]);
      await vi.advanceTimersByTimeAsync(500);
      expect(modes).toEqual([true, false, true]);
      // Lost again 2 s later (a flapping Redis): now 6 probes in a row.
      await vi.advanceTimersByTimeAsync(2000);
      redis.up = false;
      await call(gate);
      expect(modes).toEqual([true, false, true, false]);
      redis.up = true;
      await vi.advanceTimersByTimeAsync(2100);
      expect(modes.at(-1)).toBe(false);
      await vi.advanceTimersByTimeAsync(1000);
      expect(modes).toEqual([true, false, true, false, true]);
      expect(warnings.filter((w) => w === LINK_DOWN_MESSAGE)).toHaveLength(2);
    } finally {
      gate.close();
      link.close();
    }
  });

  it('a probe that fails between good ones starts the count again', async () => {
    const { gate, link, modes, redis } = setup();
    try {
      await vi.advanceTimersByTimeAsync(10);
      redis.up = false;
      await call(gate);
      redis.up = true;
      await vi.advanceTimersByTimeAsync(1000); // two good probes
      redis.up = false;
      await vi.advanceTimersByTimeAsync(500); // one bad
      redis.up = true;
      await vi.advanceTimersByTimeAsync(1000);
      expect(modes).toEqual([true, false]);
      await vi.advanceTimersByTimeAsync(600);
      expect(modes).toEqual([true, false, true]);
    } finally {
      gate.close();
      link.close();
    }
  });

  it('the fallback sends nothing for 1 s after the loss, then at its own rate', async () => {
    const { gate, link, redis } = setup();
    try {
      await vi.advanceTimersByTimeAsync(10);
      redis.up = false;
      const lostAt = Date.now();
      const t = gate.acquire(new AbortController().signal);
      let at = 0;
      void t.then(() => (at = Date.now()));
      await vi.advanceTimersByTimeAsync(1500);
      expect(at - lostAt).toBeGreaterThanOrEqual(1000);
      expect(at - lostAt).toBeLessThan(1200);
    } finally {
      gate.close();
      link.close();
    }
  });
});
