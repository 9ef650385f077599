import { describe, expect, it } from 'vitest';
import { negotiate } from '../../src/metrics/exposition.js';
import { SelfMetrics, type ExporterStatus } from '../../src/metrics/self.js';
import { StreamFamilies } from '../../src/metrics/block-cache.js';
import { initialState, type StreamRecord } from '../../src/state/store.js';
import type { ProbeResult } from '../../src/zego/outcome.js';

const NOW_MS = 1_700_000_100_000;
const NOW_SEC = NOW_MS / 1000;

const FAMILY_NAMES = [
  'zego_stream_active',
  'zego_stream_uptime_seconds',
  'zego_stream_start_timestamp_seconds',
  'zego_stream_probe_success',
  'zego_stream_last_probe_timestamp_seconds',
  'zego_stream_last_success_timestamp_seconds',
  'zego_stream_last_update_timestamp_seconds',
  'zego_stream_interval_seconds',
  'zego_stream_last_close_reason',
  'zego_stream_state_source',
];

function state(id: string, over: Partial<StreamRecord> = {}): StreamRecord {
  return { ...initialState({ id, intervalMs: 10_000, labels: {} }), ...over };
}

function samples(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

function streams(): StreamRecord[] {
  return [
    state('unknown-1', { intervalMs: 30_000 }),
    state('live', {
      labels: { zone: 'eu', app: 'shop' },
      active: true,
      createTimeSec: NOW_SEC - 3600,
      probeSuccess: true,
      lastProbeMs: NOW_MS - 2000,
      lastSuccessMs: NOW_MS - 2000,
      source: 'probe',
    }),
    state('gone', {
      active: false,
      closeTimeSec: NOW_SEC - 60,
      probeSuccess: false,
      lastProbeMs: NOW_MS - 1000,
      lastSuccessMs: NOW_MS - 11_000,
      intervalMs: 500,
    }),
  ];
}

const STATUS: ExporterStatus = {
  apis: [
    {
      api: 'DescribeRTCStreamState',
      rateLimit: 38,
      rateLimitConfigured: 40,
      queueLength: 2,
      achievableRefreshSec: 12.5,
      achievableCallsPerSec: 36.5,
      demandPerSec: 3.2,
      slotsHeld: 1,
    },
  ],
  streamsWatched: 3,
  clockOffsetSec: -0.5,
  reloadSuccessful: true,
  reloadSuccessTimestampSec: 1_700_000_000,
  callbackDisagreements: 0,
};

function probe(code: string, outcome: ProbeResult['outcome'], durationMs: number): ProbeResult {
  return { code, outcome, durationMs, sentAtMs: NOW_MS };
}

describe('StreamFamilies.render', () => {
  it.each(['text', 'openmetrics'] as const)('writes HELP and TYPE gauge for every family (%s)', (format) => {
    const out = new StreamFamilies().render(streams(), NOW_MS, format);
    for (const name of FAMILY_NAMES) {
      expect(out).toMatch(new RegExp(`^# HELP ${name} \\S.*$`, 'm'));
      expect(out).toContain(`# TYPE ${name} gauge\n`);
      expect(out.indexOf(`# HELP ${name} `)).toBeLessThan(out.indexOf(`# TYPE ${name} gauge`));
    }
    expect(out).not.toContain('# EOF');
    expect(out.endsWith('\n')).toBe(true);
  });

  it('omits the state families for an unknown stream but keeps probe success, interval and last probe', () => {
    const out = new StreamFamilies().render(streams(), NOW_MS, 'text');
    for (const name of ['zego_stream_active', 'zego_stream_uptime_seconds', 'zego_stream_start_timestamp_seconds']) {
      expect(samples(out, name).some((l) => l.includes('"unknown-1"'))).toBe(false);
      expect(samples(out, name)).toHaveLength(2);
    }
    expect(out).toContain('zego_stream_probe_success{stream_id="unknown-1"} 0\n');
    expect(out).toContain('zego_stream_interval_seconds{stream_id="unknown-1"} 30\n');
    expect(out).toContain('zego_stream_last_probe_timestamp_seconds{stream_id="unknown-1"} 0\n');
    expect(out).toContain('zego_stream_last_success_timestamp_seconds{stream_id="unknown-1"} 0\n');
    for (const name of ['zego_stream_probe_success', 'zego_stream_interval_seconds', 'zego_stream_last_probe_timestamp_seconds']) {
      expect(samples(out, name)).toHaveLength(3);
    }
  });

  it('writes state, uptime at the given now, and timestamps', () => {
    const out = new StreamFamilies().render(streams(), NOW_MS, 'text');
    const live = '{stream_id="live",app="shop",zone="eu"}';
    expect(out).toContain(`zego_stream_active${live} 1\n`);
    expect(out).toContain(`zego_stream_uptime_seconds${live} 3600\n`);
    expect(out).toContain(`zego_stream_start_timestamp_seconds${live} ${NOW_SEC - 3600}\n`);
    expect(out).toContain(`zego_stream_probe_success${live} 1\n`);
    expect(out).toContain(`zego_stream_last_probe_timestamp_seconds${live} ${(NOW_MS - 2000) / 1000}\n`);
    expect(out).toContain('zego_stream_active{stream_id="gone"} 0\n');
    expect(out).toContain('zego_stream_uptime_seconds{stream_id="gone"} 0\n');
    expect(out).toContain('zego_stream_start_timestamp_seconds{stream_id="gone"} 0\n');
    expect(out).toContain('zego_stream_probe_success{stream_id="gone"} 0\n');
    expect(out).toContain(`zego_stream_last_success_timestamp_seconds{stream_id="gone"} ${(NOW_MS - 11_000) / 1000}\n`);
    expect(out).toContain('zego_stream_interval_seconds{stream_id="gone"} 0.5\n');

    const later = new StreamFamilies().render(streams(), NOW_MS + 90_500, 'text');
    expect(later).toContain(`zego_stream_uptime_seconds${live} 3690.5\n`);
  });

  it('last update: the newer of the last successful probe and the last applied callback, so a stream callbacks keep current is not stale', () => {
    const byCallback = state('cb', {
      lastSuccessMs: NOW_MS - 2_600_000,
      callbackAtMs: NOW_MS - 5_000,
      source: 'callback',
      active: true,
      createTimeSec: NOW_SEC - 5,
    });
    const byProbe = state('probe', { lastSuccessMs: NOW_MS - 3_000, callbackAtMs: NOW_MS - 60_000, source: 'probe', active: true });
    const out = new StreamFamilies().render([byCallback, byProbe, state('never')], NOW_MS, 'text');
    expect(out).toContain(`zego_stream_last_update_timestamp_seconds{stream_id="cb"} ${(NOW_MS - 5_000) / 1000}\n`);
    expect(out).toContain(`zego_stream_last_success_timestamp_seconds{stream_id="cb"} ${(NOW_MS - 2_600_000) / 1000}\n`);
    expect(out).toContain(`zego_stream_last_update_timestamp_seconds{stream_id="probe"} ${(NOW_MS - 3_000) / 1000}\n`);
    expect(out).toContain('zego_stream_last_update_timestamp_seconds{stream_id="never"} 0\n');
  });

  it('never reports negative uptime when create_time is ahead of our clock', () => {
    const out = new StreamFamilies().render([state('s', { active: true, createTimeSec: NOW_SEC + 30 })], NOW_MS, 'text');
    expect(out).toContain('zego_stream_uptime_seconds{stream_id="s"} 0\n');
  });

  it('puts stream_id first, then configured labels sorted by name, values escaped', () => {
    const s = state('weird', { labels: { zeta: 'a"b', alpha: 'c\\d', mid: 'line1\nline2' }, active: true, createTimeSec: NOW_SEC });
    const out = new StreamFamilies().render([s], NOW_MS, 'text');
    expect(out).toContain('zego_stream_active{stream_id="weird",alpha="c\\\\d",mid="line1\\nline2",zeta="a\\"b"} 1\n');
    // Every sample is on one line: no raw newline leaked from a label value.
    for (const line of out.split('\n').filter((l) => l !== '')) expect(line).toMatch(/^(# (HELP|TYPE) |zego_stream_)/);
  });

  it('recomputes the label text after the labels object is replaced', () => {
    const fam = new StreamFamilies();
    const s = state('s', { labels: { team: 'a' } });
    expect(fam.render([s], NOW_MS, 'text')).toContain('zego_stream_interval_seconds{stream_id="s",team="a"} 10\n');
    expect(fam.render([s], NOW_MS, 'text')).toContain('zego_stream_interval_seconds{stream_id="s",team="a"} 10\n');
    s.labels = { team: 'b', env: 'prod' };
    const out = fam.render([s], NOW_MS, 'text');
    expect(out).toContain('zego_stream_interval_seconds{stream_id="s",env="prod",team="b"} 10\n');
    expect(out).not.toContain('team="a"');
  });

  it('accepts any iterable, such as the store snapshot', () => {
    const list = streams();
    const fromIter = new StreamFamilies().render(new Map(list.map((s) => [s.id, s])).values(), NOW_MS, 'text');
    expect(fromIter).toBe(new StreamFamilies().render(list, NOW_MS, 'text'));
  });

  it('writes only headers when there are no streams', () => {
    const out = new StreamFamilies().render([], NOW_MS, 'text');
    expect(out.split('\n').filter((l) => l !== '' && !l.startsWith('#'))).toEqual([]);
    expect(out.split('\n').filter((l) => l.startsWith('# TYPE'))).toHaveLength(FAMILY_NAMES.length);
  });
});

describe('SelfMetrics', () => {
  function observed(): SelfMetrics {
    const m = new SelfMetrics({ status: () => STATUS, build: { version: '1.2.3', revision: 'abc123' } });
    m.observe(probe('0', { kind: 'active', createTimeSec: 1 }, 30));
    m.observe(probe('timeout', { kind: 'failed', reason: 'transient', message: 'x' }, 2000));
    return m;
  }

  it('counts requests by code and outcome in the text format', async () => {
    const text = await observed().render('text');
    expect(text).toContain('# TYPE zego_exporter_api_requests_total counter\n');
    expect(text).toContain('zego_exporter_api_requests_total{api="DescribeRTCStreamState",code="0",outcome="active"} 1\n');
    expect(text).toContain('zego_exporter_api_requests_total{api="DescribeRTCStreamState",code="timeout",outcome="transient"} 1\n');
    // pre-created series exist at 0
    expect(text).toContain('zego_exporter_api_requests_total{api="DescribeRTCStreamState",code="41004",outcome="not_found"} 0\n');
    expect(text).toContain('zego_exporter_api_requests_total{api="DescribeRTCStreamState",code="30002",outcome="throttled"} 0\n');
  });

  it('writes the duration histogram buckets, sum and count', async () => {
    const text = await observed().render('text');
    expect(text).toContain('# TYPE zego_exporter_api_request_duration_seconds histogram\n');
    expect(text).toContain('zego_exporter_api_request_duration_seconds_bucket{le="0.025",api="DescribeRTCStreamState"} 0\n');
    expect(text).toContain('zego_exporter_api_request_duration_seconds_bucket{le="0.05",api="DescribeRTCStreamState"} 1\n');
    expect(text).toContain('zego_exporter_api_request_duration_seconds_bucket{le="1",api="DescribeRTCStreamState"} 1\n');
    expect(text).toContain('zego_exporter_api_request_duration_seconds_bucket{le="2.5",api="DescribeRTCStreamState"} 2\n');
    expect(text).toContain('zego_exporter_api_request_duration_seconds_bucket{le="+Inf",api="DescribeRTCStreamState"} 2\n');
    expect(text).toContain('zego_exporter_api_request_duration_seconds_count{api="DescribeRTCStreamState"} 2\n');
    expect(text).toMatch(/^zego_exporter_api_request_duration_seconds_sum\{api="DescribeRTCStreamState"\} 2\.03\d*\n/m);
  });

  it('counts room API calls and their durations under their own api label', async () => {
    const m = new SelfMetrics({ status: () => STATUS, build: { version: '1.2.3', revision: 'abc123' } });
    m.observe({ roomId: 'r', code: '0', outcome: { kind: 'ok', streams: [] }, sentAtMs: 0, durationMs: 40 }, 'DescribeSimpleStreamList');
    m.observe(
      { roomIds: ['r'], code: '30002', outcome: { kind: 'failed', reason: 'throttled', message: 'x' }, sentAtMs: 0, durationMs: 10 },
      'DescribeUserNum',
    );
    const text = await m.render('text');
    expect(text).toContain('zego_exporter_api_requests_total{api="DescribeSimpleStreamList",code="0",outcome="ok"} 1\n');
    expect(text).toContain('zego_exporter_api_requests_total{api="DescribeUserNum",code="30002",outcome="throttled"} 1\n');
    expect(text).toContain('zego_exporter_api_request_duration_seconds_count{api="DescribeSimpleStreamList"} 1\n');
    expect(text).not.toMatch(/zego_exporter_api_requests_total\{api="DescribeRTCStreamState",code="0",outcome="active"\} [1-9]/);
  });

  it('shows every API budget of the status next to DescribeRTCStreamState, one series per api', async () => {
    const list = {
      api: 'DescribeSimpleStreamList',
      rateLimit: 28,
      rateLimitConfigured: 40,
      queueLength: 3,
      slotsHeld: 27,
      achievableCallsPerSec: 39.1,
      achievableRefreshSec: 15,
      demandPerSec: 60,
    } as const;
    // One series per api: the API service holds one budget per Action (test/unit/api-service.test.ts).
    const m = new SelfMetrics({ status: () => ({ ...STATUS, apis: [...STATUS.apis, list] }), build: { version: '1', revision: 'x' } });
    const text = await m.render('text');
    expect(text).toContain('zego_exporter_rate_limit{api="DescribeRTCStreamState"} 38\n');
    expect(text).toContain('zego_exporter_rate_limit{api="DescribeSimpleStreamList"} 28\n');
    expect(text).toContain('zego_exporter_rate_limit_configured{api="DescribeSimpleStreamList"} 40\n');
    expect(text).toContain('zego_exporter_queue_length{api="DescribeSimpleStreamList"} 3\n');
    expect(text).toContain('zego_exporter_budget_slots_held{api="DescribeSimpleStreamList"} 27\n');
    expect(text).toContain('zego_exporter_achievable_probes_per_second{api="DescribeSimpleStreamList"} 39.1\n');
    expect(text).toContain('zego_exporter_achievable_refresh_seconds{api="DescribeSimpleStreamList"} 15\n');
    expect(text).toContain('zego_exporter_demand_probes_per_second{api="DescribeSimpleStreamList"} 60\n');
    expect(text.match(/^zego_exporter_rate_limit\{/gm)).toHaveLength(2);
  });

  it('writes build_info, the status gauges and process metrics', async () => {
    const text = await observed().render('text');
    expect(text).toContain(`zego_exporter_build_info{version="1.2.3",revision="abc123",nodejs="${process.version}"} 1\n`);
    expect(text).toContain('zego_exporter_rate_limit{api="DescribeRTCStreamState"} 38\n');
    expect(text).toContain('zego_exporter_rate_limit_configured{api="DescribeRTCStreamState"} 40\n');
    expect(text).toContain('zego_exporter_queue_length{api="DescribeRTCStreamState"} 2\n');
    expect(text).toContain('zego_exporter_achievable_refresh_seconds{api="DescribeRTCStreamState"} 12.5\n');
    expect(text).toContain('# TYPE zego_exporter_achievable_probes_per_second gauge\n');
    expect(text).toContain('zego_exporter_achievable_probes_per_second{api="DescribeRTCStreamState"} 36.5\n');
    expect(text).toContain('zego_exporter_clock_offset_seconds -0.5\n');
    expect(text).toContain('zego_exporter_config_last_reload_successful 1\n');
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(text).toMatch(/^process_start_time_seconds \d/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d/m);
    expect(text).toContain('# TYPE nodejs_active_handles gauge\n');
    // gauges named like counters are dropped (their per-type gauges carry the same information)
    expect(text).not.toMatch(/^nodejs_active_\w+_total /m);
  });

  it('reads the status at every render', async () => {
    let queue = 1;
    const m = new SelfMetrics({
      status: () => ({ ...STATUS, apis: STATUS.apis.map((b) => ({ ...b, queueLength: queue })) }),
      build: { version: 'v', revision: 'r' },
    });
    expect(await m.render('text')).toContain('zego_exporter_queue_length{api="DescribeRTCStreamState"} 1\n');
    queue = 7;
    expect(await m.render('text')).toContain('zego_exporter_queue_length{api="DescribeRTCStreamState"} 7\n');
  });

  it('writes counters the OpenMetrics way', async () => {
    const om = await observed().render('openmetrics');
    expect(om).toContain('# TYPE zego_exporter_api_requests counter\n');
    expect(om).toContain('# HELP zego_exporter_api_requests ');
    expect(om).not.toContain('# TYPE zego_exporter_api_requests_total');
    expect(om).toContain('zego_exporter_api_requests_total{api="DescribeRTCStreamState",code="0",outcome="active"} 1\n');
    expect(om).toContain('# TYPE process_cpu_user_seconds counter\n');
    expect(om).toMatch(/^process_cpu_user_seconds_total \d/m);
    expect(om).toContain('# TYPE zego_exporter_api_request_duration_seconds histogram\n');
  });

  it('keeps _total in the text format after rendering OpenMetrics (prom-client renames in place)', async () => {
    const m = observed();
    await m.render('openmetrics');
    await m.render('openmetrics');
    const text = await m.render('text');
    expect(text).toContain('# TYPE zego_exporter_api_requests_total counter\n');
    expect(text).toContain('zego_exporter_api_requests_total{api="DescribeRTCStreamState",code="0",outcome="active"} 1\n');
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
    const om = await m.render('openmetrics');
    expect(om).toContain('# TYPE zego_exporter_api_requests counter\n');
    expect(om).not.toContain('zego_exporter_api_requests_total_total');
  });

  it('keeps its own registry apart from other instances', async () => {
    const a = new SelfMetrics({ status: () => STATUS, build: { version: 'a', revision: 'a' } });
    const b = new SelfMetrics({ status: () => STATUS, build: { version: 'b', revision: 'b' } });
    a.observe(probe('0', { kind: 'active', createTimeSec: 1 }, 10));
    expect(await a.render('text')).toContain('zego_exporter_api_requests_total{api="DescribeRTCStreamState",code="0",outcome="active"} 1\n');
    expect(await b.render('text')).toContain('zego_exporter_api_requests_total{api="DescribeRTCStreamState",code="0",outcome="active"} 0\n');
  });
});

describe('negotiate', () => {
  it("picks OpenMetrics for Prometheus' own Accept header", () => {
    expect(
      negotiate('application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'),
    ).toBe('openmetrics');
  });

  it('picks text otherwise', () => {
    expect(negotiate('text/plain')).toBe('text');
    expect(negotiate('text/plain;version=0.0.4')).toBe('text');
    expect(negotiate('*/*')).toBe('text');
    expect(negotiate('')).toBe('text');
    expect(negotiate(undefined)).toBe('text');
  });
});
