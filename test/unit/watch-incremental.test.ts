import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import type { Config } from '../../src/config/types.js';
import { Exporter } from '../../src/exporter.js';
import { StreamFamilies } from '../../src/metrics/block-cache.js';
import type { PartContext, PartFactory } from '../../src/parts/part.js';
import { WatchedSet } from '../../src/parts/watched.js';
import { Budget } from '../../src/scheduler/budget.js';
import { planBudget } from '../../src/scheduler/plan.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { StateStore, type WatchedStream } from '../../src/state/store.js';
import { testConfig } from '../helpers/config.js';
import { fakeClockExporters, metricsText, T0, testExporter } from '../helpers/exporter-harness.js';

/**
 * Issue 16 #6: discovering a stream costs O(1) however many are watched. A burst of 10k
 * discoveries used to rebuild the watched list, store, scheduler and plan once per stream
 * (quadratic); now each is one add to each, and /metrics re-encodes only the new streams.
 */
function config(streams: string[]): Config {
  return testConfig({ streams });
}

/** A WatchedStream whose every field read is counted: the work done per discovered stream. */
function counted(id: string, reads: { n: number }, labels: Record<string, string> = {}): WatchedStream {
  return {
    get id() {
      reads.n++;
      return id;
    },
    get intervalMs() {
      reads.n++;
      return 10_000;
    },
    get labels() {
      reads.n++;
      return labels;
    },
  };
}

interface Finder {
  factory: PartFactory;
  ctx: () => PartContext;
  found: WatchedStream[];
  wholeReads: () => number;
}

/** A part that finds streams (as discovery or a room list would) and reports them one by one. */
function finder(name: string): Finder {
  let ctx: PartContext | undefined;
  const found: WatchedStream[] = [];
  let wholeReads = 0;
  const factory: PartFactory = (_c, c) => {
    ctx = c;
    return {
      name,
      start: async () => undefined,
      applyConfig: () => undefined,
      stop: async () => undefined,
      watched: () => {
        wholeReads++;
        return found;
      },
    };
  };
  return { factory, ctx: () => ctx!, found, wholeReads: () => wholeReads };
}

function exporter(cfg: Config, parts: PartFactory[]): Exporter {
  return testExporter({ config: cfg, parts });
}

const metrics = (exp: Exporter): Promise<string> => metricsText(exp);

fakeClockExporters();

describe('discovery cost', () => {
  it('a discovered stream costs the same few reads at 1k and at 10k watched streams, and no part list is re-read', () => {
    const perStream = (n: number): number => {
      const f = finder('finder');
      const exp = exporter(config(['listed']), [f.factory]);
      const before = f.wholeReads();
      const reads = { n: 0 };
      for (let i = 0; i < n; i++) {
        const w = counted(`found-${i}`, reads);
        f.found.push(w);
        f.ctx().watchAdded(w);
        // What a scrape asks between discoveries: the plan, from interval classes.
        if (i % 100 === 0) expect(exp.status().streamsWatched).toBe(i + 2);
      }
      expect(exp.status().streamsWatched).toBe(n + 1);
      expect(exp.status().demandPerSec).toBeCloseTo((n + 1) / 10, 6);
      expect(f.wholeReads()).toBe(before);
      return reads.n / n;
    };
    const small = perStream(1_000);
    const large = perStream(10_000);
    // Rebuilding per discovery read every watched stream again: thousands of reads each at 10k.
    expect(large).toBe(small);
    expect(large).toBeLessThanOrEqual(16);
  });

  it('a forgotten stream leaves at once; ids the config lists or another part still watches stay', async () => {
    const one = finder('one');
    const two = finder('two');
    const exp = exporter(config(['listed']), [one.factory, two.factory]);
    one.ctx().watchAdded({ id: 'listed', intervalMs: 1000, labels: { from: 'part' } });
    one.ctx().watchAdded({ id: 'shared', intervalMs: 10_000, labels: { by: 'one' } });
    two.ctx().watchAdded({ id: 'shared', intervalMs: 10_000, labels: { by: 'two' } });
    two.ctx().watchAdded({ id: 'own', intervalMs: 10_000, labels: {} });
    two.ctx().watchAdded({ id: 'own', intervalMs: 10_000, labels: {} });
    let text = await metrics(exp);
    // The config's stream keeps its interval and labels; the first part to add an id wins.
    expect(text).toContain('zego_stream_interval_seconds{stream_id="listed"} 10\n');
    expect(text).toContain('zego_stream_interval_seconds{stream_id="shared",by="one"} 10\n');
    expect(exp.status().streamsWatched).toBe(3);

    one.ctx().watchRemoved('listed');
    one.ctx().watchRemoved('shared');
    two.ctx().watchRemoved('own');
    text = await metrics(exp);
    expect(text).toContain('stream_id="listed"');
    expect(text).toContain('stream_id="shared"');
    expect(text).not.toContain('stream_id="own"');
    // A part removing what it never added changes nothing.
    one.ctx().watchRemoved('shared');
    expect(exp.status().streamsWatched).toBe(2);
    two.ctx().watchRemoved('shared');
    expect(await metrics(exp)).not.toContain('stream_id="shared"');
    expect(exp.status().streamsWatched).toBe(1);
    expect(exp.status().demandPerSec).toBeCloseTo(0.1, 6);
  });

  it("a reload still re-reads every part's full list (and single changes go on from there)", async () => {
    const f = finder('finder');
    const exp = exporter(config(['a']), [f.factory]);
    f.found.push({ id: 'x', intervalMs: 10_000, labels: {} });
    f.ctx().watchAdded(f.found[0]!);
    f.found.splice(0);
    f.found.push({ id: 'y', intervalMs: 10_000, labels: {} });
    exp.applyConfig(config(['a', 'b']));
    const text = await metrics(exp);
    expect(text).toContain('zego_stream_interval_seconds{stream_id="y"}');
    expect(text).not.toContain('stream_id="x"');
    // 'x' left with the reload; a late remove of it must not take anything else along.
    f.ctx().watchRemoved('x');
    f.ctx().watchRemoved('y');
    expect(exp.status().streamsWatched).toBe(2);
  });
});

describe('WatchedSet', () => {
  it('reports a change only when an id starts or stops being watched by anyone', () => {
    const set = new WatchedSet();
    const list = set.reset(
      [{ id: 'c', intervalMs: 1, labels: {} }],
      [[{ id: 'c', intervalMs: 2, labels: {} }], undefined, [{ id: 'p', intervalMs: 3, labels: {} }]],
    );
    expect(list.map((w) => [w.id, w.intervalMs])).toEqual([
      ['c', 1],
      ['p', 3],
    ]);
    expect(set.add(1, 'p')).toBe(false);
    expect(set.add(1, 'n')).toBe(true);
    expect(set.add(1, 'n')).toBe(false);
    expect(set.remove(0, 'n')).toBe(false);
    expect(set.remove(1, 'n')).toBe(true);
    expect(set.remove(2, 'p')).toBe(false);
    expect(set.remove(1, 'p')).toBe(true);
    expect(set.remove(0, 'c')).toBe(false);
    expect(set.add(2, 'c')).toBe(false);
  });
});

describe('Scheduler add/remove', () => {
  it('probes an added stream at once, stops a removed one, and plans from interval classes like planBudget does', async () => {
    const budget = new Budget({ rateLimit: 2, hardLimit: 40 });
    const probes: string[] = [];
    const scheduler = new Scheduler({
      budget,
      probe: async (id) => {
        probes.push(id);
        return { outcome: { kind: 'active', createTimeSec: 1 }, code: '0', sentAtMs: Date.now(), durationMs: 1 };
      },
      onResult: () => undefined,
    });
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
    // 7 cached families with samples × 12 old blocks, the new stream in a 13th block, + 9 headers.
    expect(reusedOf(before, appended)).toBe(7 * 12 + 9);
    expect(Buffer.concat(appended).toString()).toBe(uncached());

    store.remove('s260');
    const removed = [...fam.chunks(store.snapshot(), now, 'text')];
    // Only block 5 (s250…s299) is copied without s260; the 12 others are handed out as they were.
    expect(reusedOf(appended, removed)).toBe(7 * 12 + 9);
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
