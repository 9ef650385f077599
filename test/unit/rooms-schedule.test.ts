import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CountBatcher } from '../../src/rooms/count-batcher.js';
import { ListScheduler, ROOM_HOLD_MS, type RoomLock, type ScheduledRoom } from '../../src/rooms/list-scheduler.js';
import { ApiCaller } from '../../src/api/service.js';
import { Budget } from '../../src/scheduler/budget.js';
import type { RoomStreamsResult, UserCountResult } from '../../src/zego/outcome.js';
import { rng } from '../helpers/rng.js';

const T0 = 1_700_000_000_000;

/** Stops a budget under fake timers: calls in flight end on the fake clock, so it must move. */
async function stopped(budget: Budget): Promise<void> {
  let done = false;
  const stopping = budget.stop(0).then(() => (done = true));
  for (let i = 0; i < 100 && !done; i++) await vi.advanceTimersByTimeAsync(100);
  await stopping;
}

function rooms(n: number, intervalMs: number): ScheduledRoom[] {
  return Array.from({ length: n }, (_, i) => ({ id: `room-${i}`, intervalMs }));
}

interface ListCall {
  sentAt: number;
  endAt: number;
}

function listHarness(rate: number, latency: () => number, throttled: () => boolean = () => false, lock?: RoomLock) {
  const budget = new Budget({ rateLimit: rate, hardLimit: 50 });
  const calls = new Map<string, ListCall[]>();
  let inFlight = 0;
  let maxInFlight = 0;
  const list = async (roomId: string): Promise<RoomStreamsResult> => {
    const sentAt = Date.now();
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const call = { sentAt, endAt: Number.NaN };
    (calls.get(roomId) ?? calls.set(roomId, []).get(roomId)!).push(call);
    await new Promise((r) => setTimeout(r, latency()));
    inFlight--;
    call.endAt = Date.now();
    const outcome = throttled() ? ({ kind: 'failed', reason: 'throttled', message: 'rate' } as const) : ({ kind: 'ok', streams: [] } as const);
    return { roomId, outcome, code: outcome.kind === 'ok' ? '0' : '52001', sentAtMs: sentAt, durationMs: call.endAt - sentAt };
  };
  const scheduler = new ListScheduler({
    api: new ApiCaller({ action: 'DescribeSimpleStreamList', budget, send: list }),
    ...(lock ? { lock } : {}),
    onResult: () => undefined,
  });
  return { budget, scheduler, calls, maxInFlight: () => maxInFlight };
}

/** Calls sent in [from, to), over all rooms. */
function sentBetween(calls: Map<string, ListCall[]>, from: number, to: number): number {
  let n = 0;
  for (const list of calls.values()) for (const c of list) if (c.sentAt >= from && c.sentAt < to) n++;
  return n;
}

describe('room list scheduler', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('never calls a room within 10 s of the end of its previous response, nor within its interval of the previous send, whatever the latency', async () => {
    const random = rng(12);
    // Latency up to 3 s, so "send + 10 s" alone would break the rule.
    const h = listHarness(8, () => Math.floor(random() * 3000));
    h.scheduler.setRooms(rooms(50, 10_000));
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(120_000);
    h.scheduler.stop();
    let checked = 0;
    for (const list of h.calls.values()) {
      for (let i = 1; i < list.length; i++) {
        const prev = list[i - 1]!;
        const next = list[i]!;
        if (Number.isNaN(prev.endAt)) continue;
        expect(next.sentAt).toBeGreaterThanOrEqual(prev.endAt + ROOM_HOLD_MS);
        expect(next.sentAt).toBeGreaterThanOrEqual(prev.sentAt + 10_000);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(200);
    await stopped(h.budget);
  });

  it('at saturation spends at least 95% of the list budget, and refreshes every room evenly', async () => {
    // 600 rooms at 10 s want 60 calls/s; the budget is 40/s.
    const h = listHarness(40, () => 5);
    h.scheduler.setRooms(rooms(600, 10_000));
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(60_000);
    const rate = sentBetween(h.calls, T0 + 10_000, T0 + 60_000) / 50;
    expect(rate).toBeGreaterThanOrEqual(0.95 * 40);
    expect(rate).toBeLessThanOrEqual(40);
    // Every room gets about N/R = 15 s, none starves.
    const ideal = (600 / 40) * 1000;
    for (const list of h.calls.values()) {
      const sends = list.map((c) => c.sentAt).filter((t) => t >= T0 + 20_000);
      for (let i = 1; i < sends.length; i++) expect(sends[i]! - sends[i - 1]!).toBeLessThanOrEqual(1.2 * ideal);
    }
    expect(h.calls.size).toBe(600);
    await stopped(h.budget);
  });

  it('keeps a room on its interval when the budget has room', async () => {
    const h = listHarness(40, () => 5);
    h.scheduler.setRooms([{ id: 'a', intervalMs: 30_000 }]);
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(95_000);
    expect(h.calls.get('a')!.map((c) => c.sentAt - T0)).toEqual([0, 30_000, 60_000, 90_000]);
    await stopped(h.budget);
  });

  it('backs its own budget off on throttling answers (AIMD), and only its own', async () => {
    let throttle = true;
    const h = listHarness(
      40,
      () => 5,
      () => throttle,
    );
    const other = new Budget({ rateLimit: 8, hardLimit: 10 });
    h.scheduler.setRooms(rooms(600, 10_000));
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.budget.effectiveRate).toBeLessThan(40 * 0.7);
    expect(other.effectiveRate).toBe(8);
    throttle = false;
    await vi.advanceTimersByTimeAsync(120_000);
    expect(h.budget.effectiveRate).toBe(40);
    await stopped(h.budget);
  });

  it('in fleet mode, a room another process holds costs no slot and is tried again one interval on', async () => {
    const held = new Set(['room-0']);
    const released: [string, number][] = [];
    const lock: RoomLock = {
      hold: async (roomId) => !held.has(roomId),
      release: (roomId, ms) => released.push([roomId, ms]),
    };
    const h = listHarness(
      40,
      () => 5,
      () => false,
      lock,
    );
    h.scheduler.setRooms(rooms(2, 10_000));
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(25_000);
    expect(h.calls.has('room-0')).toBe(false);
    expect(h.scheduler.heldElsewhere).toBeGreaterThanOrEqual(2);
    expect(h.calls.get('room-1')!.length).toBe(3);
    // Every call this process made keeps the room held 10 s past its response.
    expect(released.filter(([id]) => id === 'room-1').map(([, ms]) => ms)).toEqual([ROOM_HOLD_MS, ROOM_HOLD_MS, ROOM_HOLD_MS]);
    await stopped(h.budget);
  });
});

function countHarness(rate: number, hardLimit = 10) {
  const budget = new Budget({ rateLimit: rate, hardLimit });
  const batches: { at: number; rooms: readonly string[] }[] = [];
  const count = async (roomIds: readonly string[]): Promise<UserCountResult> => {
    const at = Date.now();
    batches.push({ at, rooms: roomIds });
    await new Promise((r) => setTimeout(r, 5));
    return {
      roomIds,
      outcome: { kind: 'ok', counts: roomIds.map((roomId) => ({ roomId, userCount: 3, adminUserCount: 1 })) },
      code: '0',
      sentAtMs: at,
      durationMs: 5,
    };
  };
  const batcher = new CountBatcher({ api: new ApiCaller({ action: 'DescribeUserNum', budget, send: count }), onResult: () => undefined });
  return { budget, batcher, batches };
}

describe('DescribeUserNum batcher', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('at saturation every call carries ten rooms and the budget is spent', async () => {
    // 300 rooms at 10 s want 30 rooms/s; 1 call/s carries 10.
    const h = countHarness(1, 1);
    h.batcher.setRooms(rooms(300, 10_000));
    h.batcher.start();
    await vi.advanceTimersByTimeAsync(60_000);
    const late = h.batches.filter((b) => b.at >= T0 + 5000);
    expect(late.length).toBeGreaterThanOrEqual(0.95 * 55);
    for (const b of late) expect(b.rooms.length).toBe(10);
    await stopped(h.budget);
  });

  it('below saturation still fills calls: 600 rooms at 10 s ride at least 9.5 rooms a call', async () => {
    const h = countHarness(8);
    h.batcher.setRooms(rooms(600, 10_000));
    h.batcher.start();
    await vi.advanceTimersByTimeAsync(60_000);
    const carried = h.batches.reduce((n, b) => n + b.rooms.length, 0);
    expect(carried / h.batches.length).toBeGreaterThanOrEqual(9.5);
    expect(h.batcher.roomsCarried / h.batcher.calls).toBeGreaterThanOrEqual(9.5);
    // Each room still counted about once per interval.
    const perRoom = new Map<string, number>();
    for (const b of h.batches) for (const r of b.rooms) perRoom.set(r, (perRoom.get(r) ?? 0) + 1);
    for (const n of perRoom.values()) expect(n).toBeGreaterThanOrEqual(5);
    await stopped(h.budget);
  });

  it('a lone room is counted after its fill wait, never more than ten a call, no room twice in one call', async () => {
    const h = countHarness(8);
    h.batcher.setRooms([{ id: 'solo', intervalMs: 30_000 }]);
    h.batcher.start();
    await vi.advanceTimersByTimeAsync(2500);
    expect(h.batches.map((b) => [b.at - T0, b.rooms])).toEqual([[2000, ['solo']]]);
    h.batcher.setRooms(rooms(37, 10_000));
    await vi.advanceTimersByTimeAsync(30_000);
    for (const b of h.batches) {
      expect(b.rooms.length).toBeLessThanOrEqual(10);
      expect(new Set(b.rooms).size).toBe(b.rooms.length);
    }
    await stopped(h.budget);
  });
});
