import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import type { Config } from '../../src/config/types.js';
import { Exporter } from '../../src/exporter.js';
import { StreamFamilies } from '../../src/metrics/block-cache.js';
import type { PartContext, PartFactory } from '../../src/parts/part.js';
import { ApiCaller, type ApiBudgetStatus } from '../../src/api/service.js';
import { Budget } from '../../src/scheduler/budget.js';
import { planBudget } from '../../src/scheduler/plan.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { StateStore } from '../../src/state/store.js';
import type { ProbeResult } from '../../src/zego/outcome.js';

/**
 * Issue 16 #6: discovering a stream costs O(1) however many are watched. A burst of 10k
 * discoveries used to rebuild the watched list, store, scheduler and plan once per stream
 * (quadratic); now each is one add to each, and /metrics re-encodes only the new streams.
 */
const T0 = 1_700_000_000_000;
const ENDPOINT = 'http://127.0.0.1:9';

function config(streams: string[], intervalMs = 10_000): Config {
  return {
    zego: {
      appId: 1234,
      serverSecret: new Secret('0123456789abcdef0123456789abcdef'),
      endpoint: ENDPOINT,
      isTest: false,
      rateLimit: 10,
      timeoutMs: 2000,
      streamListRateLimit: 40,
      userNumRateLimit: 8,
      mixTaskInfoRateLimit: 8,
    },
    probe: { intervalMs, maxRoomStreams: 100_000, roomStreamsForgetAfterMs: 3_600_000 },
    streams: streams.map((id) => ({ id, intervalMs: 10_000, labels: {} })),
    callbacks: {
      secret: new Secret('cb'),
      path: '/zego/callback',
      listenAddress: '127.0.0.1:0',
      listenAddressDefault: false,
      tls: 'off',
      fanoutAcceptUnsigned: false,
      discover: { patterns: ['*'], maxStreams: 100_000, forgetAfterMs: 3_600_000, streamsSeverity: 'none' },
    },
  };
}

/** A part that only keeps its context, to discover through it as rooms and callbacks do. */
function finder(): { factory: PartFactory; ctx: () => PartContext } {
  let ctx: PartContext | undefined;
  const factory: PartFactory = (_c, c) => {
    ctx = c;
    return { name: 'finder', start: async () => undefined, applyConfig: () => undefined, stop: async () => undefined };
  };
  return { factory, ctx: () => ctx! };
}

const running: Exporter[] = [];

function exporter(cfg: Config, parts: PartFactory[]): Exporter {
  const exp = new Exporter({ config: cfg, logger: pino({ level: 'silent' }), build: { version: 't', revision: 't' }, parts });
  running.push(exp);
  return exp;
}

async function metrics(exp: Exporter): Promise<string> {
  return Buffer.concat(await exp.metrics('text')).toString('utf8');
}

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});

afterEach(async () => {
  vi.restoreAllMocks();
  const stops = running.splice(0).map((e) => e.stop(0));
  await vi.runAllTimersAsync();
  await Promise.all(stops);
  vi.useRealTimers();
});

/** DescribeRTCStreamState's budget in the exporter's status. */
function probeBudget(exp: Exporter): ApiBudgetStatus {
  const b = exp.status().apis.find((a) => a.api === 'DescribeRTCStreamState');
  if (!b) throw new Error('no DescribeRTCStreamState budget');
  return b;
}

describe('discovery cost', () => {
  it('a discovered stream is one add to the store and the schedule at 1k and at 10k watched: the watched set is never rebuilt', () => {
    const rebuilds = vi.spyOn(StateStore.prototype, 'setStreams');
    const discover = (n: number): void => {
      const f = finder();
      const exp = exporter(config(['listed']), [f.factory]);
      const before = rebuilds.mock.calls.length;
      const labels = Object.freeze({ severity: 'none' });
      for (let i = 0; i < n; i++) {
        expect(f.ctx().discover(`found-${i}`, labels, i % 2 === 0 ? 'room' : 'callback')).toBe('added');
        // What a scrape asks between discoveries: the plan, from interval classes.
        if (i % 100 === 0) expect(exp.status().streamsWatched).toBe(i + 2);
      }
      expect(exp.status().streamsWatched).toBe(n + 1);
      expect(probeBudget(exp).demandPerSec).toBeCloseTo((n + 1) / 10, 6);
      // A rebuild per discovery read every watched stream again: quadratic in a burst.
      expect(rebuilds.mock.calls.length).toBe(before);
    };
    discover(1_000);
    discover(10_000);
  });

  it('a forgotten stream leaves at once; ids the config lists or another source still holds stay', async () => {
    const f = finder();
    const exp = exporter(config(['listed']), [f.factory]);
    const ctx = f.ctx();
    expect(ctx.discover('listed', { from: 'part' }, 'room')).toBe('listed');
    ctx.discover('shared', { by: 'room' }, 'room');
    ctx.discover('shared', { by: 'callback' }, 'callback');
    ctx.discover('own', {}, 'callback');
    expect(ctx.discover('own', {}, 'callback')).toBe('known');
    let text = await metrics(exp);
    // The config's stream keeps its interval and labels; the first source to find an id gives its labels.
    expect(text).toContain('zego_stream_interval_seconds{stream_id="listed"} 10\n');
    expect(text).toContain('zego_stream_interval_seconds{stream_id="shared",by="room"} 10\n');
    expect(exp.status().streamsWatched).toBe(3);

    ctx.forget('listed', 'room');
    ctx.forget('shared', 'room');
    ctx.forget('own', 'callback');
    text = await metrics(exp);
    expect(text).toContain('stream_id="listed"');
    // Still held by callbacks, now with their labels.
    expect(text).toContain('zego_stream_interval_seconds{stream_id="shared",by="callback"} 10\n');
    expect(text).not.toContain('stream_id="own"');
    // Forgetting what a source never held changes nothing.
    ctx.forget('shared', 'room');
    expect(exp.status().streamsWatched).toBe(2);
    ctx.forget('shared', 'callback');
    expect(await metrics(exp)).not.toContain('stream_id="shared"');
    expect(exp.status().streamsWatched).toBe(1);
    expect(probeBudget(exp).demandPerSec).toBeCloseTo(0.1, 6);
  });

  it("a reload keeps what was discovered (no part is asked again) at the new probe interval; an id the config now lists is the config's", async () => {
    const f = finder();
    const exp = exporter(config(['a']), [f.factory]);
    f.ctx().discover('x', {}, 'room');
    f.ctx().discover('y', { mine: 'yes' }, 'callback');
    exp.applyConfig(config(['a', 'y'], 20_000));
    const text = await metrics(exp);
    expect(text).toContain('zego_stream_interval_seconds{stream_id="x"} 20\n');
    expect(text).toContain('zego_stream_interval_seconds{stream_id="y"} 10\n');
    expect(text).not.toContain('mine="yes"');
    expect(f.ctx().discovered('callback').size).toBe(0);
    // A late forget of the listed one takes nothing along.
    f.ctx().forget('y', 'callback');
    expect(exp.status().streamsWatched).toBe(3);
  });
});

describe('Scheduler add/remove', () => {
  it('probes an added stream at once, stops a removed one, and plans from interval classes like planBudget does', async () => {
    const budget = new Budget({ rateLimit: 2, hardLimit: 40 });
    const probes: string[] = [];
    const send = async (id: string): Promise<ProbeResult> => {
      probes.push(id);
      return { outcome: { kind: 'active', createTimeSec: 1 }, code: '0', sentAtMs: Date.now(), durationMs: 1 };
    };
    const scheduler = new Scheduler({ api: new ApiCaller({ action: 'DescribeRTCStreamState', budget, send }), onResult: () => undefined });
    scheduler.setStreams([{ id: 'a', intervalMs: 1000 }]);
    scheduler.start();
    await vi.advanceTimersByTimeAsync(100);
    scheduler.add({ id: 'b', intervalMs: 5000 });
    scheduler.add({ id: 'c', intervalMs: 5000 });
    await vi.advanceTimersByTimeAsync(1500);
    expect(new Set(probes)).toEqual(new Set(['a', 'b', 'c']));
    scheduler.remove('c');
    scheduler.add({ id: 'a', intervalMs: 5000 }); // a new interval for a watched one
    expect(Object.fromEntries(scheduler.intervalClasses())).toEqual({ 5000: 2 });
    expect(planBudget([5000, 5000], 2)).toMatchObject({ streams: 2, demandPerSec: 0.4 });
    probes.splice(0);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(probes).not.toContain('c');
    expect(probes.filter((id) => id === 'b').length).toBeGreaterThanOrEqual(3);
    scheduler.stop();
    await budget.stop(0);
  });
});

describe('StateStore add/remove', () => {
  it('keeps handed-out snapshots as they were and builds the next one once, however many streams were added', () => {
    const store = new StateStore({ logger: pino({ level: 'silent' }) });
    store.setStreams([{ id: 'a', intervalMs: 1000, labels: {} }]);
    const first = store.snapshot();
    for (let i = 0; i < 100; i++) store.add({ id: `d${i}`, intervalMs: 1000, labels: {} });
    store.remove('a');
    expect(first.map((s) => s.id)).toEqual(['a']);
    const second = store.snapshot();
    expect(store.snapshot()).toBe(second);
    expect(second.map((s) => s.id)).toEqual(Array.from({ length: 100 }, (_, i) => `d${i}`));
    store.add({ id: 'd5', intervalMs: 2000, labels: { x: 'y' } });
    expect(store.snapshot()).toBe(second);
    expect(store.get('d5')?.intervalMs).toBe(2000);
  });
});

describe('/metrics cache with streams appended and removed', () => {
  const probe = (store: StateStore, id: string, now: number): void =>
    store.applyProbe(id, { outcome: { kind: 'active', createTimeSec: T0 / 1000 - 5 }, code: '0', sentAtMs: now, durationMs: 1 });

  it('an appended stream re-encodes only the last block, a removed one only its own block', () => {
    const now = T0;
    const store = new StateStore({ logger: pino({ level: 'silent' }), now: () => now });
    store.setStreams(Array.from({ length: 600 }, (_, i) => ({ id: `s${i}`, intervalMs: 1000, labels: {} })));
    for (let i = 0; i < 600; i++) probe(store, `s${i}`, now);
    const fam = new StreamFamilies({ blockSize: 50 });
    const uncached = (): string => new StreamFamilies().render([...store.snapshot()], now, 'text');
    const reusedOf = (before: Buffer[], after: Buffer[]): number => after.filter((c) => c.length > 0 && before.includes(c)).length;

    const before = [...fam.chunks(store.snapshot(), now, 'text')];
    store.add({ id: 'new', intervalMs: 1000, labels: {} });
    probe(store, 'new', now);
    const appended = [...fam.chunks(store.snapshot(), now, 'text')];
    // 8 cached families with samples × 12 old blocks, the new stream in a 13th block, + 10 headers.
    expect(reusedOf(before, appended)).toBe(8 * 12 + 10);
    expect(Buffer.concat(appended).toString()).toBe(uncached());

    store.remove('s260');
    const removed = [...fam.chunks(store.snapshot(), now, 'text')];
    // Only block 5 (s250…s299) is copied without s260; the 12 others are handed out as they were.
    expect(reusedOf(appended, removed)).toBe(8 * 12 + 10);
    expect(Buffer.concat(removed).toString()).toBe(uncached());
    expect(Buffer.concat(removed).toString()).not.toContain('"s260"');
  });

  it('bursts of 1000 discoveries between scrapes hand out the bytes of the streams before them as they were (no re-cut of every block)', () => {
    let now = T0;
    const store = new StateStore({ logger: pino({ level: 'silent' }), now: () => now });
    const fam = new StreamFamilies();
    let formatted = 0;
    store.setStreams([]);
    for (let burst = 0; burst < 5; burst++) {
      const before = [...fam.chunks(store.snapshot(), now, 'text')];
      for (let i = 0; i < 1000; i++) {
        const id = `b${burst}-${i}`;
        store.add({ id, intervalMs: 1000, labels: {} });
        probe(store, id, now);
        formatted++;
      }
      now += 1000;
      const after = [...fam.chunks(store.snapshot(), now, 'text')];
      const text = Buffer.concat(after).toString();
      expect(text).toBe(new StreamFamilies().render([...store.snapshot()], now, 'text'));
      // Old streams' lines come out of buffers handed out before, but for the one block the new
      // streams filled (copied then) and the uptime family (it moves with the clock). Past 4096
      // streams the block size grows with the list: cutting blocks by position re-encoded all.
      const size = Math.max(256, Math.ceil(store.size / 16));
      const oldLines = after
        .filter((c) => c.length > 0 && !before.includes(c))
        .flatMap((c) => c.toString().split('\n'))
        .filter((l) => !l.startsWith('zego_stream_uptime_seconds') && Number(/stream_id="b(\d+)-/.exec(l)?.[1] ?? burst) < burst);
      expect(oldLines.length).toBeLessThanOrEqual(8 * size);
    }
    expect(store.size).toBe(formatted);
  });
});
