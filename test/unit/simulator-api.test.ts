import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../simulator/server.js';
import { FakeClock, apiUrl, call, type ReqParams } from './simulator-helpers.js';

const APP = 12345;
const SECRET = '9193cc662a4c0ec135ec71fb57194b38';
const NOT_LAUNCHED = 777;
/** The default app of ZEGO: no "stream status history" permission. */
const NO_HISTORY = 888;

let sim: Simulator | null = null;
let clock: FakeClock;

async function start(extra: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  clock = new FakeClock();
  sim = await startSimulator({
    apps: [
      // These tests read 41006 close times: the app is granted the history permission.
      { appId: APP, secret: SECRET, history: true },
      { appId: NOT_LAUNCHED, secret: 'nl-secret', production: false },
      { appId: NO_HISTORY, secret: 'nh-secret' },
    ],
    streams: {
      live: { state: 'active', createTime: 1_699_999_000 },
      gone: { state: 'closed', createTime: 1_699_990_000, closeTime: 1_699_995_000 },
      [`zegotest-${APP}-live`]: { state: 'active', createTime: 1_699_999_100 },
      [`zegotest-${NOT_LAUNCHED}-live`]: { state: 'active', createTime: 1_699_999_200 },
    },
    clock,
    ...extra,
  });
  return sim;
}

afterEach(async () => {
  await sim?.close();
  sim = null;
});

let seq = 1;
function req(p: Partial<ReqParams> = {}): Promise<Awaited<ReturnType<typeof call>>> {
  if (sim === null) throw new Error('no simulator');
  return call(apiUrl(sim.url, clock, { appId: APP, secret: SECRET, streamId: 'live', sequence: seq++, ...p }));
}

describe('signing', () => {
  it('accepts the official test vector', async () => {
    const s = await start();
    clock.wall = 1_615_186_943_000;
    const r = await call(
      apiUrl(s.url, clock, {
        appId: APP,
        secret: SECRET,
        streamId: 'live',
        sequence: 1,
        nonce: '4fd24687296dd9f3',
        timestamp: 1_615_186_943,
        signature: '43e5cfcca828314675f91b001390566a',
      }),
    );
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ Code: 0, Message: 'ok', Data: { create_time: '1699999000', close_time: '' } });
  });

  it('rejects a wrong signature, a wrong secret and an uppercase signature with 40005', async () => {
    await start();
    expect((await req({ signature: '0'.repeat(32) })).body.Code).toBe(40005);
    expect((await req({ secret: 'not-the-secret' })).body.Code).toBe(40005);
    const good = (await import('../../src/zego/sign.js')).signature(APP, '0123456789abcdef', SECRET, Math.floor(clock.wall / 1000));
    expect((await req({ signature: good.toUpperCase() })).body.Code).toBe(40005);
    // An empty Signature is the gateway's own "Signature empty" (return-codes.mdx).
    expect((await req({ omit: ['Signature'] })).body.Code).toBe(100000009);
  });

  it('setAppSecret rotates the secret: the old one gets 40005, the new one signs; bad input throws', async () => {
    const s = await start();
    s.setAppSecret(APP, 'rotated-secret');
    expect((await req()).body.Code).toBe(40005);
    expect((await req({ secret: 'rotated-secret' })).body.Code).toBe(0);
    expect(() => s.setAppSecret(999, 'x')).toThrow(RangeError);
    expect(() => s.setAppSecret(APP, '')).toThrow(RangeError);
    expect((await req({ secret: 'rotated-secret' })).body.Code).toBe(0);
  });

  it("rejects a nonce that is not exactly 16 hex characters with 40005 (an empty one: the gateway's 100000008)", async () => {
    await start();
    for (const nonce of ['0123456789abcde', '0123456789abcdef0', '0123456789abcdeg']) {
      const r = await req({ nonce });
      expect(r.body.Code, nonce).toBe(40005);
      expect(r.body.Data).toEqual({});
    }
    expect((await req({ nonce: '' })).body.Code).toBe(100000008);
  });

  it('allows 599 s of skew, rejects 601 s with 3002, both directions', async () => {
    await start();
    const now = Math.floor(clock.wall / 1000);
    expect((await req({ timestamp: now - 599 })).body.Code).toBe(0);
    expect((await req({ timestamp: now + 599 })).body.Code).toBe(0);
    const late = await req({ timestamp: now - 601 });
    expect(late.body).toMatchObject({ Code: 3002, Message: 'Timestamp error', Data: {} });
    expect((await req({ timestamp: now + 601 })).body.Code).toBe(3002);
    // Not a decimal number at all: the gateway's "Timestamp format error".
    expect((await req({ timestamp: '1.5e9' })).body.Code).toBe(100000003);
  });

  it('judges Timestamp by the simulator clock (clockOffsetMs) and reports it in Date', async () => {
    const s = await start();
    s.setFaults({ clockOffsetMs: 700_000 });
    const r = await req();
    expect(r.body.Code).toBe(3002);
    expect(new Date(r.date ?? '').getTime()).toBe(Math.floor((clock.wall + 700_000) / 1000) * 1000);
    expect((await req({ timestamp: Math.floor((clock.wall + 700_000) / 1000) })).body.Code).toBe(0);
  });

  it("answers the gateway's codes for the common parameters (Action 100000006/7, SignatureVersion 100000013/14, Timestamp 100000002/3, nonce and signature 100000008/9), a room call without its RoomId 2, an unknown AppId 100000010 and a malformed one 100000001", async () => {
    await start();
    expect((await req({ action: 'DescribeNothing' })).body.Code).toBe(100000007);
    expect((await req({ action: '' })).body.Code).toBe(100000006);
    expect((await req({ action: 'DescribeSimpleStreamList' })).body).toMatchObject({ Code: 2, Message: 'bad parameter: RoomId' });
    expect((await req({ version: '1.0' })).body.Code).toBe(100000014);
    expect((await req({ omit: ['SignatureVersion'] })).body.Code).toBe(100000013);
    expect((await req({ omit: ['Timestamp'] })).body.Code).toBe(100000002);
    expect((await req({ timestamp: 'soon' })).body.Code).toBe(100000003);
    expect((await req({ omit: ['SignatureNonce'] })).body.Code).toBe(100000008);
    expect((await req({ omit: ['Signature'] })).body.Code).toBe(100000009);
    expect((await req({ appId: 999 })).body).toMatchObject({ Code: 100000010, Data: {} });
    const base = sim?.url ?? '';
    expect(
      (await call(apiUrl(base, clock, { appId: APP, secret: SECRET, streamId: 'live', sequence: 1 }).replace('AppId=12345', 'AppId=012345'))).body.Code,
    ).toBe(100000001);
    expect(
      (await call(apiUrl(base, clock, { appId: APP, secret: SECRET, streamId: 'live', sequence: 1 }).replace('AppId=12345', 'AppId=4294967296'))).body.Code,
    ).toBe(100000001);
  });
});

describe('Sequence', () => {
  it('must strictly increase per StreamId within 10 s; a lower one is fine after 10 s', async () => {
    const s = await start();
    expect((await req({ sequence: 1000 })).body.Code).toBe(0);
    const same = await req({ sequence: 1000 });
    expect(same.body).toMatchObject({
      Code: 30010,
      Message: 'Sequence must be strictly increasing within 10 s for the same StreamId',
    });
    expect((await req({ sequence: 999 })).body.Code).toBe(30010);
    // Other streams have their own sequence.
    expect((await req({ streamId: 'gone', sequence: 5 })).body.Code).toBe(41006);
    clock.advance(9_999);
    expect((await req({ sequence: 500 })).body.Code).toBe(30010);
    clock.advance(2);
    expect((await req({ sequence: 500 })).body.Code).toBe(0);
    expect(s.stats().sequenceViolations).toBe(3);
  });

  it('compares as integers, not strings, and rejects missing or non-numeric values', async () => {
    await start();
    expect((await req({ sequence: '9' })).body.Code).toBe(0);
    expect((await req({ sequence: '10' })).body.Code).toBe(0);
    expect((await req({ sequence: '99999999999999999999999' })).body.Code).toBe(0);
    expect((await req({ sequence: 'abc' })).body.Code).toBe(30010);
    expect((await req({ sequence: '-5' })).body.Code).toBe(30010);
    expect((await req({ omit: ['Sequence'] })).body.Code).toBe(30010);
  });
});

describe('rate limit (sliding 1 s window per AppId and environment)', () => {
  it('accepts exactly 40 in one second and throttles the 41st with 30002', async () => {
    const s = await start();
    for (let i = 0; i < 40; i++) expect((await req()).body.Code).toBe(0);
    expect((await req()).body).toMatchObject({ Code: 30002, Message: 'API call rate too high', Data: {} });
    const st = s.stats();
    expect(st).toMatchObject({ arrivals: 41, accepted: 40, throttled: 1, peakWindow: { admitted: 40, all: 41 } });
  });

  it('limits a burst that straddles a second boundary (sliding, not fixed buckets)', async () => {
    await start();
    clock.mono = 500;
    for (let i = 0; i < 40; i++) {
      clock.mono = 500 + Math.round((i * 490) / 39);
      expect((await req()).body.Code).toBe(0);
    }
    clock.mono = 1200;
    expect((await req()).body.Code).toBe(30002);
    clock.mono = 2000;
    expect((await req()).body.Code).toBe(0);
  });

  it('counts arrivals that fail later checks, and throttled arrivals too', async () => {
    const s = await start();
    for (let i = 0; i < 20; i++) expect((await req({ signature: 'x' })).body.Code).toBe(40005);
    for (let i = 0; i < 20; i++) expect((await req()).body.Code).toBe(0);
    expect((await req()).body.Code).toBe(30002);
    clock.mono += 999;
    // The throttled arrival is still in the window.
    expect((await req()).body.Code).toBe(30002);
    // Unknown AppIds don't consume anyone's budget.
    expect((await req({ appId: 999 })).body.Code).toBe(100000010);
    expect(s.stats().throttled).toBe(2);
  });

  it('has a separate 10/s window for the test environment', async () => {
    const s = await start();
    for (let i = 0; i < 10; i++) expect((await req({ isTest: true, streamId: `zegotest-${APP}-live` })).body.Code).toBe(0);
    expect((await req({ isTest: true, streamId: `zegotest-${APP}-live` })).body.Code).toBe(30002);
    expect((await req({ isTest: true, streamId: `zegotest-${APP}-live` })).body.Code).toBe(30002);
    // Production budget is untouched.
    expect((await req()).body.Code).toBe(0);
    const st = s.stats();
    expect(st.windows[`${APP}:test`]).toEqual({ admitted: 10, all: 12 });
    expect(st.windows[`${APP}:production`]).toEqual({ admitted: 1, all: 1 });
    expect(st.peakWindow).toEqual({ admitted: 10, all: 12 });
    expect(st.streamCalls[`zegotest-${APP}-live`]).toBe(12);
    expect(st.codes).toEqual({ '0': 11, '30002': 2 });
  });

  it('honours per-app limits', async () => {
    clock = new FakeClock();
    sim = await startSimulator({ apps: [{ appId: APP, secret: SECRET, rateLimit: 3 }], streams: {}, clock });
    for (let i = 0; i < 3; i++) expect((await req()).body.Code).toBe(41004);
    expect((await req()).body.Code).toBe(30002);
  });
});

describe('environments', () => {
  it('requires the zegotest-<AppId>- prefix in the test environment (30009)', async () => {
    await start();
    expect((await req({ isTest: true, streamId: 'live' })).body.Code).toBe(30009);
    expect((await req({ isTest: true, streamId: `zegotest-${APP}-` })).body.Code).toBe(30009);
    expect((await req({ isTest: true, streamId: `zegotest-99-live` })).body.Code).toBe(30009);
    expect((await req({ isTest: true, streamId: `zegotest-${APP}-live` })).body.Code).toBe(0);
    expect((await req({ isTest: 'false' })).body.Code).toBe(0);
  });

  it('answers 30004 for a not-launched app without IsTest=true, or a bad IsTest value', async () => {
    await start();
    const p = { appId: NOT_LAUNCHED, secret: 'nl-secret', streamId: `zegotest-${NOT_LAUNCHED}-live` };
    expect((await req(p)).body.Code).toBe(30004);
    expect((await req({ ...p, isTest: false })).body.Code).toBe(30004);
    expect((await req({ ...p, isTest: true })).body.Code).toBe(0);
    expect((await req({ isTest: 'yes' })).body.Code).toBe(30004);
  });

  it('enforces StreamId naming rules (30009)', async () => {
    await start();
    for (const streamId of ['', 'a b', 'a.b', 'ü', 'x'.repeat(257)]) {
      expect((await req({ streamId })).body.Code, streamId).toBe(30009);
    }
    expect((await req({ streamId: 'x'.repeat(256) })).body.Code).toBe(41004);
  });
});

describe('stream states', () => {
  it('answers 0 / 41006 / 41004 with string times with the history permission, and 41004 for closed streams without it (the default)', async () => {
    await start();
    const active = await req();
    expect(active.body).toMatchObject({ Code: 0, Message: 'ok', Data: { create_time: '1699999000', close_time: '' } });
    const closed = await req({ streamId: 'gone' });
    expect(closed.body).toMatchObject({ Code: 41006, Data: { create_time: '1699990000', close_time: '1699995000' } });
    const unknown = await req({ streamId: 'nope' });
    expect(unknown.body).toMatchObject({ Code: 41004, Data: {} });
    const noHistory = await req({ appId: NO_HISTORY, secret: 'nh-secret', streamId: 'gone' });
    expect(noHistory.body).toMatchObject({ Code: 41004, Data: {} });
    // Active streams are visible regardless of the history permission.
    expect((await req({ appId: NO_HISTORY, secret: 'nh-secret' })).body.Code).toBe(0);
  });

  it('issues increasing RequestIds, always HTTP 200 with the envelope and a Date header', async () => {
    await start();
    const ids: number[] = [];
    for (const p of [{}, { signature: 'bad' }, { streamId: 'nope' }]) {
      const r = await req(p);
      expect(r.status).toBe(200);
      expect(Object.keys(r.body).sort()).toEqual(['Code', 'Data', 'Message', 'RequestId']);
      expect(typeof r.body.RequestId).toBe('string');
      expect(new Date(r.date ?? '').getTime()).toBe(Math.floor(clock.wall / 1000) * 1000);
      ids.push(Number(r.body.RequestId));
    }
    expect(ids[1]).toBeGreaterThan(ids[0] as number);
    expect(ids[2]).toBeGreaterThan(ids[1] as number);
  });

  it('reflects setStream/removeStream immediately', async () => {
    const s = await start();
    s.setStream('new', { state: 'active', createTime: 42 });
    expect((await req({ streamId: 'new' })).body.Data).toEqual({ create_time: '42', close_time: '' });
    s.removeStream('new');
    expect((await req({ streamId: 'new' })).body.Code).toBe(41004);
    expect(() => s.setStream('bad id', { state: 'active', createTime: 1 })).toThrow();
  });

  it('serves only GET / as the API', async () => {
    const s = await start();
    expect((await fetch(`${s.url}/other`)).status).toBe(404);
    expect((await fetch(`${s.url}/?Action=x`, { method: 'POST', body: 'x' })).status).toBe(405);
    expect(s.stats().arrivals).toBe(0);
  });
});
