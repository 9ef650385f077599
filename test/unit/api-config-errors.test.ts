import { pino } from 'pino';
import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import type { Config } from '../../src/config/types.js';
import { Exporter } from '../../src/exporter.js';
import { ApiConfigErrors } from '../../src/state/api-config-errors.js';

const T0 = 1_700_000_000_000;
const ENDPOINT = 'http://127.0.0.1:9';
const APP = 424242;
const SECRET = '0123456789abcdef0123456789abcdef';
const ACTIVE = '{"Code":0,"Message":"ok","RequestId":"1","Data":{"create_time":"1699999000","close_time":""}}';
const NOT_ENABLED = '{"Code":100000017,"Message":"service not enabled","RequestId":"2","Data":{}}';

interface Line {
  level: number;
  msg: string;
  [k: string]: unknown;
}

function config(streams: number): Config {
  return {
    zego: {
      appId: APP,
      serverSecret: new Secret(SECRET),
      endpoint: ENDPOINT,
      isTest: false,
      rateLimit: 10,
      streamListRateLimit: 40,
      userNumRateLimit: 8,
      mixTaskInfoRateLimit: 8,
      timeoutMs: 2000,
    },
    probe: { intervalMs: 1000, maxRoomStreams: 1000, roomStreamsForgetAfterMs: 3_600_000 },
    streams: Array.from({ length: streams }, (_, i) => ({ id: `s${i}`, intervalMs: 1000, labels: {} })),
  };
}

const running: Exporter[] = [];

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});

afterEach(async () => {
  const stops = running.splice(0).map((e) => e.stop(0));
  await vi.runAllTimersAsync();
  await Promise.all(stops);
  vi.useRealTimers();
});

/** The exporter against an API whose answer the test switches; every call is timestamped. */
function setup(): { exp: Exporter; lines: Line[]; calls: number[]; answer: { body: string } } {
  const lines: Line[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Line) });
  const agent = new MockAgent();
  agent.disableNetConnect();
  const calls: number[] = [];
  const answer = { body: ACTIVE };
  agent
    .get(ENDPOINT)
    .intercept({ path: () => true, method: 'GET' })
    .reply(() => {
      calls.push(Date.now());
      return { statusCode: 200, data: answer.body };
    })
    .persist();
  const exp = new Exporter({ config: config(20), logger, build: { version: 't', revision: 't' }, dispatcher: agent, parts: [] });
  running.push(exp);
  return { exp, lines, calls, answer };
}

const text = async (exp: Exporter): Promise<string> => Buffer.concat(await exp.metrics('text')).toString('utf8');

describe('configuration errors (codes no retry can fix)', () => {
  it('a gateway 100000017 gives one actionable log line, no state change, slow retries, a gauge and a landing line; a recovery clears them', async () => {
    const { exp, lines, calls, answer } = setup();
    await exp.start();
    await vi.advanceTimersByTimeAsync(5000);
    expect(await text(exp)).toContain('zego_stream_active{stream_id="s0"} 1');
    const changesBefore = lines.filter((l) => l.msg.startsWith('stream ')).length;

    answer.body = NOT_ENABLED;
    const from = Date.now();
    await vi.advanceTimersByTimeAsync(30_000);
    const during = calls.filter((t) => t >= from + 5000 && t < from + 30_000).length;
    // 20 streams at 1 s want 10 calls/s (the budget); retries of a config error go at 1/s at most.
    expect(during).toBeGreaterThanOrEqual(10);
    expect(during).toBeLessThanOrEqual(27);

    const errors = lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      api: 'DescribeRTCStreamState',
      code: '100000017',
      msg: `ZEGO says this service is not enabled for AppID ${APP}: ask ZEGO to enable DescribeRTCStreamState`,
    });
    // No state change: the last known state stands, the probe is marked failed.
    expect(lines.filter((l) => l.msg.startsWith('stream ')).length).toBe(changesBefore);
    const during_ = await text(exp);
    expect(during_).toContain('zego_stream_active{stream_id="s0"} 1');
    expect(during_).toContain('zego_stream_probe_success{stream_id="s0"} 0');
    expect(during_).toContain('zego_exporter_api_config_error{api="DescribeRTCStreamState",code="100000017"} 1');
    expect(during_).toContain('zego_exporter_api_requests_total{api="DescribeRTCStreamState",code="100000017",outcome="config"}');
    expect(exp.landingPage()).toContain('ask ZEGO to enable DescribeRTCStreamState');
    expect(JSON.stringify(lines)).not.toContain(SECRET);

    answer.body = ACTIVE;
    await vi.advanceTimersByTimeAsync(5000);
    const after = await text(exp);
    expect(after).toContain('zego_exporter_api_config_error{api="DescribeRTCStreamState",code="100000017"} 0');
    expect(after).toContain('zego_stream_probe_success{stream_id="s0"} 1');
    expect(lines.filter((l) => l.level === 50)).toHaveLength(1);
    expect(lines.filter((l) => l.msg.includes('configuration error 100000017 is over'))).toHaveLength(1);
    expect(exp.landingPage()).not.toContain('ask ZEGO to enable');
    // Back to the full budget.
    const back = calls.filter((t) => t >= Date.now() - 3000).length;
    expect(back).toBeGreaterThanOrEqual(20);
  });

  it('lasts until the API answers with another ZEGO code; a timeout or network error says nothing either way', () => {
    const lines: Line[] = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as Line) });
    const t = new ApiConfigErrors({ logger, appId: () => 7 });
    const cfg = { code: '9', sentAtMs: 0, durationMs: 1, outcome: { kind: 'failed', reason: 'config' as const } };
    t.note('DescribeSimpleStreamList', cfg);
    t.note('DescribeSimpleStreamList', cfg);
    t.note('DescribeSimpleStreamList', { code: 'timeout', sentAtMs: 0, durationMs: 1, outcome: { kind: 'failed', reason: 'transient' } });
    t.note('DescribeUserNum', { code: '0', sentAtMs: 0, durationMs: 1, outcome: { kind: 'ok' } });
    expect(t.all()).toMatchObject([{ api: 'DescribeSimpleStreamList', code: '9', active: true }]);
    expect(lines.map((l) => l.msg)).toEqual(['ZEGO says AppID 7 has no permission for DescribeSimpleStreamList: ask ZEGO to grant it']);
    t.note('DescribeSimpleStreamList', { code: '206', sentAtMs: 0, durationMs: 1, outcome: { kind: 'failed', reason: 'throttled' } });
    expect(t.all()).toMatchObject([{ active: false }]);
    expect(t.landing()).toEqual([]);
  });
});
