import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PacingScheduler } from '../../src/outputs/pacing.js';

const T0 = 1_700_000_000_000;

describe('outputs pacing', () => {
  beforeEach(() => vi.useFakeTimers({ now: T0 }));
  afterEach(() => vi.useRealTimers());

  it('spreads the probes of a set evenly over their interval, then probes each once per interval', async () => {
    const starts: [string, number][] = [];
    const s = new PacingScheduler({ now: Date.now, concurrency: 16, run: async (k) => void starts.push([k, Date.now() - T0]) });
    s.setOutputs(['a', 'b', 'c', 'd', 'e'].map((key) => ({ key, intervalMs: 15_000 })));
    s.start();
    await vi.advanceTimersByTimeAsync(14_999);
    expect(starts).toEqual([
      ['a', 0],
      ['b', 3000],
      ['c', 6000],
      ['d', 9000],
      ['e', 12_000],
    ]);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(starts.filter(([k]) => k === 'c').map(([, t]) => t)).toEqual([6000, 21_000, 36_000]);
    await s.stop();
  });

  it('never runs more than `concurrency` probes at once; the waiting ones start as slots free, earliest due first', async () => {
    let running = 0;
    let most = 0;
    const order: string[] = [];
    const s = new PacingScheduler({
      now: Date.now,
      concurrency: 2,
      run: async (k) => {
        order.push(k);
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 3000));
        running--;
      },
    });
    // Six outputs due every 833 ms, each probe taking 3 s: at most 2 at once.
    s.setOutputs(['a', 'b', 'c', 'd', 'e', 'f'].map((key) => ({ key, intervalMs: 5_000 })));
    s.setConcurrency(2);
    s.start();
    await vi.advanceTimersByTimeAsync(1_700);
    expect(s.running).toBe(2);
    expect(s.waiting).toBe(1);
    await vi.advanceTimersByTimeAsync(8_300);
    expect(most).toBe(2);
    expect(order.slice(0, 6)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    const stopped = s.stop(10_000);
    await vi.advanceTimersByTimeAsync(3_000);
    await stopped;
    expect(s.running).toBe(0);
  });

  it('an output removed is not probed again; one added later is spread over its own interval from then', async () => {
    const starts: [string, number][] = [];
    const s = new PacingScheduler({ now: Date.now, concurrency: 4, run: async (k) => void starts.push([k, Date.now() - T0]) });
    s.setOutputs([
      { key: 'a', intervalMs: 10_000 },
      { key: 'b', intervalMs: 10_000 },
    ]);
    s.start();
    await vi.advanceTimersByTimeAsync(7_000);
    s.setOutputs([
      { key: 'a', intervalMs: 10_000 },
      { key: 'x', intervalMs: 6_000 },
      { key: 'y', intervalMs: 6_000 },
    ]);
    await vi.advanceTimersByTimeAsync(13_000);
    expect(starts).toEqual([
      ['a', 0],
      ['b', 5000],
      ['x', 7000],
      ['y', 10_000],
      ['a', 10_000],
      ['x', 13_000],
      ['y', 16_000],
      ['x', 19_000],
      ['a', 20_000],
    ]);
    await s.stop();
  });

  it('a probe that rejects frees its slot and is reported; its output stays scheduled', async () => {
    const errors: string[] = [];
    let calls = 0;
    const s = new PacingScheduler({
      now: Date.now,
      concurrency: 1,
      run: async () => {
        calls++;
        throw new Error('boom');
      },
      onError: (k) => errors.push(k),
    });
    s.setOutputs([{ key: 'a', intervalMs: 5_000 }]);
    s.start();
    await vi.advanceTimersByTimeAsync(10_001);
    expect(calls).toBe(3);
    expect(errors).toEqual(['a', 'a', 'a']);
    expect(s.running).toBe(0);
    await s.stop();
  });

  it('an output a whole interval behind skips what it missed instead of bursting', async () => {
    const starts: number[] = [];
    let slow = true;
    const s = new PacingScheduler({
      now: Date.now,
      concurrency: 1,
      run: async () => {
        starts.push(Date.now() - T0);
        if (slow) {
          slow = false;
          await new Promise((r) => setTimeout(r, 12_000));
        }
      },
    });
    s.setOutputs([{ key: 'a', intervalMs: 5_000 }]);
    s.start();
    await vi.advanceTimersByTimeAsync(20_000);
    // Due at 5 s and 10 s while the first ran until 12 s: one probe at 12 s, then every 5 s from there.
    expect(starts).toEqual([0, 12_000, 17_000]);
    await s.stop();
  });
});
