import { describe, expect, it } from 'vitest';
import { SlidingWindow } from '../../simulator/window.js';

describe('SlidingWindow', () => {
  it('counts events in (now - 1000, now]', () => {
    const w = new SlidingWindow(1000);
    expect(w.add(0)).toBe(1);
    expect(w.add(999)).toBe(2);
    // The event at 0 leaves exactly when now - 1000 reaches it (half-open on the left).
    expect(w.count(1000)).toBe(1);
    expect(w.count(1999)).toBe(0);
  });

  it('is sliding, not fixed one-second buckets: a burst straddling a second boundary is one burst', () => {
    const w = new SlidingWindow(1000);
    // 40 events between t=0.5 s and t=0.99 s.
    for (let i = 0; i < 40; i++) w.add(500 + Math.round((i * 490) / 39));
    // Fixed buckets would see a fresh second at 1.2 s; the sliding window still sees all 40.
    expect(w.count(1200)).toBe(40);
    expect(w.add(1200)).toBe(41);
    // At 1.5 s the first event (t=500) has left; the rest are still inside.
    expect(w.count(1500)).toBe(40);
    // After 1.99 s only the event at 1.2 s remains.
    expect(w.count(1990)).toBe(1);
    expect(w.count(2200)).toBe(0);
  });

  it('stays correct over many events (compaction)', () => {
    const w = new SlidingWindow(1000);
    for (let t = 0; t < 10_000; t++) {
      const c = w.add(t);
      expect(c).toBe(Math.min(t + 1, 1000));
    }
    w.clear();
    expect(w.count(10_000)).toBe(0);
  });

  it('rejects a non-positive span', () => {
    expect(() => new SlidingWindow(0)).toThrow(RangeError);
  });
});
