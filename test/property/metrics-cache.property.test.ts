import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/zego/stream-event.js';
import type { Format } from '../../src/metrics/exposition.js';
import { StreamFamilies } from '../../src/metrics/block-cache.js';
import { StateStore, type WatchedStream } from '../../src/state/store.js';
import type { ProbeOutcome } from '../../src/zego/outcome.js';

/**
 * The /metrics render keeps encoded blocks and re-encodes only the streams that changed, copying
 * every other line's bytes by offset. Whatever happens between two scrapes (probes, callbacks,
 * reloads that add, drop, reorder or relabel streams, streams discovered or forgotten one at a
 * time, labels with multi-byte characters), its output must be byte for byte what a render
 * without any cache writes.
 */
const T0 = 1_700_000_000_000;
const IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
/** Ids that only single adds bring (discovery), besides the reloads' ones. */
const FOUND = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9'];
const LABEL_VALUES = ['x', 'é', '日本', 'a"b', 'c\\d', 'line1\nline2', ''];

const outcome: fc.Arbitrary<ProbeOutcome> = fc.oneof(
  fc.integer({ min: 0, max: 2_000 }).map((ago): ProbeOutcome => ({ kind: 'active', createTimeSec: T0 / 1000 - ago })),
  fc.constant<ProbeOutcome>({ kind: 'active', createTimeSec: null }),
  fc.constant<ProbeOutcome>({ kind: 'closed', createTimeSec: 1, closeTimeSec: 2 }),
  fc.constant<ProbeOutcome>({ kind: 'not_found' }),
  fc.constant<ProbeOutcome>({ kind: 'failed', reason: 'transient', message: 'boom' }),
);

const watched: fc.Arbitrary<WatchedStream[]> = fc.uniqueArray(
  fc.record({
    id: fc.constantFrom(...IDS),
    intervalMs: fc.constantFrom(500, 1000, 15_000),
    labels: fc.dictionary(fc.constantFrom('team', 'zone', 'app'), fc.constantFrom(...LABEL_VALUES), { maxKeys: 2 }),
  }),
  { selector: (w) => w.id, maxLength: IDS.length },
);

type Op =
  | { op: 'probe'; id: string; outcome: ProbeOutcome }
  | { op: 'callback'; id: string; close: boolean; type: number }
  | { op: 'reload'; streams: WatchedStream[] }
  | { op: 'add'; stream: WatchedStream }
  | { op: 'remove'; id: string }
  | { op: 'scrape'; format: Format; advanceMs: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('probe' as const), id: fc.constantFrom(...IDS, ...FOUND), outcome }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('callback' as const), id: fc.constantFrom(...IDS), close: fc.boolean(), type: fc.integer({ min: 0, max: 7 }) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reload' as const), streams: watched }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('add' as const),
      stream: fc.record({
        id: fc.constantFrom(...IDS, ...FOUND),
        intervalMs: fc.constantFrom(1000, 15_000),
        labels: fc.constantFrom<Record<string, string>>({}, { zone: 'é' }),
      }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('remove' as const), id: fc.constantFrom(...IDS, ...FOUND) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('scrape' as const),
      format: fc.constantFrom<Format>('text', 'openmetrics'),
      advanceMs: fc.integer({ min: 0, max: 5_000 }),
    }),
  },
);

describe('StreamFamilies cache (property)', () => {
  it('renders exactly what an uncached render writes, after any sequence of changes', () => {
    fc.assert(
      fc.property(watched, fc.array(op, { maxLength: 40 }), fc.integer({ min: 1, max: 4 }), (initial, ops, blockSize) => {
        let now = T0;
        let seq = 0;
        const store = new StateStore({ logger: pino({ level: 'silent' }), now: () => now });
        store.setStreams(initial);
        const small = new StreamFamilies({ blockSize });
        const auto = new StreamFamilies();
        const check = (format: Format): void => {
          const expected = new StreamFamilies({ blockSize: 1_000 }).render([...store.snapshot()], now, format);
          expect(small.render(store.snapshot(), now, format)).toBe(expected);
          expect(auto.render(store.snapshot(), now, format)).toBe(expected);
        };
        for (const o of ops) {
          if (o.op === 'probe') {
            now += 10;
            store.applyProbe(o.id, { outcome: o.outcome, code: '0', sentAtMs: now - 5, durationMs: 5 });
          } else if (o.op === 'callback') {
            now += 10;
            const e: StreamEvent = o.close
              ? {
                  event: 'stream_close',
                  streamId: o.id,
                  streamSeq: ++seq,
                  createTimeMs: T0 - 1000,
                  destroyTimeMs: now,
                  type: o.type,
                  reason: o.type === 1 ? 'heartbeat_timeout' : 'normal_stop',
                }
              : { event: 'stream_create', streamId: o.id, streamSeq: ++seq, createTimeMs: now - 1000 };
            store.applyCallback(o.id, e, now);
          } else if (o.op === 'reload') {
            store.setStreams(o.streams);
          } else if (o.op === 'add') {
            store.add(o.stream);
          } else if (o.op === 'remove') {
            store.remove(o.id);
          } else {
            now += o.advanceMs;
            check(o.format);
          }
        }
        check('text');
      }),
      { numRuns: 300 },
    );
  });

  it('renders exactly what an uncached render writes while thousands of streams are discovered and forgotten between scrapes', () => {
    // The default block layout (256 to 512 per block, ~16 blocks up to 8192 streams) at sizes where the
    // block size grows with the list, with streams probed, added in bursts and removed anywhere.
    type Step = { add: number; removeEvery: number; probeEvery: number; format: Format };
    const step: fc.Arbitrary<Step> = fc.record({
      add: fc.integer({ min: 0, max: 1500 }),
      removeEvery: fc.integer({ min: 0, max: 400 }),
      probeEvery: fc.integer({ min: 1, max: 50 }),
      format: fc.constantFrom<Format>('text', 'openmetrics'),
    });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3000 }), fc.array(step, { minLength: 1, maxLength: 5 }), (initial, steps) => {
        let now = T0;
        let next = 0;
        const store = new StateStore({ logger: pino({ level: 'silent' }), now: () => now });
        const add = (): void => {
          const id = `s${next++}`;
          store.add({ id, intervalMs: 1000, labels: next % 3 ? {} : { zone: '日本' } });
        };
        for (let i = 0; i < initial; i++) add();
        const fam = new StreamFamilies();
        fam.render(store.snapshot(), now, 'text');
        for (const st of steps) {
          for (let i = 0; i < st.add; i++) add();
          const ids = store.snapshot().map((s) => s.id);
          if (st.removeEvery > 0) for (let i = st.removeEvery - 1; i < ids.length; i += st.removeEvery) store.remove(ids[i]!);
          for (let i = 0; i < ids.length; i += st.probeEvery) {
            store.applyProbe(ids[i]!, { outcome: { kind: 'active', createTimeSec: T0 / 1000 - i }, code: '0', sentAtMs: now, durationMs: 1 });
          }
          now += 1000;
          const expected = new StreamFamilies({ blockSize: 1e9 }).render([...store.snapshot()], now, st.format);
          expect(fam.render(store.snapshot(), now, st.format)).toBe(expected);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('keeps the bytes of unchanged streams when only some changed (no full re-encode hides a bug)', () => {
    // 600 streams in blocks of 50: one probe touches one block; the other blocks' chunks are the
    // very same Buffer objects as before, and the output still matches an uncached render.
    let now = T0;
    const store = new StateStore({ logger: pino({ level: 'silent' }), now: () => now });
    store.setStreams(Array.from({ length: 600 }, (_, i) => ({ id: `s${i}`, intervalMs: 1000, labels: { zone: i % 2 ? 'é' : 'x' } })));
    for (let i = 0; i < 600; i++)
      store.applyProbe(`s${i}`, { outcome: { kind: 'active', createTimeSec: T0 / 1000 - i }, code: '0', sentAtMs: now, durationMs: 1 });
    const fam = new StreamFamilies({ blockSize: 50 });
    const before = [...fam.chunks(store.snapshot(), now, 'text')];
    now += 1000;
    store.applyProbe('s275', { outcome: { kind: 'closed', createTimeSec: 1, closeTimeSec: 2 }, code: '41006', sentAtMs: now, durationMs: 1 });
    const after = [...fam.chunks(store.snapshot(), now, 'text')];
    const reused = after.filter((c) => c.length > 0 && before.includes(c)).length;
    // 8 cached families with samples (no close reason yet) × 12 blocks, less the 8 re-encoded
    // for block 5, plus the 10 headers.
    expect(reused).toBe(8 * 12 - 8 + 10);
    expect(Buffer.concat(after).toString()).toBe(new StreamFamilies().render([...store.snapshot()], now, 'text'));
    expect(Buffer.concat(after).toString()).toContain('zego_stream_active{stream_id="s275",zone="é"} 0\n');
  });
});
