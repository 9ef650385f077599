import { describe, expect, it } from 'vitest';
import { RoomHold } from '../../src/scheduler/room-hold.js';

describe('RoomHold (the per-room rule in one process)', () => {
  it('holds a room from acquire until holdMs after release, whatever the call took', () => {
    let now = 0;
    const h = new RoomHold(() => now);
    expect(h.acquire('r')).toBe(true);
    expect(h.acquire('r')).toBe(false);
    now = 60_000; // a slow call: still held while in flight
    expect(h.waitMs('r')).toBe(Number.POSITIVE_INFINITY);
    expect(h.acquire('r')).toBe(false);
    h.release('r', 10_000);
    now += 9_999;
    expect(h.acquire('r')).toBe(false);
    expect(h.waitMs('r')).toBe(1);
    now += 1;
    expect(h.acquire('r')).toBe(true);
  });

  it('rooms are held independently', () => {
    const h = new RoomHold(() => 0);
    expect(h.acquire('a')).toBe(true);
    expect(h.acquire('b')).toBe(true);
    expect(h.waitMs('c')).toBe(0);
  });

  it('releasing a room never acquired does not hold it', () => {
    const h = new RoomHold(() => 0);
    h.release('x', 10_000);
    expect(h.acquire('x')).toBe(true);
  });

  it('sweep forgets ended holds only', () => {
    let now = 0;
    const h = new RoomHold(() => now);
    h.acquire('ended');
    h.release('ended', 1000);
    h.acquire('in-flight');
    now = 1000;
    h.sweep();
    expect(h.size).toBe(1);
    expect(h.acquire('in-flight')).toBe(false);
  });
});
