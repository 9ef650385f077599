import { pino } from 'pino';
import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { action, type CallResult } from '../../src/api/actions.js';
import type { ApiCaller } from '../../src/api/service.js';
import { Secret } from '../../src/config/secret.js';
import type { Config } from '../../src/config/types.js';
import { Exporter } from '../../src/exporter.js';
import type { Part, PartFactory } from '../../src/parts/part.js';
import { classify } from '../../src/zego/codes.js';
import { readEnvelope } from '../../src/zego/response.js';

/**
 * Issue 21's proof, in one process: a new ZEGO Action is a row in the table and a part that
 * calls ctx.api(name). Nothing under src/ knows DescribeMadeUpCount: the row and the part live
 * here and reach the exporter through its test-only `actions` and `parts` options.
 */
const T0 = 1_700_000_000_000;
const ENDPOINT = 'http://127.0.0.1:9';
const NAME = 'DescribeMadeUpCount';

type CountOutcome = { kind: 'ok'; count: number };
type CountResult = CallResult<CountOutcome> & { thing: string };

/** The made-up Action: 4 calls/s per AppID (1 in the test environment), spent at 3/s (1/s). */
const ROW = action<string, CountResult>({
  name: NAME,
  path: '',
  method: 'GET',
  limit: { production: 4, test: 1 },
  rate: { default: { production: 3, test: 1 } },
  sequence: false,
  maxBodyBytes: 4096,
  codes: 'room',
  params: (thing) => [['Thing', thing]],
  parse: (status, body) => {
    const read = readEnvelope(status, body);
    if (!read.ok) return read.failed;
    const { code, data } = read.envelope;
    // The gateway's codes apply to any Action: a made-up one reads them like the product's.
    const cls = classify('DescribeUserNum', code);
    if (cls !== 'ok') return { code: String(code), outcome: { kind: 'failed', reason: cls === 'throttled' ? 'throttled' : 'error', message: `Code ${code}` } };
    return { code: '0', outcome: { kind: 'ok', count: typeof data['Count'] === 'number' ? data['Count'] : 0 } };
  },
  result: (call, thing) => ({ ...call, thing }),
});

/** The API as a MockAgent: the made-up Action answers a count (throttled while `throttle` says so); each call is kept. */
function fakeApi(throttle: () => boolean = () => false): { agent: MockAgent; calls: { at: number; query: URLSearchParams }[] } {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const calls: { at: number; query: URLSearchParams }[] = [];
  agent
    .get(ENDPOINT)
    .intercept({ path: () => true, method: 'GET' })
    .reply((req) => {
      const query = new URL(req.path, ENDPOINT).searchParams;
      if (query.get('Action') !== NAME) return { statusCode: 200, data: '{"Code":0,"Data":{}}' };
      calls.push({ at: Date.now(), query });
      const data = throttle() ? { Code: 206, Message: 'AppID QPS limit' } : { Code: 0, Message: 'ok', Data: { Count: calls.length } };
      return { statusCode: 200, data: JSON.stringify(data) };
    })
    .persist();
  return { agent, calls };
}

/** A throwaway part: keeps four calls of the made-up Action in its budget's queue, shows the last count. */
const countingPart: PartFactory = (_config, ctx) => {
  const api: ApiCaller<string, CountResult> = ctx.api(NAME);
  let running = false;
  let last: CountResult | undefined;
  const loop = (): void => {
    if (!running) return;
    // undefined: the budget stopped (the exporter is stopping), so the loop ends.
    void api.call('thing-1').then((r) => {
      if (!r) return;
      last = r;
      loop();
    });
  };
  const part: Part = {
    name: 'made-up',
    start: async () => {
      running = true;
      for (let i = 0; i < 4; i++) loop();
    },
    applyConfig: () => undefined,
    stop: async () => {
      running = false;
    },
    landing: () => (last?.outcome.kind === 'ok' ? `Made-up count: ${last.outcome.count}.` : null),
  };
  return part;
};

function config(isTest = false): Config {
  return {
    zego: {
      appId: 1234,
      serverSecret: new Secret('0123456789abcdef0123456789abcdef'),
      endpoint: ENDPOINT,
      isTest,
      rateLimit: isTest ? 8 : 10,
      streamListRateLimit: 40,
      userNumRateLimit: isTest ? 1 : 8,
      mixTaskInfoRateLimit: 8,
      timeoutMs: 2000,
    },
    probe: { intervalMs: 10_000, maxRoomStreams: 1000, roomStreamsForgetAfterMs: 3_600_000 },
    streams: [],
  };
}

const running: Exporter[] = [];

function exporter(api: ReturnType<typeof fakeApi>, isTest = false): Exporter {
  const exp = new Exporter({
    config: config(isTest),
    logger: pino({ level: 'silent' }),
    build: { version: 't', revision: 't' },
    dispatcher: api.agent,
    parts: [countingPart],
    actions: [ROW],
  });
  running.push(exp);
  return exp;
}

async function metrics(exp: Exporter): Promise<string> {
  return Buffer.concat(await exp.metrics('text')).toString('utf8');
}

/** The most calls any one-second window [t, t+1 s) saw. */
function busiestSecond(ats: number[]): number {
  return Math.max(0, ...ats.map((t) => ats.filter((o) => o >= t && o < t + 1000).length));
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

describe('a made-up Action added as a row, called by a part from test/', () => {
  it('gets a budget under its limit, its api-labelled self-metrics and a landing line', async () => {
    const api = fakeApi();
    const exp = exporter(api);
    await exp.start();
    await vi.advanceTimersByTimeAsync(20_000);

    // The budget: 3 calls/s (the row's default), never more in any second, sent as the row says.
    const ats = api.calls.map((c) => c.at);
    expect(busiestSecond(ats)).toBeLessThanOrEqual(3);
    expect(ats.length).toBeGreaterThanOrEqual(50);
    expect(ats.length).toBeLessThanOrEqual(61);
    const q = api.calls[0]!.query;
    expect([q.get('Action'), q.get('Thing'), q.get('AppId'), q.get('IsTest'), q.get('SignatureVersion')]).toEqual([NAME, 'thing-1', '1234', 'false', '2.0']);
    expect(q.get('Signature')).toMatch(/^[0-9a-f]{32}$/);
    expect(q.has('Sequence')).toBe(false);

    const text = await metrics(exp);
    const n = api.calls.length;
    expect(text).toContain(`zego_exporter_api_requests_total{api="${NAME}",code="0",outcome="ok"} ${n}\n`);
    expect(text).toContain(`zego_exporter_api_request_duration_seconds_count{api="${NAME}"} ${n}\n`);
    expect(text).toContain(`zego_exporter_rate_limit{api="${NAME}"} 3\n`);
    expect(text).toContain(`zego_exporter_rate_limit_configured{api="${NAME}"} 3\n`);
    expect(text).toMatch(new RegExp(`^zego_exporter_budget_slots_held\\{api="${NAME}"\\} [0-3]$`, 'm'));
    // Beside the product's own budgets, not instead of them.
    expect(text).toContain('zego_exporter_rate_limit{api="DescribeRTCStreamState"} 10\n');

    const page = exp.landingPage();
    expect(page).toMatch(new RegExp(`<p>${NAME}: budget 3 calls/s \\(configured 3\\), [0-3] slots held, \\d+ waiting\\.</p>`));
    expect(page).toContain(`<p>Made-up count: ${n}.</p>`);
  });

  it('in the test environment takes the limit the row gives for it', async () => {
    const api = fakeApi();
    const exp = exporter(api, true);
    await exp.start();
    await vi.advanceTimersByTimeAsync(10_000);
    const ats = api.calls.map((c) => c.at);
    expect(busiestSecond(ats)).toBe(1);
    expect(ats.length).toBeGreaterThanOrEqual(8);
    expect(api.calls[0]!.query.get('IsTest')).toBe('true');
    expect(await metrics(exp)).toContain(`zego_exporter_rate_limit{api="${NAME}"} 1\n`);
  });

  it('backs off on throttling answers like every API, in its own budget only', async () => {
    let throttling = true;
    const api = fakeApi(() => throttling);
    const exp = exporter(api);
    await exp.start();
    await vi.advanceTimersByTimeAsync(5000);
    const text = await metrics(exp);
    expect(text).toMatch(new RegExp(`^zego_exporter_api_requests_total\\{api="${NAME}",code="206",outcome="throttled"\\} [1-9]`, 'm'));
    const rate = Number(new RegExp(`^zego_exporter_rate_limit\\{api="${NAME}"\\} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(rate).toBeLessThan(3);
    expect(text).toContain('zego_exporter_rate_limit{api="DescribeRTCStreamState"} 10\n');
    throttling = false;
    await vi.advanceTimersByTimeAsync(120_000);
    expect(await metrics(exp)).toContain(`zego_exporter_rate_limit{api="${NAME}"} 3\n`);
  });
});
