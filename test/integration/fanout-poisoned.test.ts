import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fanoutKeys } from '../../src/callbacks/fanout-mac.js';
import type { FanoutRejectReason } from '../../src/callbacks/fanout.js';
import { FleetCallbacks } from '../../src/callbacks/fleet.js';
import type { StreamEvent } from '../../src/zego/stream-event.js';
import { Secret } from '../../src/config/secret.js';
import { Fleet } from '../../src/fleet/fleet.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

const APP = 7;
const KEYS = fanoutKeys(new Secret('fanout-poison-test-secret'));

interface Replica {
  fleet: Fleet;
  cb: FleetCallbacks;
  got: StreamEvent[];
  warnings: string[];
  rejected: (r: FanoutRejectReason) => number;
  lossy: Lossy;
}

/**
 * The replica's fan-out reads as a stalled client sees them: `hold` keeps new reads from starting;
 * with `lose`, a read that starts while the stream has entries ahead of Redis's clock runs its
 * script in Redis and then fails here as a timeout would (the reply never arrives).
 */
interface Lossy {
  hold: boolean;
  lose: boolean;
  inflight: number;
  lost: number;
}

/**
 * Two replicas' fan-out (each on the real connections of its own fleet module) on one real redis-server, and a
 * third connection that writes what no exporter writes: the stream must keep carrying callbacks.
 */
describe('fan-out stream: poisoned ids, a wrong key type, oversized entries and a paused Redis', () => {
  let server: RedisProcess;
  let raw: Redis;
  let prefix = '';
  let n = 0;
  let replicas: Replica[] = [];
  const key = (): string => `${prefix}:callbacks:${APP}:events`;

  const replica = (): Replica => {
    const got: StreamEvent[] = [];
    const warnings: string[] = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void warnings.push((JSON.parse(s) as { msg: string }).msg) });
    const fleet = new Fleet({
      fleet: { redisUrl: new Secret(server.url), keyPrefix: prefix, fallbackRateLimit: 1, shareResults: false },
      zego: { appId: APP, rateLimit: 10, timeoutMs: 1000 },
      logger,
    });
    const cb = new FleetCallbacks({
      channel: fleet.channel(),
      windowMs: 300_000,
      apply: (e) => void got.push(e),
      keys: () => KEYS,
      acceptUnsigned: () => false,
      logger,
    });
    const lossy: Lossy = { hold: false, lose: false, inflight: 0, lost: 0 };
    // The fan-out defined its script as a method of the fleet's read connection: reads go through this.
    const read = fleet.channel().read as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const real = read['zegoFanoutRead']!.bind(read);
    read['zegoFanoutRead'] = async (...args: unknown[]): Promise<unknown> => {
      while (lossy.hold) await new Promise((r) => setTimeout(r, 5));
      lossy.inflight++;
      try {
        const ahead = lossy.lose && (await raw.xrange(key(), `${(await redisNow()) + 6000}-0`, '+', 'COUNT', 1)).length > 0;
        const reply = await real(...args);
        if (!ahead) return reply;
        lossy.lost++;
        throw new Error('Command timed out');
      } finally {
        lossy.inflight--;
      }
    };
    cb.start();
    const r = { fleet, cb, got, warnings, lossy, rejected: (x: FanoutRejectReason) => cb.rejected.get(x) ?? 0 };
    replicas.push(r);
    return r;
  };
  const event = (i: number): StreamEvent => ({ event: 'stream_create', streamId: `p-${i}`, streamSeq: i, createTimeMs: Date.now() });
  const until = async (what: () => boolean, ms: number): Promise<void> => {
    const end = Date.now() + ms;
    while (!what()) {
      if (Date.now() > end) throw new Error(`not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const pair = async (): Promise<[Replica, Replica]> => {
    prefix = `poison${++n}`;
    const a = replica();
    const b = replica();
    await until(() => a.cb.connected && b.cb.connected, 3000);
    return [a, b];
  };
  const redisNow = async (): Promise<number> => Number((await raw.time())[0]) * 1000;
  const lastGenerated = async (): Promise<string> => {
    const info = (await raw.call('XINFO', 'STREAM', key())) as unknown[];
    return String(info[info.indexOf('last-generated-id') + 1]);
  };

  beforeAll(async () => {
    server = await startRedis();
    raw = new Redis(server.url);
  });
  afterEach(async () => {
    await Promise.all(
      replicas.map(async (r) => {
        await r.cb.stop();
        await r.fleet.close();
      }),
    );
    replicas = [];
  });
  afterAll(async () => {
    await raw?.quit();
    await server?.stop();
  });

  it.each([
    ['an id of 17 digits', '99999999999999999-0'],
    ['the largest id', '18446744073709551615-18446744073709551615'],
  ])(
    'poisoned with %s: every later callback reaches the other replica, the key is repaired, no spinning',
    async (_name, id) => {
      const [a, b] = await pair();
      a.cb.publish(event(0), Date.now());
      await until(() => b.got.length === 1, 2000);
      await raw.xadd(key(), id, 'origin', 'intruder', 'event', 'stream_create');
      const polls = async (): Promise<number> => Number((await raw.info('commandstats')).match(/cmdstat_evalsha:calls=(\d+)/)?.[1] ?? 0);
      const before = await polls();
      for (let i = 1; i <= 20; i++) a.cb.publish(event(i), Date.now());
      await until(() => b.got.length === 21, 3000);
      expect(b.got.map((e) => e.streamId)).toEqual(Array.from({ length: 21 }, (_, i) => `p-${i}`));
      // Counted by the replica whose read repaired, at its next read that gets through (that read's reply may have been lost: see below).
      await until(() => b.rejected('future_id') + a.rejected('future_id') >= 1, 3000);
      // The intruder's entry came back under a real id and was refused as unsigned, not applied.
      expect(b.got.some((e) => e.streamId === '')).toBe(false);
      const lg = await lastGenerated();
      expect(Number(lg.split('-')[0])).toBeLessThanOrEqual((await redisNow()) + 6000);
      expect([...a.warnings, ...b.warnings].filter((m) => m.includes('ahead of Redis')).length).toBeGreaterThanOrEqual(1);
      // Two replicas polling: about 10 reads a second each, not a spin (today's reader re-read the poisoned entry in a loop).
      await new Promise((r) => setTimeout(r, 1000));
      const after = await polls();
      console.log(`poisoned stream (${id}): ${after - before} reads in ~1.x s by 2 replicas, repair included`);
      expect(after - before).toBeLessThan(80);
      // Later callbacks keep flowing.
      a.cb.publish(event(21), Date.now());
      await until(() => b.got.length === 22, 2000);
    },
    15_000,
  );

  it('a repair whose reply is lost (the read timed out here while its script ran in Redis) is counted once by the next read', async () => {
    const [a, b] = await pair();
    a.cb.publish(event(0), Date.now());
    await until(() => b.got.length === 1, 2000);
    // No read in flight while the intruder writes: the first script to run after it is the one that repairs.
    for (const r of [a, b]) r.lossy.hold = true;
    await until(() => a.lossy.inflight + b.lossy.inflight === 0, 2000);
    await raw.xadd(key(), '99999999999999999-0', 'origin', 'intruder', 'event', 'stream_create');
    for (const r of [a, b]) {
      r.lossy.lose = true;
      r.lossy.hold = false;
    }
    await until(() => a.lossy.lost + b.lossy.lost >= 1, 3000);
    // One entry was moved, by one script whose reply nobody saw: counted once, not zero times, not twice.
    await until(() => a.rejected('future_id') + b.rejected('future_id') >= 1, 5000);
    await new Promise((r) => setTimeout(r, 500));
    expect(a.rejected('future_id') + b.rejected('future_id')).toBe(1);
    expect(Number((await lastGenerated()).split('-')[0])).toBeLessThanOrEqual((await redisNow()) + 6000);
    // The lost read made the fleet count Redis as away for a moment; callbacks flow again once it is back.
    await until(() => a.cb.connected && b.cb.connected, 5000);
    a.cb.publish(event(1), Date.now());
    await until(() => b.got.some((e) => e.streamId === 'p-1'), 5000);
  }, 20_000);

  it('the events key replaced by a string: deleted and recreated, callbacks go on, one warning', async () => {
    const [a, b] = await pair();
    await raw.set(key(), 'not a stream');
    for (let i = 0; i < 5; i++) a.cb.publish(event(i), Date.now());
    await until(() => b.got.length === 5, 3000);
    expect(await raw.type(key())).toBe('stream');
    expect(a.rejected('wrong_type') + b.rejected('wrong_type')).toBeGreaterThanOrEqual(1);
    expect([...a.warnings, ...b.warnings].filter((m) => m.includes('held another type'))).toHaveLength(1);
  }, 15_000);

  it('oversized entries are skipped and deleted in Redis without being sent to the replicas', async () => {
    const [a, b] = await pair();
    const big = 'x'.repeat(1024 * 1024);
    const outBefore = Number((await raw.info('stats')).match(/total_net_output_bytes:(\d+)/)![1]);
    for (let i = 0; i < 20; i++) await raw.xadd(key(), '*', 'origin', 'intruder', 'pad', big);
    for (let i = 0; i < 3; i++) a.cb.publish(event(i), Date.now());
    // At least once: a publish whose XADD answered late (20 MiB just written) is queued and sent again;
    // the store ignores the copy (docs/callbacks.md). What must hold: every callback arrives, no intruder's entry stays.
    const distinct = (got: StreamEvent[]): number => new Set(got.map((e) => e.streamId)).size;
    await until(() => distinct(b.got) === 3, 5000).catch((e: unknown) => {
      console.log(b.got.length, [...b.cb.rejected], [...a.cb.rejected], a.warnings, b.warnings);
      throw e;
    });
    await until(() => a.rejected('oversized') + b.rejected('oversized') === 20, 2000);
    const left = (await raw.xrange(key(), '-', '+')).map(([, fields]) => fields);
    expect(left.some((f) => f.includes('intruder'))).toBe(false);
    expect(left.length).toBeGreaterThanOrEqual(3);
    expect(left.length).toBeLessThanOrEqual(6);
    const out = Number((await raw.info('stats')).match(/total_net_output_bytes:(\d+)/)![1]) - outBefore;
    console.log(`20 entries of 1 MiB in the stream: ${out} bytes sent by Redis to all clients`);
    expect(out).toBeLessThan(1024 * 1024);
    // A replica starting now reads back the window without them.
    const c = replica();
    await until(() => distinct(c.got) === 3, 3000);
  }, 20_000);

  it('Redis paused (SIGSTOP): connected drops to false within 3 s, and comes back with the callbacks of the pause', async () => {
    const [a, b] = await pair();
    server.pause();
    const pausedAt = Date.now();
    try {
      await until(() => !a.cb.connected && !b.cb.connected, 3000);
      console.log(`Redis paused: fan-out connected false after ${Date.now() - pausedAt} ms`);
      a.cb.publish(event(1), Date.now());
    } finally {
      server.resume();
    }
    await until(() => a.cb.connected && b.cb.connected, 5000);
    await until(() => b.got.some((e) => e.streamId === 'p-1'), 3000);
  }, 20_000);
});
