import { afterEach, describe, expect, it } from 'vitest';
import { signature } from '../../src/zego/sign.js';
import type { AppConfig } from '../../simulator/api.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../simulator/server.js';
import { FakeClock, apiUrl, call, control } from './simulator-helpers.js';

const APP = 4242;
const SECRET = 'prod-answers-secret';
let sim: Simulator | null = null;
let clock: FakeClock;
let seq = 1;

async function start(app: Partial<AppConfig> = {}, extra: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  clock = new FakeClock();
  sim = await startSimulator({ apps: [{ appId: APP, secret: SECRET, ...app }], clock, ...extra });
  return sim;
}

afterEach(async () => {
  await sim?.close();
  sim = null;
});

/** A signed room API call; IsTest=false unless `isTest` says otherwise (null: left out). */
async function room(action: 'DescribeSimpleStreamList' | 'DescribeUserNum', rooms: string[], isTest: string | null = 'false') {
  if (sim === null) throw new Error('no simulator');
  const ts = Math.floor(clock.wall / 1000);
  const nonce = '0123456789abcdef';
  const q = new URLSearchParams({
    Action: action,
    AppId: String(APP),
    SignatureNonce: nonce,
    Timestamp: String(ts),
    Signature: signature(APP, nonce, SECRET, ts),
    SignatureVersion: '2.0',
  });
  if (isTest !== null) q.set('IsTest', isTest);
  for (const r of rooms) q.append(action === 'DescribeUserNum' ? 'RoomId[]' : 'RoomId', r);
  return (await call(`${sim.url}/?${q.toString()}`)).body;
}

function stream(streamId: string, p: { isTest?: string; omit?: string[] } = {}) {
  if (sim === null) throw new Error('no simulator');
  return call(apiUrl(sim.url, clock, { appId: APP, secret: SECRET, streamId, sequence: seq++, ...p })).then((r) => r.body);
}

describe('room API throttling codes', () => {
  it('DescribeSimpleStreamList over the AppID limit answers 206; a second call for one room within 10 s answers 207; both are counted', async () => {
    const s = await start({ listRateLimit: 3 });
    for (const r of ['a', 'b', 'c']) s.setRoomCounts(r, { userCount: 1 });
    expect((await room('DescribeSimpleStreamList', ['a'])).Code).toBe(0);
    expect((await room('DescribeSimpleStreamList', ['a'])).Code).toBe(207);
    expect((await room('DescribeSimpleStreamList', ['b'])).Code).toBe(0);
    expect(await room('DescribeSimpleStreamList', ['c'])).toMatchObject({ Code: 206, Data: {} });
    const st = s.stats();
    expect(st.roomRuleViolations).toBe(1);
    expect(st.apis.DescribeSimpleStreamList).toMatchObject({ arrivals: 4, accepted: 3, throttled: 1 });
    expect(st.codes).toEqual({ '0': 2, '207': 1, '206': 1 });
  });

  it('DescribeUserNum over the AppID limit answers 206', async () => {
    const s = await start({ userNumRateLimit: 2 });
    expect((await room('DescribeUserNum', ['a'])).Code).toBe(0);
    expect((await room('DescribeUserNum', ['a'])).Code).toBe(0);
    expect((await room('DescribeUserNum', ['a'])).Code).toBe(206);
    expect(s.stats().apis.DescribeUserNum).toMatchObject({ accepted: 2, throttled: 1 });
  });

  it('with roomAppLimitCode 7 the AppID limit answers 7 on both room APIs; the per-room rule stays 207; DescribeRTCStreamState stays 30002', async () => {
    await start({ roomAppLimitCode: 7, listRateLimit: 1, userNumRateLimit: 1, rateLimit: 1 });
    expect((await room('DescribeSimpleStreamList', ['a'])).Code).toBe(104);
    expect((await room('DescribeSimpleStreamList', ['b'])).Code).toBe(7);
    clock.advance(1000);
    expect((await room('DescribeSimpleStreamList', ['a'])).Code).toBe(207);
    expect((await room('DescribeUserNum', ['a'])).Code).toBe(0);
    expect((await room('DescribeUserNum', ['a'])).Code).toBe(7);
    expect((await stream('x')).Code).toBe(41004);
    expect((await stream('x')).Code).toBe(30002);
  });

  it('refuses a roomAppLimitCode other than 206 or 7', async () => {
    await expect(start({ roomAppLimitCode: 30002 as 7 })).rejects.toThrow(/206 or 7/);
  });
});

describe('DescribeSimpleStreamList', () => {
  it('answers 104 for a room with nobody in it: unknown, empty, or left by its last stream and user', async () => {
    const s = await start();
    expect(await room('DescribeSimpleStreamList', ['never'])).toMatchObject({ Code: 104, Message: 'room does not exist', Data: {} });
    s.setRoomCounts('empty', { userCount: 0 });
    expect((await room('DescribeSimpleStreamList', ['empty'])).Code).toBe(104);
    s.publishInRoom('left', 'cam');
    expect((await room('DescribeSimpleStreamList', ['left'])).Code).toBe(0);
    clock.advance(10_000);
    s.unpublishFromRoom('left', 'cam');
    expect((await room('DescribeSimpleStreamList', ['left'])).Code).toBe(104);
  });

  it('a room with users but no stream is an empty list (Code 0), by default too', async () => {
    const s = await start();
    s.setRoomCounts('audience-only', { userCount: 3 });
    expect(await room('DescribeSimpleStreamList', ['audience-only'])).toMatchObject({ Code: 0, Data: { StreamList: [] } });
  });

  it('with emptyRoomList a room with nobody in it is Code 0 with StreamList []', async () => {
    await start({ emptyRoomList: true });
    expect(await room('DescribeSimpleStreamList', ['never'])).toMatchObject({ Code: 0, Message: 'ok', Data: { StreamList: [] } });
  });

  it('gives CreateTime in milliseconds', async () => {
    const s = await start();
    s.publishInRoom('r', 'host');
    const body = await room('DescribeSimpleStreamList', ['r']);
    const createSec = Math.floor(clock.wall / 1000);
    expect(body.Data).toEqual({ StreamList: [{ StreamId: 'host', UserId: 'user-1', UserName: 'user 1', CreateTime: createSec * 1000, StreamNumberId: 1 }] });
  });
});

describe('DescribeUserNum', () => {
  it('leaves AdminUserCount out when it is 0, and lists a room that does not exist with UserCount 0', async () => {
    const s = await start();
    s.setRoomCounts('bots', { userCount: 10, adminUserCount: 2 });
    s.setRoomCounts('people', { userCount: 5 });
    const body = await room('DescribeUserNum', ['bots', 'people', 'ghost']);
    expect(body).toMatchObject({ Code: 0 });
    expect(body.Data).toEqual({
      UserCountList: [
        { RoomId: 'bots', UserCount: 10, AdminUserCount: 2 },
        { RoomId: 'people', UserCount: 5 },
        { RoomId: 'ghost', UserCount: 0 },
      ],
    });
  });
});

describe('service not enabled (100000017), per Action', () => {
  it('answers 100000017 for a disabled Action only, set at start, at runtime and through PUT /_sim/services', async () => {
    const s = await start({}, { disabledActions: ['DescribeUserNum'] });
    expect(await room('DescribeUserNum', ['a'])).toMatchObject({ Code: 100000017, Message: 'service not enabled', Data: {} });
    expect((await room('DescribeSimpleStreamList', ['a'])).Code).toBe(104);
    expect((await stream('x')).Code).toBe(41004);
    expect((await control(s.url, 'GET', '/_sim/services')).json).toEqual({
      DescribeRTCStreamState: true,
      DescribeSimpleStreamList: true,
      DescribeUserNum: false,
      GetMixTaskInfo: true,
    });

    const put = await control(s.url, 'PUT', '/_sim/services', '{"DescribeRTCStreamState":false,"DescribeUserNum":true}');
    expect(put).toEqual({ status: 200, json: { DescribeRTCStreamState: false, DescribeSimpleStreamList: true, DescribeUserNum: true, GetMixTaskInfo: true } });
    expect((await stream('x')).Code).toBe(100000017);
    expect((await room('DescribeUserNum', ['a'])).Code).toBe(0);

    s.setDisabledActions([]);
    expect((await stream('x')).Code).toBe(41004);
  });

  it('is checked after the signature: a forged call still gets 40005', async () => {
    const s = await start({}, { disabledActions: ['DescribeRTCStreamState'] });
    expect((await call(apiUrl(s.url, clock, { appId: APP, secret: 'wrong', streamId: 'x', sequence: seq++ }))).body.Code).toBe(40005);
  });

  it.each([
    ['{"DescribeUserNum":"no"}', /true \(enabled\) or false/],
    ['{"Describe":false}', /unknown Action/],
    ['[]', /body must be/],
    ['not json', /body must be/],
  ])('PUT /_sim/services %s → 400, nothing changed', async (body, message) => {
    const s = await start();
    const r = await control(s.url, 'PUT', '/_sim/services', body);
    expect(r.status).toBe(400);
    expect((r.json as { error: string }).error).toMatch(message);
    expect(s.disabledActions()).toEqual([]);
  });
});

describe('IsTest', () => {
  it('is required by default (a project created before 2021-11-16): a call without it answers 30004, and is counted', async () => {
    const s = await start();
    expect(await stream('x', { omit: ['IsTest'] })).toMatchObject({ Code: 30004, Message: 'IsTest is required for this app' });
    expect((await room('DescribeUserNum', ['a'], null)).Code).toBe(30004);
    expect(s.stats().missingIsTest).toBe(2);
    expect((await stream('x')).Code).toBe(41004);
    expect(s.stats().missingIsTest).toBe(2);
    expect((await control(s.url, 'GET', '/_sim/stats')).json).toMatchObject({ missingIsTest: 2 });
  });

  it('is read case-insensitively', async () => {
    const s = await start();
    s.setStream(`zegotest-${APP}-cam`, { state: 'active', createTime: 1 });
    expect((await stream('x', { isTest: 'FALSE' })).Code).toBe(41004);
    expect((await stream(`zegotest-${APP}-cam`, { isTest: 'True' })).Code).toBe(0);
    expect((await stream('x', { isTest: 'yes' })).Code).toBe(30004);
    // The test environment's own window counted it: 10/s there.
    expect(s.stats().windows[`${APP}:test`]).toEqual({ admitted: 1, all: 1 });
  });

  it('is optional for a newer project (isTestRequired false): without it the call is production', async () => {
    const s = await start({ isTestRequired: false });
    expect((await stream('x', { omit: ['IsTest'] })).Code).toBe(41004);
    expect(s.stats().missingIsTest).toBe(1);
  });
});

describe('history permission', () => {
  it('is off by default: a closed stream answers 41004 without times; with history it answers 41006 with them', async () => {
    let s = await start();
    s.setStream('gone', { state: 'closed', createTime: 100, closeTime: 200 });
    expect(await stream('gone')).toMatchObject({ Code: 41004, Data: {} });
    await s.close();
    s = await start({ history: true });
    s.setStream('gone', { state: 'closed', createTime: 100, closeTime: 200 });
    expect(await stream('gone')).toMatchObject({ Code: 41006, Data: { create_time: '100', close_time: '200' } });
  });
});

describe('room APIs answer timestamp and signature errors with the gateway codes', () => {
  it('100000004 for a Timestamp out of the window, 100000005 for a bad signature; DescribeRTCStreamState keeps 3002 / 40005', async () => {
    const s = await start();
    s.setRoomCounts('a', { userCount: 1 });
    s.setFaults({ clockOffsetMs: 700_000 });
    expect((await room('DescribeUserNum', ['a'])).Code).toBe(100000004);
    expect((await stream('x')).Code).toBe(3002);
    s.setFaults({ clockOffsetMs: 0 });
    s.setAppSecret(APP, 'rotated');
    expect((await room('DescribeSimpleStreamList', ['a'])).Code).toBe(100000005);
    expect((await stream('x')).Code).toBe(40005);
  });
});
