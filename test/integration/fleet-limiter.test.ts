import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FleetLimiter } from '../../src/fleet/limiter.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The Lua limiter against a real redis-server: the only clock it reads is Redis's TIME. */
describe('FleetLimiter (real Redis)', () => {
  let server: RedisProcess;
  const clients: Redis[] = [];
  let prefix = 0;
  const limiter = (name: string, keyPrefix: string): FleetLimiter => {
    const redis = new Redis(server.url);
    clients.push(redis);
    return new FleetLimiter({ redis, keyPrefix, appId: 42, memberPrefix: name });
  };
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit()));
    await server?.stop();
  });
  let key = '';
  beforeEach(() => {
    key = `t${++prefix}`;
  });

  it('never grants more than the limit to concurrent acquirers on separate connections', async () => {
    const ls = Array.from({ length: 8 }, (_, i) => limiter(`p${i}`, key));
    const results = await Promise.all(ls.flatMap((l) => Array.from({ length: 10 }, () => l.acquire(5, 10_000, 0))));
    expect(results.filter((r) => r.granted)).toHaveLength(5);
    const refused = results.filter((r) => !r.granted);
    expect(refused).toHaveLength(75);
    // Refusals say how long until the earliest lease runs out (~10 s here).
    for (const r of refused) if (!r.granted) expect(r.retryInMs).toBeGreaterThan(9000);
    expect(await ls[0]!.held()).toBe(5);
  });

  it("gives each grant a Sequence above every one given before, on any connection, on Redis time, and above the caller's own last", async () => {
    const ls = Array.from({ length: 4 }, (_, i) => limiter(`q${i}`, key));
    const got: number[] = [];
    for (let round = 0; round < 5; round++) {
      for (const l of ls) {
        const g = await l.acquire(100, 10_000, 0);
        if (g.granted && g.sequence !== null) got.push(g.sequence);
      }
    }
    expect(got).toHaveLength(20);
    for (let i = 1; i < got.length; i++) expect(got[i]!).toBeGreaterThan(got[i - 1]!);
    const redis = clients[0]!;
    const redisNow = Number((await redis.time())[0]) * 1000;
    expect(Math.abs(got[0]! - redisNow)).toBeLessThan(5000);
    // A caller whose host clock ran 5 s ahead while Redis was away raises the fleet's count.
    const ahead = redisNow + 5000;
    const g = await ls[0]!.acquire(100, 10_000, 0, [], ahead);
    expect(g.granted && g.sequence).toBeGreaterThan(ahead);
    const after = await ls[1]!.acquire(100, 10_000, 0);
    expect(after.granted && after.sequence).toBeGreaterThan(ahead + 1);
    // A floor absurdly far ahead is not from an exporter: ignored.
    const far = await ls[2]!.acquire(100, 10_000, 0, [], redisNow + 86_400_000);
    expect(far.granted && far.sequence).toBeLessThan(redisNow + 60_000);
  });

  it('a released lease frees its slot 1 s after the response, not before', async () => {
    const l = limiter('a', key);
    const first = await l.acquire(1, 10_000, 0);
    expect(first.granted).toBe(true);
    expect((await l.acquire(1, 10_000, 0)).granted).toBe(false);
    if (first.granted) await l.release(first.member, 300);
    expect((await l.acquire(1, 10_000, 0)).granted).toBe(false);
    await sleep(350);
    expect((await l.acquire(1, 10_000, 0)).granted).toBe(true);
  });

  it('leases of a process that never releases (crashed) expire by themselves', async () => {
    const crashed = limiter('gone', key);
    for (let i = 0; i < 3; i++) expect((await crashed.acquire(3, 400, 0)).granted).toBe(true);
    const other = limiter('alive', key);
    const refused = await other.acquire(3, 400, 0);
    expect(refused.granted).toBe(false);
    if (!refused.granted) expect(refused.retryInMs).toBeLessThanOrEqual(400);
    await sleep(450);
    expect((await other.acquire(3, 400, 0)).granted).toBe(true);
  });

  it('spaces sends fleet-wide by the spacing given', async () => {
    const a = limiter('a', key);
    const b = limiter('b', key);
    expect((await a.acquire(10, 5000, 200)).granted).toBe(true);
    const r = await b.acquire(10, 5000, 200);
    expect(r.granted).toBe(false);
    if (!r.granted) expect(r.retryInMs).toBeGreaterThan(100);
    await sleep(210);
    expect((await b.acquire(10, 5000, 200)).granted).toBe(true);
  });

  it('counts adopted calls (made while Redis was away) before granting', async () => {
    const l = limiter('a', key);
    const r = await l.acquire(3, 5000, 0, [{ ms: 300 }, { ms: 300 }, { ms: 300 }]);
    expect(r.granted).toBe(false);
    await sleep(320);
    expect((await l.acquire(3, 5000, 0)).granted).toBe(true);
  });

  it('holds the limit over time with many concurrent acquirers: no 1 s window sees more than the limit', async () => {
    const ls = Array.from({ length: 4 }, (_, i) => limiter(`w${i}`, key));
    const limit = 10;
    const sends: number[] = [];
    const ends: number[] = [];
    const deadline = Date.now() + 2500;
    await Promise.all(
      ls.map(async (l) => {
        while (Date.now() < deadline) {
          const r = await l.acquire(limit, 5000, 0);
          if (!r.granted) {
            await sleep(Math.min(r.retryInMs, 20));
            continue;
          }
          const send = Date.now();
          await sleep(5 + Math.random() * 30);
          ends.push(Date.now());
          sends.push(send);
          await l.release(r.member, 1000);
        }
      }),
    );
    // Calls whose [send, end] meet a window (t-1000, t] could all arrive in it.
    let worst = 0;
    for (const t of sends) worst = Math.max(worst, sends.filter((s, i) => s <= t && ends[i]! > t - 1000).length);
    expect(worst).toBeLessThanOrEqual(limit);
    expect(sends.length).toBeGreaterThanOrEqual(2 * limit);
  });
});
