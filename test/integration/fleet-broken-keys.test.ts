import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FleetGate } from '../../src/fleet/gate.js';
import { FleetLimiter } from '../../src/fleet/limiter.js';
import { FleetLink } from '../../src/fleet/redis.js';
import { ResultShare } from '../../src/fleet/share.js';
import type { ProbeResult } from '../../src/zego/outcome.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

/** Keys written by a broken neighbour (or by hand) straight into a real redis-server. */
describe('fleet mode: broken keys in Redis are checked, repaired, logged once, and never stop probing', () => {
  let server: RedisProcess;
  let raw: Redis;
  const clients: Redis[] = [];
  let n = 0;
  let prefix = '';
  const warnings: { kind?: string }[] = [];
  const logger = { warn: (obj: { kind?: string }) => void warnings.push(obj) };
  const connect = (): Redis => {
    const r = new Redis(server.url);
    clients.push(r);
    return r;
  };
  const limiter = (): FleetLimiter => new FleetLimiter({ redis: connect(), keyPrefix: prefix, appId: 42, memberPrefix: `m${n}`, logger });
  const share = (): ResultShare => new ResultShare({ redis: connect(), keyPrefix: prefix, appId: 42, owner: 'me', callTimeoutMs: 1000, logger });
  const nextStart = (): string => `${prefix}:budget:42:next_start`;
  const leases = (): string => `${prefix}:budget:42:leases`;
  const resultKey = (id: string): string => `${prefix}:result:42:${id}`;
  const claimKey = (id: string): string => `${prefix}:claim:42:${id}`;
  const good = (sentAtMs: number): ProbeResult => ({
    outcome: { kind: 'active', createTimeSec: Math.floor(sentAtMs / 1000) - 60 },
    code: '0',
    sentAtMs,
    durationMs: 12,
  });

  beforeAll(async () => {
    server = await startRedis();
    raw = new Redis(server.url);
  });
  afterAll(async () => {
    await Promise.all([...clients, raw].map((c) => c.quit()));
    await server.stop();
  });
  beforeEach(() => {
    prefix = `b${++n}`;
    warnings.length = 0;
  });

  describe('the budget (lease script)', () => {
    it.each([
      ['not a number', 'abc'],
      ['far in the future', String(Date.now() + 1e12)],
      ['1e300', '1e300'],
      ['nan', 'nan'],
    ])('next_start %s, without a TTL: the script does not fail, grants, and repairs the key', async (_name, value) => {
      await raw.set(nextStart(), value);
      const l = limiter();
      const first = await l.acquire(10, 5000, 5000);
      expect(first.granted).toBe(true);
      expect(l.repaired.has('next_start')).toBe(true);
      // Repaired: it now holds a number at most one spacing ahead, with a TTL.
      const now = Number((await raw.time())[0]) * 1000;
      expect(Number(await raw.get(nextStart()))).toBeLessThanOrEqual(now + 6000);
      expect(await raw.pttl(nextStart())).toBeGreaterThan(0);
      await raw.set(nextStart(), value);
      expect((await l.acquire(10, 5000, 5000)).granted).toBe(true);
      expect(warnings.filter((w) => w.kind === 'next_start')).toHaveLength(1);
    });

    it.each([
      ['not a number', (k: string) => raw.set(k, 'abc'), 'sequence'],
      ['far in the future', (k: string) => raw.set(k, String(Date.now() + 1e12)), 'sequence'],
      ['of the wrong type', (k: string) => raw.rpush(k, 'x'), 'sequence_type'],
    ])('the fleet Sequence key %s: repaired, logged once, and the grant carries a Sequence on Redis time', async (_name, write, kind) => {
      const key = `${prefix}:budget:42:sequence`;
      await write(key);
      const l = limiter();
      const g = await l.acquire(10, 5000, 0);
      const now = Number((await raw.time())[0]) * 1000;
      expect(g.granted && g.sequence).toBeGreaterThanOrEqual(now - 1000);
      expect(g.granted && g.sequence).toBeLessThan(now + 2000);
      expect(l.repaired.has(kind)).toBe(true);
      await raw.del(key);
      await write(key);
      expect((await l.acquire(10, 5000, 0)).granted).toBe(true);
      expect(warnings.filter((w) => w.kind === kind)).toHaveLength(1);
    });

    it('a lease scored in year 1e297 (or +inf) is dropped instead of holding a slot for ever', async () => {
      await raw.zadd(leases(), 1e300, 'forged-1', '+inf', 'forged-2');
      const l = limiter();
      expect((await l.acquire(1, 5000, 0)).granted).toBe(true);
      expect(await raw.zscore(leases(), 'forged-1')).toBeNull();
      expect(l.repaired.has('lease_far_future')).toBe(true);
      expect(await raw.pttl(leases())).toBeGreaterThan(0);
    });

    it('keys of the wrong type are replaced, and a release on one does not fail', async () => {
      await raw.set(leases(), 'not a zset');
      await raw.rpush(nextStart(), 'x');
      const l = limiter();
      const g = await l.acquire(2, 5000, 0);
      expect(g.granted).toBe(true);
      expect([...l.repaired].sort()).toEqual(['leases_type', 'next_start_type']);
      await raw.del(leases());
      await raw.set(leases(), 'again');
      if (g.granted) await expect(l.release(g.member, 100)).resolves.toBeUndefined();
    });

    it('the gate keeps granting (stays shared, never flaps to fallback) while next_start is garbage', async () => {
      const modes: boolean[] = [];
      const link = new FleetLink({ ping: () => raw.ping(), logger: pino({ level: 'silent' }) });
      link.onChange((c) => modes.push(c));
      const gate = new FleetGate({ limiter: limiter(), link, rateLimit: 20, fallbackRateLimit: 1, callTimeoutMs: 1000 });
      try {
        for (let i = 0; i < 5; i++) {
          await raw.set(nextStart(), i % 2 === 0 ? 'abc' : String(Date.now() + 1e9));
          const t = await gate.acquire(new AbortController().signal);
          expect(t).not.toBeNull();
          t?.release();
        }
        expect(modes.at(-1)).toBe(true);
        expect(modes).not.toContain(false);
      } finally {
        gate.close();
        link.close();
      }
    });
  });

  describe('the result share', () => {
    it('a result with sentAtMs 1e300 and no TTL is not fresh: the stream is claimed (probed) and the key dropped', async () => {
      await raw.set(resultKey('s'), JSON.stringify(good(1e300)));
      const s = share();
      expect(await s.claim('s', 10_000)).toEqual({ kind: 'claimed' });
      expect(await raw.get(resultKey('s'))).toBeNull();
      expect(s.repaired.has('result_ttl')).toBe(true);
    });

    it('a well-formed result with a TTL but sent far in the future (or with a forged code) is ignored', async () => {
      await raw.set(resultKey('s'), JSON.stringify(good(Date.now() + 86_400_000)), 'PX', 5000);
      const s = share();
      expect(await s.claim('s', 10_000)).toEqual({ kind: 'claimed' });
      expect(s.repaired.has('result_value')).toBe(true);
      await raw.del(claimKey('s'));
      await raw.set(resultKey('s'), JSON.stringify({ ...good(Date.now()), code: 'x"}\n' }), 'PX', 5000);
      expect(await s.claim('s', 10_000)).toEqual({ kind: 'claimed' });
      expect(warnings.filter((w) => w.kind === 'result_value')).toHaveLength(1);
    });

    it('a claim key without a TTL is taken over (no 1 ms retry loop); a live claim still means busy', async () => {
      await raw.set(claimKey('s'), 'ghost');
      const s = share();
      expect(await s.claim('s', 10_000)).toEqual({ kind: 'claimed' });
      expect(await raw.get(claimKey('s'))).toBe('me');
      expect(await raw.pttl(claimKey('s'))).toBeGreaterThan(0);
      expect(s.repaired.has('claim_ttl')).toBe(true);

      await raw.set(claimKey('t'), 'other', 'PX', 5000);
      const busy = await s.claim('t', 10_000);
      expect(busy).toMatchObject({ kind: 'busy' });
      if (busy.kind === 'busy') expect(busy.retryInMs).toBeGreaterThanOrEqual(100);
    });

    it('a good result published by another replica is still shared', async () => {
      const other = share();
      expect(await other.claim('s', 10_000)).toEqual({ kind: 'claimed' });
      const r = good(Date.now());
      await other.publish('s', r, 10_000);
      const s = share();
      expect(await s.claim('s', 10_000)).toEqual({ kind: 'fresh', result: r });
      expect(warnings).toHaveLength(0);
    });
  });
});
