import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ACTION_ROWS, ACTIONS, action, configuredRate, forEnv, limitOf, type ActionRow, type CallResult } from '../../src/api/actions.js';
import { ApiService, type ApiTransport } from '../../src/api/service.js';
import { Secret } from '../../src/config/secret.js';
import type { ZegoConfig } from '../../src/config/types.js';
import type { Gate } from '../../src/scheduler/budget.js';
import { readEnvelope } from '../../src/zego/response.js';
import type { FailureReason } from '../../src/zego/outcome.js';
import { API_ACTIONS } from '../../src/zego/protocol.js';

const T0 = 1_700_000_000_000;

function zego(over: Partial<ZegoConfig> = {}): ZegoConfig {
  return {
    appId: 1234,
    serverSecret: new Secret('0123456789abcdef0123456789abcdef'),
    endpoint: 'http://127.0.0.1:9',
    isTest: false,
    rateLimit: 30,
    streamListRateLimit: 40,
    userNumRateLimit: 8,
    mixTaskInfoRateLimit: 8,
    timeoutMs: 2000,
    ...over,
  };
}

/** A made-up Action of the test's own: the table's shape is all the service needs. */
function madeUp(name: string, limit = { production: 5, test: 2 }, sequence = false): ActionRow<string, CallResult<{ kind: 'ok' }>> {
  return action<string, CallResult<{ kind: 'ok' }>>({
    name,
    path: '',
    method: 'GET',
    limit,
    rate: { default: limit },
    sequence,
    maxBodyBytes: 1024,
    codes: 'room',
    params: (id) => [['Id', id]],
    parse: (status, body) => {
      const read = readEnvelope(status, body);
      return read.ok ? { code: String(read.envelope.code), outcome: { kind: 'ok' } } : read.failed;
    },
    result: (call) => call,
  });
}

interface Sent {
  action: string;
  input: unknown;
  sequence: number | undefined;
  at: number;
}

/** Answers every call at once with `answer(action)`; records what was sent and when. */
function transport(answer: (action: string) => { code: string; reason?: FailureReason } = () => ({ code: '0' })): { t: ApiTransport; sent: Sent[] } {
  const sent: Sent[] = [];
  const t: ApiTransport = {
    call: async <I, R extends CallResult>(row: ActionRow<I, R>, input: I, _signal?: AbortSignal, sequence?: number): Promise<R> => {
      const at = Date.now();
      sent.push({ action: row.name, input, sequence, at });
      const a = answer(row.name);
      const outcome = a.reason ? { kind: 'failed' as const, reason: a.reason, message: a.code } : { kind: 'ok' };
      const r: CallResult = { code: a.code, outcome, sentAtMs: at, durationMs: 0 };
      return r as R;
    },
  };
  return { t, sent };
}

const services: ApiService[] = [];

function service(opts: Partial<ConstructorParameters<typeof ApiService>[0]> & { transport: ApiTransport }): ApiService {
  const s = new ApiService({ zego: zego(), now: Date.now, ...opts });
  services.push(s);
  return s;
}

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});

afterEach(async () => {
  const stops = services.splice(0).map((s) => s.stop(0));
  await vi.runAllTimersAsync();
  await Promise.all(stops);
  vi.useRealTimers();
});

describe('the Actions table', () => {
  it('holds every Action of the product once, each limit as ZEGO documents it, picked for the environment in one place', () => {
    expect(ACTION_ROWS.map((r) => r.name)).toEqual([...API_ACTIONS]);
    const limits = Object.fromEntries(ACTION_ROWS.map((r) => [r.name, [limitOf(r, false), limitOf(r, true)]]));
    expect(limits).toEqual({ DescribeRTCStreamState: [40, 10], DescribeSimpleStreamList: [50, 50], DescribeUserNum: [10, 1], GetMixTaskInfo: [100, 10] });
    expect(forEnv({ production: 7, test: 3 }, false)).toBe(7);
    expect(forEnv({ production: 7, test: 3 }, true)).toBe(3);
    // Every default budget leaves headroom under its own limit, in both environments.
    for (const r of ACTION_ROWS) {
      for (const isTest of [false, true]) expect(forEnv(r.rate.default, isTest)).toBeLessThanOrEqual(limitOf(r, isTest));
    }
    // Only DescribeRTCStreamState carries a Sequence; only the stream list reads a large body.
    expect(ACTION_ROWS.filter((r) => r.sequence).map((r) => r.name)).toEqual(['DescribeRTCStreamState']);
    expect(ACTIONS.DescribeSimpleStreamList.maxBodyBytes).toBeGreaterThan(ACTIONS.DescribeUserNum.maxBodyBytes);
  });

  it("reads each Action's configured budget from its config key, or its fixed default for a row without one", () => {
    const z = zego({ rateLimit: 12, streamListRateLimit: 22, userNumRateLimit: 3, mixTaskInfoRateLimit: 55 });
    expect(ACTION_ROWS.map((r) => configuredRate(r, z))).toEqual([12, 22, 3, 55]);
    expect(configuredRate(madeUp('X'), z)).toBe(5);
    expect(configuredRate(madeUp('X'), zego({ isTest: true }))).toBe(2);
  });

  it('refuses a table with an Action twice or a limit of 0, and names the row an unknown Action needs', () => {
    const { t } = transport();
    expect(() => service({ transport: t, actions: [...ACTION_ROWS, madeUp('DescribeUserNum')] })).toThrow('Action DescribeUserNum is in the table twice');
    expect(() => service({ transport: t, actions: [madeUp('X', { production: 0, test: 1 })] })).toThrow('limits must be above 0');
    expect(() => service({ transport: t, actions: [madeUp('Y', { production: 1, test: 0 })] })).toThrow('Action Y: limits must be above 0');
    expect(service({ transport: t, actions: [madeUp('Z', { production: 1, test: 1 })] }).row('Z')?.name).toBe('Z');
    expect(service({ transport: t }).row('DescribeNothing')).toBeUndefined();
    expect(() => service({ transport: t }).api('DescribeNothing')).toThrow(/unknown Action DescribeNothing: add a row to the Actions table/);
  });
});

describe('ApiService', () => {
  it('paces each budget under its own limit for the environment: never two sends closer than 1/limit', async () => {
    for (const isTest of [false, true]) {
      const { t, sent } = transport();
      const s = service({ transport: t, zego: zego({ isTest }), actions: [madeUp('X')] });
      const x = s.api('X');
      for (let i = 0; i < 12; i++) void x.call(`i${i}`);
      await vi.advanceTimersByTimeAsync(10_000);
      expect(sent).toHaveLength(12);
      const gaps = sent.slice(1).map((c, i) => c.at - sent[i]!.at);
      expect(Math.min(...gaps), `isTest ${isTest}`).toBeGreaterThanOrEqual(1000 / (isTest ? 2 : 5));
      // The slot rule on top: at most `rate` sends in any second.
      for (const c of sent) expect(sent.filter((o) => o.at >= c.at && o.at < c.at + 1000).length).toBeLessThanOrEqual(isTest ? 2 : 5);
    }
  });

  it('gives every Action in use one budget and one status shape, in table order, with what its user adds', async () => {
    const { t } = transport();
    const s = service({ transport: t, actions: [...ACTION_ROWS, madeUp('X')] });
    const x = s.api('X');
    const list = s.api('DescribeSimpleStreamList');
    expect(s.api('X')).toBe(x);
    list.describe((rate) => ({ queueLength: 4, demandPerSec: 60, achievableRefreshSec: 600 / rate }));
    const status = s.status();
    // Table order, only the Actions in use.
    expect(status.map((b) => b.api)).toEqual(['DescribeSimpleStreamList', 'X']);
    const keys = ['achievableCallsPerSec', 'achievableRefreshSec', 'api', 'demandPerSec', 'queueLength', 'rateLimit', 'rateLimitConfigured', 'slotsHeld'];
    for (const b of status) expect(Object.keys(b).sort()).toEqual(keys);
    expect(status[0]).toEqual({
      api: 'DescribeSimpleStreamList',
      rateLimit: 40,
      rateLimitConfigured: 40,
      queueLength: 4,
      slotsHeld: 0,
      achievableCallsPerSec: 40,
      achievableRefreshSec: 15,
      demandPerSec: 60,
    });
    // Without a user's workload: the budget's own queue, no demand, no refresh.
    for (let i = 0; i < 4; i++) void x.call(`c${i}`);
    expect(s.status()[1]).toMatchObject({
      api: 'X',
      rateLimit: 5,
      rateLimitConfigured: 5,
      queueLength: 3,
      slotsHeld: 1,
      demandPerSec: 0,
      achievableRefreshSec: 0,
    });
    await vi.advanceTimersByTimeAsync(450);
    expect(s.status()[1]).toMatchObject({ queueLength: 1, slotsHeld: 3 });
  });

  it('records every call under its own Action, and feeds each answer back to its own budget only', async () => {
    const answers: Record<string, { code: string; reason?: FailureReason }> = {
      X: { code: '30002', reason: 'throttled' },
      Y: { code: '100000017', reason: 'config' },
      Z: { code: '0' },
    };
    const { t } = transport((a) => answers[a]!);
    const recorded: [string, string][] = [];
    const s = service({ transport: t, actions: [madeUp('X'), madeUp('Y'), madeUp('Z')], record: (a, r) => recorded.push([a, r.code]) });
    const [x, y, z] = [s.api('X'), s.api('Y'), s.api('Z')];
    await Promise.all([x.call('1'), y.call('1'), z.call('1')]);
    expect(recorded.sort()).toEqual([
      ['X', '30002'],
      ['Y', '100000017'],
      ['Z', '0'],
    ]);
    // Throttled: X backs off; a configuration error: Y slows down; Z is untouched by either.
    expect(x.budget.effectiveRate).toBeLessThan(5);
    expect(x.budget.slowMode).toBe(false);
    expect(y.budget.effectiveRate).toBe(1);
    expect(z.budget.effectiveRate).toBe(5);
    const byApi = Object.fromEntries(s.status().map((b) => [b.api, b.rateLimit]));
    expect(byApi).toEqual({ X: x.budget.effectiveRate, Y: 1, Z: 5 });
    answers['Y'] = { code: '0' };
    await vi.advanceTimersByTimeAsync(1000);
    await y.call('2');
    expect(y.budget.effectiveRate).toBe(5);
  });

  it('sends at most one call per slot, and nothing for a slot its user gave up', async () => {
    const { t, sent } = transport();
    const s = service({ transport: t, actions: [madeUp('X')] });
    const x = s.api('X');
    // Caught at once: the rejection comes while the clock is moved.
    const twice = x.run(async (send) => (await send('a'), send('b'))).catch((err: unknown) => err);
    const none = x.run(async () => 'nothing sent');
    await vi.advanceTimersByTimeAsync(1000);
    expect(await twice).toEqual(new Error('X: one call per budget slot'));
    expect(await none).toBe('nothing sent');
    const gone = new AbortController();
    for (let i = 0; i < 6; i++) void x.call('busy');
    const dropped = x.call('dropped', { signal: gone.signal });
    gone.abort();
    expect(await dropped).toBeUndefined();
    await vi.advanceTimersByTimeAsync(5000);
    expect(sent.map((c) => c.input)).toEqual(['a', 'busy', 'busy', 'busy', 'busy', 'busy', 'busy']);
  });

  it("asks the gate provider's gate before every send, and hands its Sequence only to an Action that carries one", async () => {
    const { t, sent } = transport();
    const asked: string[] = [];
    let seq = 100;
    // No gate for 'Own': its budget alone admits its calls.
    const gateFor = (name: string): Gate | undefined =>
      name === 'Own'
        ? undefined
        : {
            acquire: async () => {
              asked.push(name);
              return { release: () => undefined, sequence: ++seq };
            },
          };
    const s = service({ transport: t, actions: [madeUp('Seq', undefined, true), madeUp('Plain'), madeUp('Own')], gate: gateFor });
    await s.api('Seq').call('a');
    await s.api('Plain').call('b');
    await s.api('Own').call('c');
    expect(asked).toEqual(['Seq', 'Plain']);
    expect(sent.map((c) => [c.action, c.sequence])).toEqual([
      ['Seq', 101],
      ['Plain', undefined],
      ['Own', undefined],
    ]);
  });

  it('re-paces a budget when its configured rate or the rate it may spend changes, and only then', () => {
    const { t } = transport();
    let cap = Infinity;
    const s = service({ transport: t, rate: (a, r) => (a === 'DescribeRTCStreamState' ? Math.min(r, cap) : r) });
    const probes = s.api('DescribeRTCStreamState');
    const users = s.api('DescribeUserNum');
    expect([probes.budget.rateLimit, users.budget.rateLimit]).toEqual([30, 8]);
    cap = 4;
    s.rateChanged();
    expect([probes.budget.rateLimit, users.budget.rateLimit]).toEqual([4, 8]);
    s.applyConfig(zego({ rateLimit: 2, userNumRateLimit: 5 }));
    expect([probes.budget.rateLimit, users.budget.rateLimit]).toEqual([2, 5]);
    expect(s.status().map((b) => [b.api, b.rateLimitConfigured])).toEqual([
      ['DescribeRTCStreamState', 2],
      ['DescribeUserNum', 5],
    ]);
    // A budget built later asks the provider for its own Action: the cap above is probing's alone.
    const list = s.api('DescribeSimpleStreamList');
    expect(list.budget.rateLimit).toBe(40);
    cap = 1;
    s.rateChanged();
    expect([probes.budget.rateLimit, list.budget.rateLimit]).toEqual([1, 40]);
  });
  it("tells a fleet's gate each new configured rate after a reload, and a gate without that or a service without a recorder is fine", async () => {
    const { t } = transport();
    const told: [string, number][] = [];
    const gateFor = (name: string, configured: number): Gate & { setRateLimit?(n: number): void } => {
      told.push([name, configured]);
      const g: Gate & { setRateLimit?(n: number): void } = { acquire: async () => ({ release: () => undefined }) };
      if (name === 'DescribeRTCStreamState') g.setRateLimit = (n) => void told.push([name, n]);
      return g;
    };
    // No `record`: a call is still sent and answered.
    const s = new ApiService({ zego: zego(), now: Date.now, transport: t, gate: gateFor });
    services.push(s);
    s.api('DescribeRTCStreamState');
    s.api('DescribeUserNum');
    expect(told).toEqual([
      ['DescribeRTCStreamState', 30],
      ['DescribeUserNum', 8],
    ]);
    s.applyConfig(zego({ rateLimit: 12, userNumRateLimit: 5 }));
    expect(told.slice(2)).toEqual([['DescribeRTCStreamState', 12]]);
    const answered = s.api('DescribeUserNum').call(['r1']);
    await vi.advanceTimersByTimeAsync(100);
    expect((await answered)?.code).toBe('0');
  });

  it('stops every budget: a call waiting for its slot then resolves undefined and nothing more is sent', async () => {
    const { t, sent } = transport();
    const s = service({ transport: t, actions: [madeUp('Slow', { production: 1, test: 1 })] });
    const api = s.api('Slow');
    const first = api.call('a');
    const second = api.call('b');
    await vi.advanceTimersByTimeAsync(10);
    expect(sent.map((x) => x.input)).toEqual(['a']);
    const stopped = s.stop(0);
    await vi.advanceTimersByTimeAsync(5000);
    await stopped;
    expect((await first)?.code).toBe('0');
    expect(await second).toBeUndefined();
    expect(sent.map((x) => x.input)).toEqual(['a']);
  });
});
