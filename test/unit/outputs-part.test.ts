import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Config, OutputConfig } from '../../src/config/types.js';
import { diagnose, type FeedState } from '../../src/outputs/diagnosis.js';
import { OutputsPart } from '../../src/outputs/part.js';
import type { HlsMemory, OutputProbeOutcome, OutputProber, OutputProbeResult, OutputTarget } from '../../src/outputs/types.js';
import { MixEvents } from '../../src/state/mix-events.js';
import type { MixTaskView } from '../../src/state/mix-tasks.js';
import type { ProbeOutcome } from '../../src/zego/outcome.js';
import { testConfig } from '../helpers/config.js';
import { discovering } from '../helpers/discovery.js';
import { fakePartContext } from '../helpers/part-context.js';

const T0 = 1_700_000_000_000;

const UP: OutputProbeResult = {
  reached: true,
  up: true,
  reason: null,
  detail: 'live',
  firstByteSeconds: 0.012,
  bitrateBps: 800_000,
  targetDurationSeconds: 2,
  mediaAdvancedAtMs: null,
  tlsNotAfterMs: null,
};
const down = (reason: OutputProbeResult['reason']): OutputProbeResult => ({ ...UP, up: false, reason, detail: `down: ${reason}` });
const UNREACHABLE: OutputProbeResult = { ...UP, reached: false, up: false, reason: 'unreachable', detail: 'connect ECONNREFUSED', firstByteSeconds: null };

/** A prober that answers what the test says per output URL, and records what it was asked. */
class FakeProber implements OutputProber {
  readonly answers = new Map<string, OutputProbeResult>();
  readonly calls: { target: OutputTarget; memory: HlsMemory | null; atMs: number }[] = [];
  closed = false;
  async probe(target: OutputTarget, memory: HlsMemory | null, nowMs: number): Promise<OutputProbeOutcome> {
    this.calls.push({ target, memory, atMs: nowMs });
    const r = this.answers.get(target.url) ?? UNREACHABLE;
    const advanced = r.reached && r.up ? nowMs : null;
    const result = { ...r, mediaAdvancedAtMs: r.mediaAdvancedAtMs ?? advanced };
    return {
      result,
      memory: target.kind === 'hls' ? { mediaSequence: this.calls.length, lastSegmentUri: 's.ts', segmentCount: 5, advancedAtMs: nowMs } : null,
    };
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const output = (url: string, over: Partial<OutputConfig> = {}): OutputConfig => {
  const u = new URL(url);
  return { url, name: `${u.protocol}//${u.host}${u.pathname}`, kind: u.pathname.endsWith('.flv') ? 'flv' : 'hls', intervalMs: 5_000, labels: {}, ...over };
};

function setup(outputs: OutputConfig[], extra: Partial<Config> = {}) {
  const config = testConfig({ extra: { outputs, ...extra } });
  const logger = pino({ level: 'silent' });
  const d = discovering(config, logger);
  const mix = new MixEvents();
  const prober = new FakeProber();
  const part = new OutputsPart(config, fakePartContext({ ...d.ctx, logger, mix }), () => prober);
  return { part, prober, d, mix, config };
}

const sent = (outcome: ProbeOutcome) => ({ sentAtMs: Date.now(), durationMs: 1, code: '0', outcome });

describe('outputs part', () => {
  beforeEach(() => vi.useFakeTimers({ now: T0 }));
  afterEach(() => vi.useRealTimers());

  it('renders the zego_output_* families, output = the URL without its query string, tokens nowhere', async () => {
    const h = setup([
      output('https://cdn.example.com/live/a.m3u8?token=SECRET1', { labels: { team: 'tv' }, streamId: 'host-a' }),
      output('http://cdn.example.com/live/b.flv?sig=SECRET2'),
    ]);
    h.prober.answers.set('https://cdn.example.com/live/a.m3u8?token=SECRET1', { ...UP, tlsNotAfterMs: T0 + 86_400_000 });
    h.prober.answers.set('http://cdn.example.com/live/b.flv?sig=SECRET2', down('no_media'));
    await h.part.start();
    await vi.advanceTimersByTimeAsync(2_600);
    // The prober was given the full URL (tokens and all), the interval and the kind.
    expect(h.prober.calls.map((c) => [c.target.url, c.target.kind, c.target.intervalSeconds])).toEqual([
      ['https://cdn.example.com/live/a.m3u8?token=SECRET1', 'hls', 5],
      ['http://cdn.example.com/live/b.flv?sig=SECRET2', 'flv', 5],
    ]);
    await vi.advanceTimersByTimeAsync(1_000);
    const text = h.part.metrics('text');
    expect(text).not.toMatch(/SECRET|token=|sig=/);
    const a = 'output="https://cdn.example.com/live/a.m3u8",kind="hls",team="tv"';
    const b = 'output="http://cdn.example.com/live/b.flv",kind="flv"';
    expect(text).toContain(`zego_output_up{${a}} 1\n`);
    expect(text).toContain(`zego_output_up{${b}} 0\n`);
    expect(text).toContain(`zego_output_probe_success{${b}} 1\n`);
    expect(text).toContain(`zego_output_interval_seconds{${a}} 5\n`);
    expect(text).toContain(`zego_output_media_age_seconds{${a}} 3.6\n`);
    expect(text).toContain(`zego_output_first_byte_seconds{${a}} 0.012\n`);
    expect(text).toContain(`zego_output_bitrate_bits_per_second{${a}} 800000\n`);
    expect(text).toContain(`zego_output_target_duration_seconds{${a}} 2\n`);
    expect(text).not.toContain(`zego_output_target_duration_seconds{${b}}`);
    expect(text).toContain(`zego_output_tls_not_after_timestamp_seconds{output="https://cdn.example.com/live/a.m3u8"} ${(T0 + 86_400_000) / 1000}\n`);
    expect(text).not.toContain('zego_output_tls_not_after_timestamp_seconds{output="http://cdn.example.com/live/b.flv"}');
    expect(text).toContain('zego_output_failures_total{output="http://cdn.example.com/live/b.flv",reason="no_media"} 1\n');
    // unreachable and not_found from the start; the others from their first count.
    expect(text).toContain('zego_output_failures_total{output="http://cdn.example.com/live/b.flv",reason="not_found"} 0\n');
    expect(text).toContain('zego_output_failures_total{output="https://cdn.example.com/live/a.m3u8",reason="unreachable"} 0\n');
    expect(text).not.toContain('zego_output_failures_total{output="http://cdn.example.com/live/b.flv",reason="no_keyframe"}');
    expect(text).toContain('zego_output_info{output="https://cdn.example.com/live/a.m3u8",kind="hls",stream_id="host-a",mix_task=""} 1\n');
    expect(text).toContain('zego_output_diagnosis{output="http://cdn.example.com/live/b.flv",layer="delivery"} 1\n');
    // The HLS memory of one probe is handed to the next.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(h.prober.calls[2]?.memory).toMatchObject({ mediaSequence: 1 });
    expect(h.part.metrics('openmetrics')).toContain('# TYPE zego_output_failures counter\n');
    await h.part.stop(0);
    expect(h.prober.closed).toBe(true);
  });

  it('a probe that cannot reach the CDN: probe_success 0, up and everything else as last known, counted as unreachable', async () => {
    const url = 'https://cdn.example.com/live/a.m3u8';
    const h = setup([output(url)]);
    h.prober.answers.set(url, UP);
    await h.part.start();
    await vi.advanceTimersByTimeAsync(1);
    h.prober.answers.set(url, UNREACHABLE);
    await vi.advanceTimersByTimeAsync(5_000);
    const text = h.part.metrics('text');
    const l = `{output="${url}",kind="hls"}`;
    expect(text).toContain(`zego_output_up${l} 1\n`);
    expect(text).toContain(`zego_output_probe_success${l} 0\n`);
    expect(text).toContain(`zego_output_last_success_timestamp_seconds${l} ${T0 / 1000}\n`);
    expect(text).toContain(`zego_output_bitrate_bits_per_second${l} 800000\n`);
    expect(text).toContain(`zego_output_failures_total{output="${url}",reason="unreachable"} 1\n`);
    await h.part.stop(0);
  });

  it('an output never reached has no up, no diagnosis; probe_success 0', async () => {
    const url = 'https://cdn.example.com/live/a.m3u8';
    const h = setup([output(url)]);
    await h.part.start();
    await vi.advanceTimersByTimeAsync(1);
    const text = h.part.metrics('text');
    expect(text).not.toContain('zego_output_up{');
    expect(text).not.toContain('zego_output_diagnosis{');
    expect(text).toContain(`zego_output_probe_success{output="${url}",kind="hls"} 0\n`);
    await h.part.stop(0);
  });

  it('a feed stream nothing else watches is watched with severity none from start, and let go when no output names it', async () => {
    const h = setup([output('https://cdn.example.com/a.m3u8', { streamId: 'host-a' })]);
    // Not while the parts are being built: the core watches what is discovered once they all are.
    expect(h.d.store.get('host-a')).toBeUndefined();
    await h.part.start();
    expect(h.d.store.get('host-a')).toMatchObject({ origin: 'output', labels: { severity: 'none' } });
    h.part.applyConfig(testConfig({ extra: { outputs: [output('https://cdn.example.com/a.m3u8')] } }));
    expect(h.d.store.get('host-a')).toBeUndefined();
    await h.part.stop(0);
  });

  it('diagnoses from the feed state: publisher when its stream closed, delivery when only the output is down, none when all is well', async () => {
    const url = 'https://cdn.example.com/a.m3u8';
    const h = setup([output(url, { streamId: 'host-a' })]);
    h.prober.answers.set(url, down('stale'));
    await h.part.start();
    await vi.advanceTimersByTimeAsync(1);
    const layer = () => /zego_output_diagnosis\{[^}]*layer="(\w+)"\} 1/.exec(h.part.metrics('text'))?.[1];
    h.d.store.applyProbe('host-a', sent({ kind: 'active', createTimeSec: T0 / 1000 - 60 }));
    expect(layer()).toBe('delivery');
    h.d.store.applyProbe('host-a', sent({ kind: 'closed', createTimeSec: null, closeTimeSec: T0 / 1000 }));
    expect(layer()).toBe('publisher');
    h.d.store.applyProbe('host-a', sent({ kind: 'active', createTimeSec: T0 / 1000 }));
    h.prober.answers.set(url, UP);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(layer()).toBe('none');
    expect(h.part.landing()).toBe('Outputs: 1 probed, 1 up, 0 down.');
    await h.part.stop(0);
  });

  it('a mix output: mixer when its task stopped while its room streams are live, publisher when they are gone', async () => {
    const url = 'https://cdn.example.com/mix.flv';
    const h = setup([output(url, { mixTask: 'show' })], { streams: [{ id: 'host', intervalMs: 10_000, labels: {} }] });
    const view = (running: boolean): MixTaskView => ({
      running,
      durationSec: null,
      probeSuccess: true,
      lastSuccessMs: T0,
      roomId: 'r1',
      output: null,
      stops: { callback: 0, inputs_gone: 0, unannounced: 0 },
      awaitingStopSinceMs: [],
    });
    let task = view(true);
    h.mix.provide((id) => (id === 'show' ? task : null));
    h.d.rewatch();
    h.d.store.applyRoomList('host', { roomId: 'r1', listed: true, createTimeSec: T0 / 1000, sentAtMs: T0 });
    h.prober.answers.set(url, down('no_media'));
    await h.part.start();
    await vi.advanceTimersByTimeAsync(1);
    const layer = () => /zego_output_diagnosis\{[^}]*layer="(\w+)"\} 1/.exec(h.part.metrics('text'))?.[1];
    expect(layer()).toBe('delivery');
    task = view(false);
    expect(layer()).toBe('mixer');
    h.d.store.applyRoomList('host', { roomId: 'r1', listed: false, createTimeSec: null, sentAtMs: T0 + 10 });
    expect(layer()).toBe('publisher');
    expect(h.part.landing()).toBe('Outputs: 1 probed, 0 up, 1 down (first failing layer: 1 publisher).');
    await h.part.stop(0);
  });
});

describe('outputs part: reload', () => {
  beforeEach(() => vi.useFakeTimers({ now: T0 }));
  afterEach(() => vi.useRealTimers());

  it('a kept output keeps its state and schedule (a new token too); a removed one leaves /metrics and is not probed; an added one is', async () => {
    const a = 'https://cdn.example.com/a.m3u8';
    const h = setup([output(`${a}?token=1`), output('https://cdn.example.com/b.m3u8')]);
    h.prober.answers.set(`${a}?token=1`, UP);
    h.prober.answers.set(`${a}?token=2`, UP);
    await h.part.start();
    await vi.advanceTimersByTimeAsync(3_000);
    const probes = h.prober.calls.length;
    h.part.applyConfig(testConfig({ extra: { outputs: [output(`${a}?token=2`), output('https://cdn.example.com/c.flv')] } }));
    const text = h.part.metrics('text');
    expect(text).toContain(`zego_output_up{output="${a}",kind="hls"} 1\n`);
    expect(text).not.toContain('b.m3u8');
    await vi.advanceTimersByTimeAsync(5_000);
    const later = h.prober.calls.slice(probes).map((c) => c.target.url);
    expect(later).toContain(`${a}?token=2`);
    expect(later).toContain('https://cdn.example.com/c.flv');
    expect(later).not.toContain('https://cdn.example.com/b.m3u8');
    expect(later).not.toContain(`${a}?token=1`);
    await h.part.stop(0);
  });
});

describe('output diagnosis table', () => {
  const stream = (active: boolean | null, notFound = false, everActive = false): FeedState => ({ kind: 'stream', active, notFound, everActive });
  const mix = (running: boolean | null, inputsLive: boolean | null): FeedState => ({ kind: 'mix', running, inputsLive });
  it.each<[string, boolean | null, boolean, FeedState | null, string | null]>([
    ['output unknown', null, false, stream(false), null],
    ['no feed, up', true, true, null, 'none'],
    ['no feed, down', false, true, null, 'delivery'],
    ['stream active, output down', false, true, stream(true), 'delivery'],
    ['stream closed, output down', false, true, stream(false), 'publisher'],
    ['stream closed, output still up (the CDN plays what it has)', true, true, stream(false), 'publisher'],
    ['stream unknown, output down', false, false, stream(null), 'delivery'],
    ['ZEGO cannot see it (41004, never active) behind an output that played: not the publisher', true, true, stream(false, true, false), 'none'],
    ['ZEGO cannot see it, the output that played is now down', false, true, stream(false, true, false), 'delivery'],
    ['41004 after being seen active: a closed stream', false, true, stream(false, true, true), 'publisher'],
    ['41004, never active, the output never played: the publisher never started', false, false, stream(false, true, false), 'publisher'],
    ['mix running, inputs live, output down', false, true, mix(true, true), 'delivery'],
    ['mix stopped, inputs live', false, true, mix(false, true), 'mixer'],
    ['mix stopped, inputs gone', false, true, mix(false, false), 'publisher'],
    ['mix task not watched, inputs unknown', false, true, mix(null, null), 'delivery'],
    ['mix running, all up', true, true, mix(true, true), 'none'],
  ])('%s', (_what, up, everUp, feed, want) => {
    expect(diagnose({ up, everUp }, feed)).toBe(want);
  });
});
