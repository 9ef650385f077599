import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FleetLimiter } from '../../src/fleet/limiter.js';
import { FleetRoomLock } from '../../src/fleet/room-lock.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The per-room hold and the per-API budget keys against a real redis-server. */
describe('FleetRoomLock and per-API budgets (real Redis)', () => {
  let server: RedisProcess;
  const clients: Redis[] = [];
  let n = 0;
  let key = '';
  const redis = (): Redis => {
    const r = new Redis(server.url);
    clients.push(r);
    return r;
  };
  const lock = (name: string): FleetRoomLock => new FleetRoomLock({ redis: redis(), keyPrefix: key, appId: 42, memberPrefix: name });
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
    await server?.stop();
  });
  beforeEach(() => {
    key = `t${++n}`;
  });

  it('one process of many gets a room; the others are told how long to wait', async () => {
    const locks = Array.from({ length: 6 }, (_, i) => lock(`p${i}`));
    const results = await Promise.all(locks.map((l) => l.acquire('show#1', 20_000)));
    expect(results.filter((r) => r.granted)).toHaveLength(1);
    for (const r of results) if (!r.granted) expect(r.retryInMs).toBeGreaterThan(19_000);
    // Another room is free.
    expect((await locks[0]!.acquire('other', 20_000)).granted).toBe(true);
  });

  it('after the response the room stays held holdMs, then frees itself', async () => {
    const [a, b] = [lock('a'), lock('b')];
    expect((await a.acquire('r', 20_000)).granted).toBe(true);
    await a.release('r', 300);
    const refused = await b.acquire('r', 20_000);
    expect(refused.granted).toBe(false);
    if (!refused.granted) expect(refused.retryInMs).toBeLessThanOrEqual(300);
    await sleep(350);
    expect((await b.acquire('r', 20_000)).granted).toBe(true);
  });

  it('a lease that ran out before the response is taken again on release, unless another process holds the room', async () => {
    const [a, b] = [lock('a'), lock('b')];
    expect((await a.acquire('slow', 50)).granted).toBe(true);
    await sleep(80);
    await a.release('slow', 10_000);
    expect((await b.acquire('slow', 20_000)).granted).toBe(false);

    expect((await a.acquire('stolen', 50)).granted).toBe(true);
    await sleep(80);
    expect((await b.acquire('stolen', 20_000)).granted).toBe(true);
    await a.release('stolen', 50); // not a's any more: b's hold stays as it was
    const pttl = await redis().pttl(a.keyOf('stolen'));
    expect(pttl).toBeGreaterThan(19_000);
  });

  it('a room key of the wrong type or without expiry is repaired, not obeyed for ever', async () => {
    const r = redis();
    const l = lock('a');
    await r.lpush(l.keyOf('typed'), 'x');
    expect((await l.acquire('typed', 20_000)).granted).toBe(true);
    await r.set(l.keyOf('eternal'), 'someone');
    const first = await l.acquire('eternal', 200);
    expect(first.granted).toBe(false);
    expect(await r.pttl(l.keyOf('eternal'))).toBeGreaterThan(0);
    await sleep(250);
    expect((await l.acquire('eternal', 200)).granted).toBe(true);
    expect([...l.repaired].sort()).toEqual(['room_expiry', 'room_type']);
  });

  it('each API has its own fleet budget; DescribeRTCStreamState keeps its old keys', async () => {
    const mk = (api?: 'DescribeSimpleStreamList' | 'DescribeUserNum'): FleetLimiter =>
      new FleetLimiter({ redis: redis(), keyPrefix: key, appId: 42, memberPrefix: 'p', ...(api ? { api } : {}) });
    const [state, list, users] = [mk(), mk('DescribeSimpleStreamList'), mk('DescribeUserNum')];
    expect((await state.acquire(1, 10_000, 0)).granted).toBe(true);
    expect((await state.acquire(1, 10_000, 0)).granted).toBe(false);
    expect((await list.acquire(1, 10_000, 0)).granted).toBe(true);
    expect((await users.acquire(1, 10_000, 0)).granted).toBe(true);
    const keys = (await redis().keys(`${key}:budget:*`)).sort();
    // One fleet-wide Sequence counter for the AppID (only DescribeRTCStreamState sends it), not one per API.
    // Each budget's `alive` marker tells empty keys after a Redis restart from a new fleet.
    expect(keys).toEqual([
      `${key}:budget:42:DescribeSimpleStreamList:alive`,
      `${key}:budget:42:DescribeSimpleStreamList:leases`,
      `${key}:budget:42:DescribeUserNum:alive`,
      `${key}:budget:42:DescribeUserNum:leases`,
      `${key}:budget:42:alive`,
      `${key}:budget:42:leases`,
      `${key}:budget:42:sequence`,
    ]);
  });
});
