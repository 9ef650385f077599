import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Format } from '../../src/metrics/exposition.js';
import { ScrapeRenderer } from '../../src/metrics/scrape.js';
import { StreamFamilies } from '../../src/metrics/block-cache.js';
import { initialState, type StreamRecord } from '../../src/state/store.js';

const streams: StreamRecord[] = Array.from({ length: 3 }, (_, i) => initialState({ id: `s${i}`, intervalMs: 1000, labels: {} }));

function renderer(selfRender: (format: Format) => Promise<string>): { r: ScrapeRenderer; calls: { self: number; snapshot: number } } {
  const calls = { self: 0, snapshot: 0 };
  const r = new ScrapeRenderer({
    self: {
      render: (format) => {
        calls.self++;
        return selfRender(format);
      },
    },
    families: new StreamFamilies(),
    snapshot: () => {
      calls.snapshot++;
      return streams;
    },
    now: () => 1_700_000_000_000,
  });
  return { r, calls };
}

describe('ScrapeRenderer', () => {
  it('serves concurrent scrapes of one format from one render, and the next scrape renders again', async () => {
    const { r, calls } = renderer(async () => 'self_metric 1\n');
    const bodies = await Promise.all([r.render('text'), r.render('text'), r.render('text')]);
    expect(calls).toEqual({ self: 1, snapshot: 1 });
    expect(bodies[1]).toBe(bodies[0]);
    expect(Buffer.concat(bodies[0]!).toString()).toMatch(/^self_metric 1\n# HELP zego_stream_active /);
    await r.render('text');
    expect(calls.self).toBe(2);
  });

  it('renders each format on its own; OpenMetrics ends with # EOF', async () => {
    const { r, calls } = renderer(async () => '');
    const [text, om] = await Promise.all([r.render('text'), r.render('openmetrics')]);
    expect(calls.self).toBe(2);
    expect(Buffer.concat(text).toString()).not.toContain('# EOF');
    expect(Buffer.concat(om).toString().endsWith('# EOF\n')).toBe(true);
  });

  it('hands the body to waiting scrapes one per event-loop turn', async () => {
    // Each scrape writes megabytes to its socket: ten of them in one turn would stall the loop.
    // A chain of setImmediate counts the loop's turns; every scrape must see a different one.
    let turn = 0;
    let counting = true;
    const count = (): void => {
      turn++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    const { r } = renderer(async () => '');
    const seen = await Promise.all([1, 2, 3, 4].map(() => r.render('text').then(() => turn)));
    counting = false;
    expect(new Set(seen).size).toBe(4);
  });

  it('a failed render fails every waiting scrape and the next scrape starts afresh', async () => {
    let fail = true;
    const { r } = renderer(async () => {
      await nextTurn();
      if (fail) throw new Error('collector broke');
      return '';
    });
    const results = await Promise.allSettled([r.render('text'), r.render('text')]);
    expect(results.map((x) => x.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await expect(r.render('text')).resolves.toBeInstanceOf(Array);
  });
});
