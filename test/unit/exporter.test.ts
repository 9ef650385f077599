import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino } from 'pino';
import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import type { Config } from '../../src/config/types.js';
import { Exporter } from '../../src/exporter.js';
import type { Part, PartContext, PartFactory } from '../../src/parts/part.js';
import { ReloadStatus } from '../../src/reload.js';

const T0 = 1_700_000_000_000;
const ENDPOINT = 'http://127.0.0.1:9';
const ACTIVE = '{"Code":0,"Message":"ok","RequestId":"1","Data":{"create_time":"1699999000","close_time":""}}';

/** The API as an undici MockAgent: every stream is active, and each call is counted per stream id. */
function fakeApi(): { agent: MockAgent; calls: Map<string, number>; total: () => number } {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const calls = new Map<string, number>();
  agent
    .get(ENDPOINT)
    .intercept({ path: () => true, method: 'GET' })
    .reply((req) => {
      const id = new URL(req.path, ENDPOINT).searchParams.get('StreamId') ?? '';
      calls.set(id, (calls.get(id) ?? 0) + 1);
      return { statusCode: 200, data: ACTIVE };
    })
    .persist();
  return { agent, calls, total: () => [...calls.values()].reduce((a, b) => a + b, 0) };
}

function config(streams: string[], rateLimit = 10): Config {
  return {
    zego: {
      appId: 1234,
      serverSecret: new Secret('0123456789abcdef0123456789abcdef'),
      endpoint: ENDPOINT,
      isTest: false,
      rateLimit,
      streamListRateLimit: 40,
      userNumRateLimit: 8,
      mixTaskInfoRateLimit: 8,
      timeoutMs: 2000,
    },
    probe: { intervalMs: 10_000, maxRoomStreams: 1000, roomStreamsForgetAfterMs: 3_600_000 },
    streams: streams.map((id) => ({ id, intervalMs: 10_000, labels: {} })),
  };
}

const running: Exporter[] = [];

function exporter(cfg: Config, opts: { parts?: PartFactory[]; reloadStatus?: ReloadStatus } = {}): { exp: Exporter; api: ReturnType<typeof fakeApi> } {
  const api = fakeApi();
  const exp = new Exporter({
    config: cfg,
    logger: pino({ level: 'silent' }),
    build: { version: 't', revision: 't' },
    dispatcher: api.agent,
    parts: opts.parts ?? [],
    ...(opts.reloadStatus ? { reloadStatus: opts.reloadStatus } : {}),
  });
  running.push(exp);
  return { exp, api };
}

async function metrics(exp: Exporter): Promise<string> {
  return Buffer.concat(await exp.metrics('text')).toString('utf8');
}

/** A part that records its lifecycle into `log` and contributes what the test gives it. */
function recordingPart(name: string, log: string[], extra: Partial<Part> = {}): PartFactory {
  return () => ({
    name,
    start: async () => void log.push(`start:${name}`),
    applyConfig: (c: Config) => void log.push(`apply:${name}:${c.streams.map((s) => s.id).join(',')}`),
    stop: async (graceMs: number) => void log.push(`stop:${name}:${graceMs}`),
    ...extra,
  });
}

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});

afterEach(async () => {
  const stops = running.splice(0).map((e) => e.stop(0));
  await vi.runAllTimersAsync();
  await Promise.all(stops);
  vi.useRealTimers();
});

describe('Exporter reload', () => {
  it("keeps each kept stream's state and schedule, probes an added one at once, and takes the new rate_limit", async () => {
    const { exp, api } = exporter(config(['a', 'b']));
    await exp.start();
    await vi.advanceTimersByTimeAsync(500);
    expect(Object.fromEntries(api.calls)).toEqual({ a: 1, b: 1 });

    await vi.advanceTimersByTimeAsync(4000);
    exp.applyConfig(config(['a', 'b', 'c'], 20));
    // State survives: what the last probes found is still there before any new probe.
    const right = await metrics(exp);
    expect(right).toContain('zego_stream_active{stream_id="a"} 1');
    expect(right).toContain('zego_exporter_rate_limit_configured{api="DescribeRTCStreamState"} 20');
    await vi.advanceTimersByTimeAsync(500);
    // The added stream is probed at once; the kept ones are not re-probed by the reload.
    expect(Object.fromEntries(api.calls)).toEqual({ a: 1, b: 1, c: 1 });

    // The kept streams come due at their old time: 10 s after their first probe, not after the reload.
    await vi.advanceTimersByTimeAsync(5500);
    expect(api.calls.get('a')).toBe(2);
    expect(api.calls.get('b')).toBe(2);
    expect(api.calls.get('c')).toBe(1);
  });

  it("drops a removed stream's series from /metrics at once and probes it no more", async () => {
    const { exp, api } = exporter(config(['a', 'b']));
    await exp.start();
    await vi.advanceTimersByTimeAsync(500);
    expect(await metrics(exp)).toContain('stream_id="b"');

    exp.applyConfig(config(['a']));
    const text = await metrics(exp);
    expect(text).not.toContain('stream_id="b"');
    expect(text).toContain('zego_stream_active{stream_id="a"} 1');
    expect(text).toContain('zego_exporter_streams_watched 1');
    await vi.advanceTimersByTimeAsync(30_000);
    expect(api.calls.get('b')).toBe(1);
    expect(api.calls.get('a')).toBeGreaterThanOrEqual(3);
  });

  it('shows the reload status the Reloader keeps', async () => {
    const reloadStatus = new ReloadStatus();
    const { exp } = exporter(config(['a']), { reloadStatus });
    expect(await metrics(exp)).toContain('zego_exporter_config_last_reload_successful 1');
    reloadStatus.mark(false);
    const text = await metrics(exp);
    expect(text).toContain('zego_exporter_config_last_reload_successful 0');
    expect(text).toContain(`zego_exporter_config_last_reload_success_timestamp_seconds ${T0 / 1000}`);
  });
});

describe('Exporter parts', () => {
  it("calls every registered part's applyConfig with the new config, in list order", async () => {
    const log: string[] = [];
    const { exp } = exporter(config(['a']), { parts: [recordingPart('one', log), () => null, recordingPart('two', log)] });
    await exp.start();
    exp.applyConfig(config(['a', 'x']));
    exp.applyConfig(config(['y']));
    expect(log).toEqual(['start:one', 'start:two', 'apply:one:a,x', 'apply:two:a,x', 'apply:one:y', 'apply:two:y']);
  });

  it('starts the parts in list order before probing, and stops them in reverse with the grace period', async () => {
    const log: string[] = [];
    const { exp, api } = exporter(config(['a']), {
      parts: [recordingPart('one', log, { start: async () => void log.push(`start:one:calls=${api.total()}`) }), recordingPart('two', log)],
    });
    expect(exp.ready()).toEqual({ ready: false, reason: 'probing not started' });
    await exp.start();
    expect(exp.ready()).toEqual({ ready: true });
    await vi.advanceTimersByTimeAsync(500);
    expect(api.total()).toBe(1);
    const stopped = exp.stop(250);
    await vi.runAllTimersAsync();
    await stopped;
    expect(log).toEqual(['start:one:calls=0', 'start:two', 'stop:two:250', 'stop:one:250']);
  });

  it('a part that cannot start stops those started before it; start() rejects and nothing is probed', async () => {
    const log: string[] = [];
    const failing = recordingPart('two', log, { start: () => Promise.reject(new Error('address in use')) });
    const { exp, api } = exporter(config(['a']), { parts: [recordingPart('one', log), failing, recordingPart('three', log)] });
    await expect(exp.start()).rejects.toThrow('address in use');
    await vi.advanceTimersByTimeAsync(5000);
    expect(log).toEqual(['start:one', 'stop:one:0']);
    expect(api.total()).toBe(0);
    expect(exp.ready()).toEqual({ ready: false, reason: 'probing not started' });
  });

  it('watches what a part discovers (config-listed ids win) until it forgets it; discovery reaches /metrics', async () => {
    let ctx: PartContext | undefined;
    const part: PartFactory = (_c, c) => {
      ctx = c;
      return { name: 'finder', start: async () => undefined, applyConfig: () => undefined, stop: async () => undefined };
    };
    const { exp, api } = exporter(config(['a']), { parts: [part] });
    expect(ctx!.discover('found', {}, 'room')).toBe('added');
    expect(ctx!.discover('a', { from: 'part' }, 'room')).toBe('listed');
    // Callbacks' discovery is off in this config.
    expect(ctx!.discover('cb', {}, 'callback')).toBe('off');
    await exp.start();
    await vi.advanceTimersByTimeAsync(500);
    expect(Object.fromEntries(api.calls)).toEqual({ a: 1, found: 1 });
    const text = await metrics(exp);
    expect(text).toContain('zego_stream_active{stream_id="found"} 1');
    expect(text).not.toContain('from="part"');
    expect(text).toContain('zego_exporter_discovered{source="room"} 1\n');
    expect(text).toContain('zego_exporter_discovered{source="callback"} 0\n');
    expect(text).toContain('zego_exporter_discovery_refused_total{source="room"} 0\n');

    ctx!.forget('found', 'room');
    expect(await metrics(exp)).not.toContain('stream_id="found"');
    expect(exp.status().streamsWatched).toBe(1);
  });

  it("hands a part the state as observations: what it feeds shows on /metrics, the watched set stays the Exporter's", async () => {
    let ctx: PartContext | undefined;
    const part: PartFactory = (_c, c) => {
      ctx = c;
      return { name: 'feeder', start: async () => undefined, applyConfig: () => undefined, stop: async () => undefined };
    };
    const { exp } = exporter(config(['a']), { parts: [part] });
    const store = ctx!.store;
    store.applyRoomList('a', { roomId: 'r1', listed: true, createTimeSec: 1_699_999_000, sentAtMs: T0 });
    expect(store.get('a')).toMatchObject({ active: true, roomId: 'r1', source: 'room_list' });
    expect(store.snapshot().map((s) => s.id)).toEqual(['a']);
    expect(await metrics(exp)).toContain('zego_stream_active{stream_id="a"} 1');
    // A part changes what is watched only through watchAdded/watchRemoved, so probing and the state agree.
    // @ts-expect-error the store's own setters are not part of what a part is handed
    expect(typeof store.setStreams).toBe('function');
  });

  it("serves a part's route, gauges, landing line (escaped) and secret files", async () => {
    const seen: string[] = [];
    const part: PartFactory = () => ({
      name: 'extra',
      start: async () => undefined,
      applyConfig: () => undefined,
      stop: async () => undefined,
      route: (req: IncomingMessage) => {
        seen.push(req.url ?? '');
        return req.url === '/mine';
      },
      gauges: [{ name: 'zego_exporter_test_extra', help: 'A gauge from a part.', read: () => 7 }],
      landing: () => 'Extra: <on>',
      files: () => ['extra-secret'],
    });
    const cfg = config(['a']);
    const { exp } = exporter({ ...cfg, zego: { ...cfg.zego, serverSecretFile: 'zego-secret' } }, { parts: [part] });
    expect(exp.files()).toEqual(['zego-secret', 'extra-secret']);
    const res = {} as ServerResponse;
    expect(exp.route({ url: '/mine' } as IncomingMessage, res)).toBe(true);
    expect(exp.route({ url: '/metrics' } as IncomingMessage, res)).toBe(false);
    expect(seen).toEqual(['/mine', '/metrics']);
    expect(await metrics(exp)).toContain('zego_exporter_test_extra 7');
    expect(exp.landingPage()).toContain('<p>Extra: &#60;on&#62;</p>');
    exp.applyConfig(config(['a']));
    expect(exp.files()).toEqual(['extra-secret']);
  });

  it("shows each part's landing lines and table, in list order, lines before the stream table and tables after it", () => {
    const part = (name: string, landing: Part['landing']): PartFactory => recordingPart(name, [], landing ? { landing } : {});
    const { exp } = exporter(config(['a']), {
      parts: [
        part('one', () => 'One: a line'),
        part('none', () => null),
        part('two', () => ({
          lines: ['Two: first', 'Two: second'],
          table: { title: 'Things', columns: ['Thing', 'State'], rows: [['t<1>', 'ok']], total: 1 },
        })),
        part('three', () => ({ table: { title: 'More', columns: ['X'], rows: [], total: 0 } })),
      ],
    });
    const page = exp.landingPage();
    const at = (s: string): number => {
      expect(page).toContain(s);
      return page.indexOf(s);
    };
    const order = [
      at('<p>One: a line</p>'),
      at('<p>Two: first</p>'),
      at('<p>Two: second</p>'),
      at('<h2>Streams (1)</h2>'),
      at('<h2>Things (1)</h2>'),
      at('<td>t&#60;1&#62;</td><td>ok</td>'),
      at('<h2>More (0)</h2>'),
    ];
    expect(order).toEqual([...order].sort((x, y) => x - y));
  });
});
