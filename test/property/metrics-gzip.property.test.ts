import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Format } from '../../src/metrics/exposition.js';
import { StreamFamilies } from '../../src/metrics/block-cache.js';
import { gzipChunks } from '../../src/metrics/gzip.js';
import { StateStore } from '../../src/state/store.js';
import type { ProbeOutcome } from '../../src/zego/outcome.js';

/**
 * A gzipped scrape is the render's chunks compressed one gzip member each, members reused while
 * their chunk lives. Whatever the streams (labels with multi-byte characters and escapes, states,
 * adds and removes between scrapes, either format), the gzip body must decode to exactly the
 * plain body of the same render.
 */
const T0 = 1_700_000_000_000;
const LABEL_VALUES = ['x', 'é', '日本', 'a"b', 'c\\d', 'line1\nline2', ''];

const outcome: fc.Arbitrary<ProbeOutcome> = fc.oneof(
  fc.integer({ min: 0, max: 2_000 }).map((ago): ProbeOutcome => ({ kind: 'active', createTimeSec: T0 / 1000 - ago })),
  fc.constant<ProbeOutcome>({ kind: 'closed', createTimeSec: 1, closeTimeSec: 2 }),
  fc.constant<ProbeOutcome>({ kind: 'not_found' }),
  fc.constant<ProbeOutcome>({ kind: 'failed', reason: 'transient', message: 'boom' }),
);

const stream = fc.record({
  id: fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/),
  labels: fc.dictionary(fc.constantFrom('team', 'zone', 'app'), fc.constantFrom(...LABEL_VALUES), { maxKeys: 3 }),
  outcome: fc.option(outcome, { nil: undefined }),
});

const scrape = fc.record({
  format: fc.constantFrom<Format>('text', 'openmetrics'),
  add: fc.array(stream, { maxLength: 30 }),
  removeEvery: fc.integer({ min: 0, max: 5 }),
  probe: fc.array(fc.tuple(fc.nat(), outcome), { maxLength: 20 }),
});

describe('gzip of /metrics (property)', () => {
  it('decodes to exactly the plain body of the same render, scrape after scrape', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stream, { maxLength: 300 }),
        fc.array(scrape, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 64 }),
        async (initial, scrapes, blockSize) => {
          let now = T0;
          const store = new StateStore({ logger: pino({ level: 'silent' }), now: () => now });
          const add = (s: (typeof initial)[number]): void => {
            if (store.snapshot().some((r) => r.id === s.id)) return;
            store.add({ id: s.id, intervalMs: 1000, labels: s.labels });
            if (s.outcome) store.applyProbe(s.id, { outcome: s.outcome, code: '0', sentAtMs: now, durationMs: 1 });
          };
          for (const s of initial) add(s);
          const fam = new StreamFamilies({ blockSize });
          for (const sc of scrapes) {
            for (const s of sc.add) add(s);
            const ids = store.snapshot().map((s) => s.id);
            if (sc.removeEvery > 0) for (let i = sc.removeEvery - 1; i < ids.length; i += sc.removeEvery) store.remove(ids[i]!);
            const left = store.snapshot();
            for (const [i, o] of sc.probe)
              if (left.length > 0) store.applyProbe(left[i % left.length]!.id, { outcome: o, code: '0', sentAtMs: now, durationMs: 1 });
            now += 1000;
            const chunks = [...fam.chunks(store.snapshot(), now, sc.format)];
            const plain = Buffer.concat(chunks);
            const zipped = Buffer.concat(await gzipChunks(chunks));
            expect(gunzipSync(zipped).equals(plain)).toBe(true);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
