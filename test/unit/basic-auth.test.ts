import { performance } from 'node:perf_hooks';
import bcrypt from 'bcryptjs';
import { afterEach, describe, expect, it } from 'vitest';
import { addressKey, AUTH_FAILURE_WINDOW_MS, FailureLimiter, STANDING } from '../../src/http/auth-failures.js';
import { BasicAuth, type AuthVerdict } from '../../src/http/basic-auth.js';
import { BcryptPool, BCRYPT_QUEUE_MAX } from '../../src/http/bcrypt-pool.js';
import { FairQueue } from '../../src/http/fair-queue.js';

const HASH4 = bcrypt.hashSync('pw', 4);
const HASH8 = bcrypt.hashSync('pw', 8);
const HASH12 = bcrypt.hashSync('pw', 12);
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

const made: BasicAuth[] = [];
function auth(users: [string, string][], opts: ConstructorParameters<typeof BasicAuth>[1] = {}): BasicAuth {
  const a = new BasicAuth(new Map(users), { poolSize: 1, ...opts });
  made.push(a);
  return a;
}
afterEach(async () => {
  await Promise.all(made.splice(0).map((a) => a.close()));
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

describe('basic auth: the verified-password cache', () => {
  it('runs bcrypt once for a scraper that sends the same password every second', async () => {
    const a = auth([['prometheus', HASH4]]);
    expect(await a.check(basic('prometheus', 'pw'), '10.0.0.1')).toEqual({ ok: true });
    for (let i = 0; i < 20; i++) expect(a.check(basic('prometheus', 'pw'), '10.0.0.1')).toEqual({ ok: true }); // synchronous: no bcrypt
    expect(a.bcryptRuns).toBe(1);
    // A wrong password is never taken from the cache.
    expect(await a.check(basic('prometheus', 'pW'), '10.0.0.1')).toEqual({ ok: false, status: 401 });
    expect(a.bcryptRuns).toBe(2);
  });

  it('keeps remembered passwords across a reload that leaves the users as they were (a certificate rotation), or adds one', async () => {
    const a = auth([['prometheus', HASH4]]);
    expect(await a.check(basic('prometheus', 'pw'))).toEqual({ ok: true });
    a.setUsers(new Map([['prometheus', HASH4]]));
    expect(a.check(basic('prometheus', 'pw'))).toEqual({ ok: true });
    a.setUsers(
      new Map([
        ['prometheus', HASH4],
        ['grafana', HASH8],
      ]),
    );
    expect(a.check(basic('prometheus', 'pw'))).toEqual({ ok: true });
    expect(a.bcryptRuns).toBe(1);
  });

  it('forgets a remembered password when that user gets a new hash', async () => {
    const a = auth([['u', HASH4]]);
    expect(await a.check(basic('u', 'pw'))).toEqual({ ok: true });
    a.setUsers(new Map([['u', bcrypt.hashSync('other', 4)]]));
    expect(await a.check(basic('u', 'pw'))).toEqual({ ok: false, status: 401 });
    expect(await a.check(basic('u', 'other'))).toEqual({ ok: true });
  });
});

describe('basic auth: unknown users cost what known ones do', () => {
  it('checks an unknown user against a decoy at the configured cost, never a fixed one', async () => {
    expect(auth([['u', HASH4]]).decoyFor('ghost')).toMatch(/^\$2b\$04\$/);
    expect(auth([['u', HASH12]]).decoyFor('ghost')).toMatch(/^\$2b\$12\$/);
    // Mixed costs: each unknown name gets one of the configured costs, the same one every time.
    const mixed = auth([
      ['a', HASH4],
      ['b', HASH12],
    ]);
    const costs = new Set(Array.from({ length: 64 }, (_, i) => mixed.decoyFor(`name-${i}`).slice(4, 6)));
    expect(costs).toEqual(new Set(['04', '12']));
    expect(mixed.decoyFor('name-1')).toBe(mixed.decoyFor('name-1'));
    const a = auth([['u', HASH4]]);
    expect(await a.check(basic('ghost', 'pw'))).toEqual({ ok: false, status: 401 });
    expect(a.bcryptRuns).toBe(1);
  });

  it('takes about as long for an unknown user as for a known one at cost 4 (a cost-10 decoy took 30 times longer)', async () => {
    const a = auth([['u', HASH4]]);
    const time = async (user: string): Promise<number> => {
      const t = performance.now();
      await a.check(basic(user, 'wrong'), `10.0.1.${user.length}`);
      return performance.now() - t;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 7; i++) {
      known.push(await time('u'));
      unknown.push(await time('ghost'));
    }
    // Cost 10 is 64 times the work of cost 4: about 65 ms against 2 ms here.
    expect(median(unknown)).toBeLessThan(median(known) * 3 + 15);
  });
});

describe('basic auth: bcrypt off the event loop, limits per address', () => {
  it('leaves the event loop idle while bcrypt runs (cost 12, ~300 ms of work)', async () => {
    const a = auth([['u', HASH12]]);
    const before = performance.eventLoopUtilization();
    expect(await a.check(basic('u', 'pw'))).toEqual({ ok: true });
    const elu = performance.eventLoopUtilization(before);
    expect(elu.utilization).toBeLessThan(0.3);
  });

  it('checks of failing addresses take at most a quarter of a core (each rests three times as long as it ran); trusted ones run back to back', async () => {
    const pool = new BcryptPool(1);
    try {
      const time = async (cls: number): Promise<number> => {
        const t = performance.now();
        await Promise.all(Array.from({ length: 4 }, () => pool.compare('x', HASH8, cls, 'k')));
        return performance.now() - t;
      };
      await pool.compare('x', HASH8, STANDING.trusted, 'k'); // the worker started
      const trusted = await time(STANDING.trusted);
      const failing = await time(STANDING.failing);
      // 4 runs back to back, against 4 runs with 3 rests of 3 runs each between them: 13/4 as long.
      expect(failing).toBeGreaterThan(2.5 * trusted);
      expect(pool.runs).toBe(9);
    } finally {
      await pool.close();
    }
  });

  it('after 10 failed checks in a minute an address is answered 429 without bcrypt until the minute is over; other addresses are not', async () => {
    let now = 1_000_000;
    const limited: string[] = [];
    const a = auth([['u', HASH4]], { now: () => now, onLimited: (addr) => limited.push(addr) });
    for (let i = 0; i < 10; i++) expect(await a.check(basic('u', `wrong${i}`), '192.0.2.7')).toEqual({ ok: false, status: 401 });
    expect(limited).toEqual(['192.0.2.7']);
    const runs = a.bcryptRuns;
    now += 1000;
    expect(a.check(basic('u', 'pw'), '192.0.2.7')).toEqual({ ok: false, status: 429, retryAfterSec: 59 });
    expect(a.check(basic('u', 'wrong'), '::ffff:192.0.2.7')).toEqual({ ok: false, status: 429, retryAfterSec: 59 });
    expect(a.bcryptRuns).toBe(runs);
    expect(await a.check(basic('u', 'pw'), '192.0.2.8')).toEqual({ ok: true });
    now += AUTH_FAILURE_WINDOW_MS;
    expect(await a.check(basic('u', 'pw'), '192.0.2.7')).toEqual({ ok: true });
  });

  it('counts a check beyond the share of one address of the queue (4 waiting) as a failure, answered 429 at once', async () => {
    const a = auth([['u', HASH4]]);
    const answers = await Promise.all(Array.from({ length: 14 }, (_, i) => a.check(basic('u', `nope${i}`), '192.0.2.50')));
    expect(answers.filter((v) => !v.ok && v.status === 429)).toHaveLength(14 - a.bcryptRuns);
    expect(a.bcryptRuns).toBeLessThanOrEqual(5);
    // 10 of them reached the limit: the right password waits for the window too.
    expect(a.check(basic('u', 'pw'), '192.0.2.50')).toMatchObject({ ok: false, status: 429 });
  });

  it('serves a right password from a clean address ahead of a full queue of wrong ones from other addresses (the newest of a busy address is dropped with 503 to make room)', async () => {
    const a = auth([['u', HASH8]]);
    const flood = Array.from({ length: 9 }, (_, i) => `198.51.100.${i + 1}`);
    // Each flooding address has failed once: it is served after addresses that have not.
    await Promise.all(flood.map((addr) => a.check(basic('u', 'nope'), addr)));
    const before = a.bcryptRuns;
    const checked: string[] = [];
    const wrong: Promise<AuthVerdict>[] = [];
    // 36 checks: one starts at once, 32 fill the queue, 3 find it full.
    for (let k = 0; k < 4; k++)
      for (const addr of flood) {
        const p = Promise.resolve(a.check(basic('u', `nope${k}`), addr));
        wrong.push(p);
        void p.then((v) => !v.ok && v.status === 401 && checked.push('wrong'));
      }
    expect(flood.length * 4).toBeGreaterThan(BCRYPT_QUEUE_MAX + 1);
    expect(await a.check(basic('u', 'pw'), '203.0.113.9')).toEqual({ ok: true });
    // At most the check already running when it came was answered before it.
    expect(checked.length).toBeLessThanOrEqual(1);
    const answers = await Promise.all(wrong);
    expect(answers.some((v) => v.ok)).toBe(false);
    // Every wrong one either ran (401) or was refused at once with 503 (the queue full, or its place given away).
    const ran = a.bcryptRuns - before - 1;
    expect(answers.filter((v) => !v.ok && v.status === 401)).toHaveLength(ran);
    expect(answers.filter((v) => !v.ok && v.status === 503)).toHaveLength(wrong.length - ran);
    expect(wrong.length - ran).toBeGreaterThanOrEqual(4);
  });
});

describe('FairQueue', () => {
  it('serves the better class first, and round-robin over keys within a class', () => {
    const q = new FairQueue<string>(3, 10, 10);
    for (const [c, k, v] of [
      [2, 'a', 'a1'],
      [2, 'a', 'a2'],
      [2, 'b', 'b1'],
      [1, 'c', 'c1'],
      [0, 'd', 'd1'],
      [2, 'a', 'a3'],
    ] as const)
      q.push(c, k, v);
    expect(q.drain()).toEqual(['d1', 'c1', 'a1', 'b1', 'a2', 'a3']);
  });

  it('never holds more than its bounds: per key, and in all', () => {
    const q = new FairQueue<number>(2, 4, 2);
    expect(q.push(1, 'a', 1).ok).toBe(true);
    expect(q.push(1, 'a', 2).ok).toBe(true);
    expect(q.push(1, 'a', 3)).toEqual({ ok: false, why: 'key' });
    expect(q.push(1, 'b', 4).ok).toBe(true);
    expect(q.push(1, 'c', 5).ok).toBe(true);
    // Full: a key with one item waiting cannot take a place from one with two...
    expect(q.push(1, 'b', 6)).toEqual({ ok: false, why: 'full' });
    // ...a key with none can (the newest of the busiest key goes).
    expect(q.push(1, 'd', 7)).toEqual({ ok: true, dropped: 2 });
    // Now one each: the same class is refused, a better class takes a place.
    expect(q.push(1, 'e', 8)).toEqual({ ok: false, why: 'full' });
    expect(q.push(0, 'e', 9)).toEqual({ ok: true, dropped: 1 });
    expect(q.size).toBe(4);
    expect(q.drain()).toEqual([9, 4, 5, 7]);
  });

  it('within one class a newcomer takes a place from a key with two or more items waiting', () => {
    const q = new FairQueue<number>(1, 3, 3);
    q.push(0, 'a', 1);
    q.push(0, 'a', 2);
    q.push(0, 'a', 3);
    expect(q.push(0, 'b', 4)).toEqual({ ok: true, dropped: 3 });
    expect(q.drain()).toEqual([1, 4, 2]);
  });
});

describe('addresses and their standing', () => {
  it('limits IPv4 per address and IPv6 per /64', () => {
    expect(addressKey('192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey(undefined)).toBe('unknown');
  });

  it('is trusted for an hour after a success, failing after a failure, clean again when the window ends', () => {
    const l = new FailureLimiter();
    expect(l.standing('x', 0)).toBe(STANDING.clean);
    l.failed('x', 0);
    expect(l.standing('x', 1)).toBe(STANDING.failing);
    expect(l.standing('x', AUTH_FAILURE_WINDOW_MS)).toBe(STANDING.clean);
    l.succeeded('y', 0);
    expect(l.standing('y', 59 * 60_000)).toBe(STANDING.trusted);
    expect(l.standing('y', 61 * 60_000)).toBe(STANDING.clean);
  });
});
