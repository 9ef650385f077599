import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { StreamFamilies } from '../../src/metrics/block-cache.js';
import { StateStore } from '../../src/state/store.js';
import type { ProbeResult } from '../../src/zego/outcome.js';

const T = 1_700_000_000_000;
const active = (createTimeSec: number): ProbeResult => ({ outcome: { kind: 'active', createTimeSec }, code: '0', sentAtMs: T, durationMs: 1 });
const closed: ProbeResult = { outcome: { kind: 'closed', createTimeSec: 1, closeTimeSec: 2 }, code: '41006', sentAtMs: T, durationMs: 1 };
const line = (text: string, prefix: string): string | undefined => text.split('\n').find((l) => l.startsWith(prefix));

/** The render caches lines and whole family chunks: these prove every change still shows. */
describe('StreamFamilies caching', () => {
  function setup(): { store: StateStore; fam: StreamFamilies; render: (nowMs: number, format?: 'text' | 'openmetrics') => string } {
    let now = T;
    const store = new StateStore({ logger: pino({ level: 'silent' }), now: () => now });
    store.setStreams([
      { id: 'a', intervalMs: 1000, labels: { team: 'x' } },
      { id: 'b', intervalMs: 1000, labels: {} },
    ]);
    const fam = new StreamFamilies();
    return {
      store,
      fam,
      render: (nowMs, format = 'text') => {
        now = nowMs;
        return fam.render(store.snapshot(), nowMs, format);
      },
    };
  }

  it('shows a state change made through the store, and keeps unchanged output identical', () => {
    const { store, render } = setup();
    store.applyProbe('a', active(T / 1000 - 10));
    const first = render(T);
    expect(line(first, 'zego_stream_active{stream_id="a"')).toBe('zego_stream_active{stream_id="a",team="x"} 1');
    expect(render(T)).toBe(first);
    store.applyProbe('a', closed);
    expect(line(render(T), 'zego_stream_active{stream_id="a"')).toBe('zego_stream_active{stream_id="a",team="x"} 0');
  });

  it('recomputes uptime at every render even when nothing changed', () => {
    const { store, render } = setup();
    store.applyProbe('a', active(T / 1000 - 10));
    expect(line(render(T), 'zego_stream_uptime_seconds{stream_id="a"')).toBe('zego_stream_uptime_seconds{stream_id="a",team="x"} 10');
    expect(line(render(T + 5000), 'zego_stream_uptime_seconds{stream_id="a"')).toBe('zego_stream_uptime_seconds{stream_id="a",team="x"} 15');
  });

  it('a change first rendered in one format still reaches the other format', () => {
    const { store, render } = setup();
    store.applyProbe('b', active(T / 1000));
    render(T, 'text');
    render(T, 'openmetrics');
    store.applyProbe('b', closed);
    expect(line(render(T, 'openmetrics'), 'zego_stream_active{stream_id="b"}')).toBe('zego_stream_active{stream_id="b"} 0');
    expect(line(render(T, 'text'), 'zego_stream_active{stream_id="b"}')).toBe('zego_stream_active{stream_id="b"} 0');
  });

  it('follows reloads: new labels, removed and added streams', () => {
    const { store, render } = setup();
    store.applyProbe('a', active(T / 1000));
    render(T);
    store.setStreams([
      { id: 'a', intervalMs: 2000, labels: { team: 'y' } },
      { id: 'c', intervalMs: 1000, labels: {} },
    ]);
    const text = render(T);
    expect(line(text, 'zego_stream_active{stream_id="a"')).toBe('zego_stream_active{stream_id="a",team="y"} 1');
    expect(line(text, 'zego_stream_interval_seconds{stream_id="a"')).toBe('zego_stream_interval_seconds{stream_id="a",team="y"} 2');
    expect(text).not.toContain('stream_id="b"');
    expect(line(text, 'zego_stream_probe_success{stream_id="c"}')).toBe('zego_stream_probe_success{stream_id="c"} 0');
  });

  it('a render paused at a yield while another renders a reloaded list still writes exactly its own list', () => {
    // Text and OpenMetrics renders run concurrently; a reload between them changes the list.
    const store = new StateStore({ logger: pino({ level: 'silent' }), now: () => T });
    const ids = Array.from({ length: 12_000 }, (_, i) => `s${i}`);
    store.setStreams(ids.map((id) => ({ id, intervalMs: 1000, labels: {} })));
    const fam = new StreamFamilies();
    fam.render(store.snapshot(), T, 'text');
    const listA = [...store.snapshot()];
    const expectedA = new StreamFamilies().render(listA, T, 'text');
    const a = fam.chunks(listA, T, 'text');
    const partA: Buffer[] = [];
    for (let n = 0; n < 3; n++) partA.push(a.next().value as Buffer); // paused inside its first pass
    store.setStreams(ids.slice(500).map((id) => ({ id, intervalMs: 1000, labels: {} }))); // 500 dropped: every block shifts
    const b = fam.render(store.snapshot(), T, 'openmetrics');
    expect(b).not.toContain('stream_id="s0"}');
    for (let r = a.next(); !r.done; r = a.next()) partA.push(r.value);
    expect(Buffer.concat(partA).toString()).toBe(expectedA);
  });

  it('a stream whose state becomes known gains its zego_stream_active series', () => {
    const { store, render } = setup();
    const before = render(T);
    expect(line(before, 'zego_stream_active{stream_id="b"}')).toBeUndefined();
    store.applyProbe('b', active(T / 1000));
    expect(line(render(T), 'zego_stream_active{stream_id="b"}')).toBe('zego_stream_active{stream_id="b"} 1');
  });
});
