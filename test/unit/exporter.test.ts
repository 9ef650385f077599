import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it, vi } from 'vitest';
import type { Config } from '../../src/config/types.js';
import { Exporter } from '../../src/exporter.js';
import type { Part, PartContext, PartFactory } from '../../src/parts/part.js';
import { ReloadStatus } from '../../src/reload.js';
import type { WatchedStream } from '../../src/state/store.js';
import { testConfig } from '../helpers/config.js';
import { fakeApi, fakeClockExporters, metricsText, T0, testExporter } from '../helpers/exporter-harness.js';

function config(streams: string[], rateLimit = 10): Config {
  return testConfig({ streams, zego: { rateLimit } });
}

function exporter(cfg: Config, opts: { parts?: PartFactory[]; reloadStatus?: ReloadStatus } = {}): { exp: Exporter; api: ReturnType<typeof fakeApi> } {
  const api = fakeApi();
  const exp = testExporter({
    config: cfg,
    dispatcher: api.agent,
    parts: opts.parts ?? [],
    ...(opts.reloadStatus ? { reloadStatus: opts.reloadStatus } : {}),
  });
  return { exp, api };
}

const metrics = (exp: Exporter): Promise<string> => metricsText(exp);

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

fakeClockExporters();

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

  it("watches a part's streams (config-listed ids win) until the part says they changed", async () => {
    let extra: WatchedStream[] = [
      { id: 'found', intervalMs: 10_000, labels: {} },
      { id: 'a', intervalMs: 1000, labels: { from: 'part' } },
    ];
    let ctx: PartContext | undefined;
    const part: PartFactory = (_c, c) => {
      ctx = c;
      return { name: 'finder', start: async () => undefined, applyConfig: () => undefined, stop: async () => undefined, watched: () => extra };
    };
    const { exp, api } = exporter(config(['a']), { parts: [part] });
    await exp.start();
    await vi.advanceTimersByTimeAsync(500);
    expect(Object.fromEntries(api.calls)).toEqual({ a: 1, found: 1 });
    const text = await metrics(exp);
    expect(text).toContain('zego_stream_active{stream_id="found"} 1');
    expect(text).not.toContain('from="part"');

    extra = [];
    ctx!.watchedChanged();
    expect(await metrics(exp)).not.toContain('stream_id="found"');
  });

  it("paces the budget at the parts' cap, re-read when a part says it changed", async () => {
    let cap = 2;
    let ctx: PartContext | undefined;
    const part: PartFactory = (_c, c) => {
      ctx = c;
      return { name: 'cap', start: async () => undefined, applyConfig: () => undefined, stop: async () => undefined, rateLimit: (r) => Math.min(r, cap) };
    };
    const { exp } = exporter(config(['a']), { parts: [part] });
    expect(exp.status().rateLimit).toBe(2);
    cap = 100;
    ctx!.rateChanged();
    expect(exp.status().rateLimit).toBe(10);
    expect(exp.status().rateLimitConfigured).toBe(10);
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
});
