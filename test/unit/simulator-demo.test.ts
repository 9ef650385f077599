import { describe, expect, it } from 'vitest';
import { demoIsUp, startDemoScript, type DemoTimers, type StreamState } from '../../simulator/streams.js';
import { DEMO_OUTPUT_ID, demoOutputStalled, startOutputDemoScript } from '../../simulator/cdn.js';
import { demoMixRunning } from '../../simulator/mix.js';

class ManualTimers implements DemoTimers {
  fns = new Map<number, () => void>();
  #next = 1;
  setInterval(fn: () => void): unknown {
    const h = this.#next++;
    this.fns.set(h, fn);
    return h;
  }
  clearInterval(h: unknown): void {
    this.fns.delete(h as number);
  }
  tick(n = 1): void {
    for (let i = 0; i < n; i++) for (const fn of [...this.fns.values()]) fn();
  }
}

describe('demo script', () => {
  it('gives each stream a deterministic schedule flipping every 20..50 s', () => {
    for (let i = 1; i <= 8; i++) {
      let flips = 0;
      for (let t = 1; t <= 600; t++) if (demoIsUp(i, t) !== demoIsUp(i, t - 1)) flips++;
      // 600 s with half-periods of 20..50 s: between 12 and 30 flips.
      expect(flips, `demo-${i}`).toBeGreaterThanOrEqual(12);
      expect(flips, `demo-${i}`).toBeLessThanOrEqual(30);
    }
  });

  it('drives the table through injected timers, with consistent times, and stops', () => {
    const timers = new ManualTimers();
    const table = new Map<string, StreamState>();
    const log: string[] = [];
    let now = 1_000;
    const script = startDemoScript(
      {
        setStream: (id, s) => {
          table.set(id, s);
          log.push(`${now}:${id}:${s.state}`);
        },
      },
      { count: 5, idFor: (n) => `zegotest-1-${n}`, timers, nowSec: () => now, tickMs: 1000 },
    );
    expect([...table.keys()].sort()).toEqual([1, 2, 3, 4, 5].map((i) => `zegotest-1-demo-${i}`));
    for (let t = 1; t <= 120; t++) {
      now = 1_000 + t;
      timers.tick();
      for (let i = 1; i <= 5; i++) {
        const s = table.get(`zegotest-1-demo-${i}`);
        expect(s?.state === 'active').toBe(demoIsUp(i, t));
        if (s?.state === 'closed') expect(s.closeTime).toBeGreaterThanOrEqual(s.createTime);
      }
    }
    const flips = log.length;
    expect(flips).toBeGreaterThan(5);
    script.stop();
    expect(timers.fns.size).toBe(0);
  });
});

describe('demo output', () => {
  it('stalls 60 s of every 5 minutes, only while the demo mix task runs', () => {
    let stalledSec = 0;
    for (let t = 0; t < 900; t++) {
      if (!demoOutputStalled(t)) continue;
      stalledSec++;
      expect(demoMixRunning(t), `t=${t}`).toBe(true);
    }
    expect(stalledSec).toBe(180);
    expect([119, 120, 179, 180].map(demoOutputStalled)).toEqual([false, true, true, false]);
  });

  it('sets and clears the stall on its output through injected timers, and stops', () => {
    const timers = new ManualTimers();
    const calls: string[] = [];
    const script = startOutputDemoScript({ setOutput: (id, p) => calls.push(`${id}:${String(p.fault)}`) }, { timers, tickMs: 1000 });
    timers.tick(200);
    expect(calls).toEqual([`${DEMO_OUTPUT_ID}:null`, `${DEMO_OUTPUT_ID}:stall`, `${DEMO_OUTPUT_ID}:null`]);
    script.stop();
    timers.tick(300);
    expect(calls).toHaveLength(3);
  });
});
