import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import { Fleet, type FleetApiGate } from '../../src/fleet/fleet.js';
import { FleetLimiter } from '../../src/fleet/limiter.js';
import { LINK_DOWN_MESSAGE } from '../../src/fleet/redis.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The fleet budget's keys under attack and across Redis's failures, on a real redis-server. */
describe('fleet budget: forged leases, Redis restarted empty, Redis refusing writes', () => {
  let server: RedisProcess;
  let raw: Redis;
  const fleets: Fleet[] = [];
  let prefix = '';
  let n = 0;
  const leases = (): string => `${prefix}:budget:42:leases`;
  const redisNow = async (): Promise<number> => {
    const [s, us] = await raw.time();
    return Number(s) * 1000 + Math.floor(Number(us) / 1000);
  };
  const logs = (): { lines: { msg: string; kind?: string }[]; logger: pino.Logger } => {
    const lines: { msg: string; kind?: string }[] = [];
    return { lines, logger: pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as { msg: string; kind?: string }) }) };
  };
  /** A gate as a process gets it: from a fleet module of its own (its own connections, the production settings). */
  const gate = (name: string, o: { rateLimit: number; fallback: number; logger: pino.Logger; modes?: boolean[] }): FleetApiGate => {
    const fleet = new Fleet({
      fleet: { redisUrl: new Secret(server.url), keyPrefix: prefix, fallbackRateLimit: o.fallback, shareResults: false },
      zego: { appId: 42, rateLimit: o.rateLimit, timeoutMs: 1000 },
      logger: o.logger.child({ process: name }),
    });
    fleet.onChange((c) => o.modes?.push(c));
    fleets.push(fleet);
    return fleet.gate('DescribeRTCStreamState', o.rateLimit, o.fallback);
  };

  beforeAll(async () => {
    server = await startRedis();
    raw = new Redis(server.url, { maxRetriesPerRequest: 1 });
    raw.on('error', () => undefined);
  });
  afterAll(async () => {
    await Promise.all(fleets.map((f) => f.close()));
    raw?.disconnect();
    await server?.stop();
  });
  beforeEach(() => {
    prefix = `rec${++n}`;
  });

  it('50 forged leases scored 110 s ahead: removed at the next grant, probing resumes at once, one warning', async () => {
    const now = await redisNow();
    const forged: (string | number)[] = [];
    for (let i = 0; i < 50; i++) forged.push(now + 110_000, `forged-${i}`);
    await raw.zadd(leases(), ...forged);
    const { lines, logger } = logs();
    const g = gate('a', { rateLimit: 10, fallback: 1, logger });
    const started = Date.now();
    for (let i = 0; i < 3; i++) {
      const t = await g.acquire(new AbortController().signal);
      expect(t).not.toBeNull();
      t?.release();
    }
    console.log(`50 leases 110 s ahead: 3 grants ${Date.now() - started} ms after the gate started`);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await raw.zcount(leases(), now + 100_000, '+inf')).toBe(0);
    expect(lines.filter((l) => l.kind === 'lease_far_future')).toHaveLength(1);
  });

  it('a lease that names its length holds no longer than it; one within its length is kept', async () => {
    const now = await redisNow();
    await raw.zadd(leases(), now + 50_000, 'x:1@2000', now + 50_000, 'x:2@60000');
    const l = new FleetLimiter({ redis: raw, keyPrefix: prefix, appId: 42, memberPrefix: 'b' });
    expect((await l.acquire(10, 3000, 0)).granted).toBe(true);
    expect(await raw.zscore(leases(), 'x:1@2000')).toBeNull();
    expect(await raw.zscore(leases(), 'x:2@60000')).not.toBeNull();
    expect(l.repaired.has('lease_far_future')).toBe(true);
  });

  it('a release whose lease Redis lost writes it back for its hold; a caller that finds its leases gone holds the budget full for 1 s', async () => {
    const { lines, logger } = logs();
    const l = new FleetLimiter({ redis: raw, keyPrefix: prefix, appId: 42, memberPrefix: 'c', logger });
    const a = await l.acquire(5, 3000, 0);
    const b = await l.acquire(5, 3000, 0);
    expect(a.granted && b.granted).toBe(true);
    await raw.flushall();
    if (a.granted) await l.release(a.member, 1000);
    const score = a.granted ? await raw.zscore(leases(), a.member) : null;
    expect(Number(score)).toBeGreaterThan(await redisNow());
    // b is still in flight: written back by name, and empty keys mean a loss, not a new fleet.
    const again = await l.acquire(5, 3000, 0, b.granted ? [{ member: b.member, ms: 2000 }] : []);
    expect(again.granted).toBe(false);
    expect(await raw.zscore(leases(), b.granted ? b.member : '')).not.toBeNull();
    expect(lines.filter((x) => x.kind === 'keys_lost')).toHaveLength(1);
    await sleep(1050);
    expect((await l.acquire(5, 3000, 0)).granted).toBe(true);
  });

  it('Redis restarted empty under load: no 1 s window holds more calls than rate_limit fleet-wide', async () => {
    const rate = 10;
    const { logger } = logs();
    const calls: { send: number; end: number }[] = [];
    const ac = new AbortController();
    // 3 replicas, fallback 3 × 3 = 9 ≤ 10 (as docs/fleet.md asks), each call 30–80 ms.
    const replicas = ['r0', 'r1', 'r2'].map((name) => gate(name, { rateLimit: rate, fallback: 3, logger }));
    const loops = replicas.map(async (g, i) => {
      while (!ac.signal.aborted) {
        const t = await g.acquire(ac.signal);
        if (!t) break;
        const send = Date.now();
        await sleep(30 + ((i * 17 + calls.length * 7) % 50));
        calls.push({ send, end: Date.now() });
        t.release();
      }
    });
    await sleep(2500);
    const restartedAt = Date.now();
    await server.restart();
    await sleep(4000);
    ac.abort();
    await Promise.all(loops);
    // A call counts in every 1 s window its [send, end] touches (ZEGO counts it somewhere in between).
    let worst = 0;
    let worstAt = 0;
    for (const c of calls) {
      const inWindow = calls.filter((d) => d.end >= c.end && d.send < c.end + 1000).length;
      if (inWindow > worst) [worst, worstAt] = [inWindow, c.end];
    }
    const after = calls.filter((c) => c.send > restartedAt).length;
    console.log(
      `Redis restarted empty: ${calls.length} calls in 6.5 s (${after} after the restart), worst 1 s window ${worst} (limit ${rate}) at ${worstAt - restartedAt} ms from the restart`,
    );
    expect(after).toBeGreaterThan(10);
    expect(worst).toBeLessThanOrEqual(rate);
  }, 20_000);

  it('Redis refusing writes (maxmemory): one switch to the fallback and one warning, not a flip every 0.5 s; back when it takes writes', async () => {
    const { lines, logger } = logs();
    const modes: boolean[] = [];
    const g = gate('m', { rateLimit: 10, fallback: 2, logger, modes });
    const t0 = await g.acquire(new AbortController().signal);
    t0?.release();
    expect(modes).toEqual([true]);
    await raw.config('SET', 'maxmemory', '1');
    try {
      const end = Date.now() + 3000;
      while (Date.now() < end) {
        const t = await g.acquire(new AbortController().signal);
        t?.release();
        await sleep(50);
      }
      const warnings = lines.filter((l) => l.msg === LINK_DOWN_MESSAGE);
      console.log(`maxmemory for 3 s: ${modes.length - 1} mode changes, ${warnings.length} warnings`);
      expect(modes).toEqual([true, false]);
      expect(warnings).toHaveLength(1);
    } finally {
      await raw.config('SET', 'maxmemory', '0');
    }
    const back = Date.now();
    while (modes.at(-1) !== true && Date.now() - back < 5000) await sleep(50);
    expect(modes).toEqual([true, false, true]);
  }, 20_000);
});
