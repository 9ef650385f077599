import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import { MAX_STREAM_LIST_BYTES, ZegoClient } from '../../src/zego/client.js';
import { SequenceCounter } from '../../src/zego/sequence.js';
import { signature } from '../../src/zego/sign.js';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { FakeClock } from './simulator-helpers.js';

const APP = 123456789;
const SECRET = '9193cc662a4c0ec135ec71fb57194b38';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function sim(
  opts: { isTestApp?: boolean; rateLimit?: number; emptyRoomList?: boolean; history?: boolean } = {},
): Promise<{ s: Simulator; clock: FakeClock }> {
  const clock = new FakeClock();
  const s = await startSimulator({
    apps: [
      {
        appId: APP,
        secret: SECRET,
        ...(opts.rateLimit === undefined ? {} : { rateLimit: opts.rateLimit }),
        ...(opts.emptyRoomList === undefined ? {} : { emptyRoomList: opts.emptyRoomList }),
        ...(opts.history === undefined ? {} : { history: opts.history }),
      },
    ],
    clock,
  });
  cleanups.push(() => s.close());
  return { s, clock };
}

function client(endpoint: string, clock: { wallMs(): number } | null, isTest = false): ZegoClient {
  const c = new ZegoClient({
    appId: APP,
    secret: new Secret(SECRET),
    endpoint,
    isTest,
    timeoutMs: 2000,
    sequence: new SequenceCounter(),
    ...(clock === null ? {} : { now: () => clock.wallMs() }),
  });
  cleanups.push(() => c.close());
  return c;
}

/** A server answering every request with `body`, recording the query of each. */
async function fixed(body: string): Promise<{ url: string; queries: URLSearchParams[] }> {
  const queries: URLSearchParams[] = [];
  const server: Server = createServer((req, res) => {
    queries.push(new URL(req.url ?? '/', 'http://x').searchParams);
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, queries };
}

const ok = (data: unknown): string => JSON.stringify({ Code: 0, Message: 'ok', RequestId: 'r1', Data: data });
const NOW_SEC = Math.floor(Date.now() / 1000);

describe('describeSimpleStreamList against the simulator', () => {
  it('lists the streams published in the room with their create times, signed like every call', async () => {
    const { s, clock } = await sim();
    s.publishInRoom('show#1', 'host');
    s.publishInRoom('show#1', 'guest');
    s.publishInRoom('other', 'elsewhere');
    const r = await client(s.url, clock).describeSimpleStreamList('show#1');
    expect(r.code).toBe('0');
    expect(r.roomId).toBe('show#1');
    const startSec = Math.floor(clock.wall / 1000);
    expect(r.outcome).toEqual({
      kind: 'ok',
      streams: [
        { streamId: 'host', createTimeSec: startSec, userId: 'user-1', streamNumberId: 1 },
        { streamId: 'guest', createTimeSec: startSec, userId: 'user-2', streamNumberId: 2 },
      ],
    });
    expect(s.stats().roomListCalls).toEqual({ 'show#1': 1 });
  });

  it('an empty or unknown room is an empty list, not a failure (a simulator answering the empty list)', async () => {
    const { s, clock } = await sim({ emptyRoomList: true });
    const r = await client(s.url, clock).describeSimpleStreamList('nobody-here');
    expect(r.outcome).toEqual({ kind: 'ok', streams: [] });
  });

  it('a stream that stops leaves the list and reads closed for DescribeRTCStreamState (one model)', async () => {
    // The room keeps an audience, so it still exists (an empty list, not 104) after the stream stops;
    // "closed" (41006) needs the history permission.
    const { s, clock } = await sim({ history: true });
    s.setRoomCounts('live', { userCount: 1 });
    const c = client(s.url, clock);
    s.publishInRoom('live', 'cam');
    expect((await c.describeStreamState('cam')).outcome.kind).toBe('active');
    s.unpublishFromRoom('live', 'cam');
    expect((await c.describeStreamState('cam')).outcome.kind).toBe('closed');
    const r = await c.describeSimpleStreamList('live');
    expect(r.outcome).toEqual({ kind: 'ok', streams: [] });
  });

  it('in the test environment strips the prefix from listed stream ids and sends the room id as configured', async () => {
    const { s, clock } = await sim();
    s.publishInRoom('room-a', `zegotest-${APP}-host`);
    const r = await client(s.url, clock, true).describeSimpleStreamList('room-a');
    expect(r.outcome).toMatchObject({ kind: 'ok', streams: [{ streamId: 'host' }] });
    expect(Object.keys(s.stats().roomListCalls)).toEqual(['room-a']);
  });

  it('a second call for one room within 10 s is refused (207, that room held back) and counted; after 10 s it is answered', async () => {
    const { s, clock } = await sim();
    // Rooms with an audience: they exist, so an answered call is Code 0.
    for (const r of ['r', 'other-room']) s.setRoomCounts(r, { userCount: 1 });
    const c = client(s.url, clock);
    expect((await c.describeSimpleStreamList('r')).outcome.kind).toBe('ok');
    clock.advance(9_999);
    const again = await c.describeSimpleStreamList('r');
    expect(again.code).toBe('207');
    expect(again.outcome).toMatchObject({ kind: 'failed', reason: 'room_throttled' });
    expect(s.stats().roomRuleViolations).toBe(1);
    // The refused arrival counts too (on arrival): 10 s from it, not from the first call.
    clock.advance(9_999);
    expect((await c.describeSimpleStreamList('r')).code).toBe('207');
    clock.advance(10_000);
    expect((await c.describeSimpleStreamList('r')).code).toBe('0');
    expect((await c.describeSimpleStreamList('other-room')).code).toBe('0');
  });

  it('Code 154 (list information unavailable) is transient', async () => {
    const { s, clock } = await sim();
    s.setFaults({ listFailure: 1 });
    const r = await client(s.url, clock).describeSimpleStreamList('r');
    expect(r.code).toBe('154');
    expect(r.outcome).toMatchObject({ kind: 'failed', reason: 'transient' });
    expect(s.stats().faults.listFailure).toBe(1);
  });

  it('the list API has its own 50/s window: an exhausted stream-state budget does not throttle it', async () => {
    const { s, clock } = await sim({ rateLimit: 1, emptyRoomList: true });
    const c = client(s.url, clock);
    await c.describeStreamState('a');
    expect((await c.describeStreamState('b')).outcome).toMatchObject({ reason: 'throttled' });
    const codes: string[] = [];
    for (let i = 0; i < 51; i++) codes.push((await c.describeSimpleStreamList(`room-${i}`)).code);
    expect(codes.slice(0, 50).every((code) => code === '0')).toBe(true);
    expect(codes[50]).toBe('206');
    expect(s.stats().apis.DescribeSimpleStreamList).toMatchObject({ accepted: 50, throttled: 1 });
    expect(s.stats().apis.DescribeRTCStreamState).toMatchObject({ accepted: 1, throttled: 1 });
  });
});

describe('room APIs share the client plumbing', () => {
  it('a timestamp error on a room API teaches the clock offset every later call uses', async () => {
    const { s, clock } = await sim();
    s.setFaults({ clockOffsetMs: 20 * 60_000 });
    s.setRoomCounts('a', { userCount: 1 });
    const c = client(s.url, clock);
    const first = await c.describeUserNum(['a']);
    expect(first.code).toBe('100000004');
    expect(first.outcome).toMatchObject({ kind: 'failed', reason: 'clock_skew' });
    expect((await c.describeSimpleStreamList('a')).code).toBe('0');
    expect((await c.describeStreamState('x')).code).toBe('41004');
  });

  it('a body over the size cap is a bad response, not a crash; a 2000-stream room (~90 KB) is read whole', async () => {
    const big = await fixed(ok({ StreamList: Array.from({ length: 2000 }, (_, i) => ({ StreamId: `stream-${i}`, CreateTime: NOW_SEC })) }));
    expect((await client(big.url, null).describeSimpleStreamList('big')).code).toBe('0');
    const api = await fixed(ok({ StreamList: Array.from({ length: 30_000 }, (_, i) => ({ StreamId: `stream-${i}`, CreateTime: NOW_SEC })) }));
    const r = await client(api.url, null).describeSimpleStreamList('huge');
    expect(r.code).toBe('bad_response');
    expect(r.outcome).toMatchObject({ kind: 'failed', reason: 'error' });
  });
});

describe('describeUserNum against the simulator', () => {
  it('counts users and admins of up to 10 rooms in one call, 0 for a room that does not exist', async () => {
    const { s, clock } = await sim();
    s.setRoomCounts('a', { userCount: 120, adminUserCount: 2 });
    s.setRoomCounts('b', { userCount: 3 });
    const r = await client(s.url, clock).describeUserNum(['a', 'b', 'ghost']);
    expect(r.code).toBe('0');
    expect(r.roomIds).toEqual(['a', 'b', 'ghost']);
    expect(r.outcome).toEqual({
      kind: 'ok',
      counts: [
        { roomId: 'a', userCount: 120, adminUserCount: 2 },
        { roomId: 'b', userCount: 3, adminUserCount: 0 },
        { roomId: 'ghost', userCount: 0, adminUserCount: 0 },
      ],
    });
    expect(s.stats()).toMatchObject({ userNumCalls: 1, userNumRooms: 3 });
  });

  it('refuses 0 or 11 rooms before sending anything', async () => {
    const { s, clock } = await sim();
    const c = client(s.url, clock);
    await expect(c.describeUserNum([])).rejects.toThrow(RangeError);
    await expect(c.describeUserNum(Array.from({ length: 11 }, (_, i) => `r${i}`))).rejects.toThrow(/1 to 10 rooms/);
    expect(s.stats().arrivals).toBe(0);
  });

  it('the test environment allows 1 call/s, production 10/s, each in its own window', async () => {
    const { s, clock } = await sim();
    const test = client(s.url, clock, true);
    expect((await test.describeUserNum(['a'])).code).toBe('0');
    expect((await test.describeUserNum(['a'])).outcome).toMatchObject({ kind: 'failed', reason: 'throttled' });
    const prod = client(s.url, clock);
    const codes: string[] = [];
    for (let i = 0; i < 11; i++) codes.push((await prod.describeUserNum(['a'])).code);
    expect(codes.filter((c) => c === '0')).toHaveLength(10);
    expect(codes[10]).toBe('206');
    clock.advance(1000);
    expect((await test.describeUserNum(['a'])).code).toBe('0');
  });

  it('the simulator refuses a call with more than 10 rooms (2, bad parameter), so a client bug cannot pass', async () => {
    const { s, clock } = await sim();
    const ts = Math.floor(clock.wall / 1000);
    const nonce = '0123456789abcdef';
    const q = new URLSearchParams({ Action: 'DescribeUserNum', AppId: String(APP), SignatureNonce: nonce, Timestamp: String(ts), IsTest: 'false' });
    q.set('Signature', signature(APP, nonce, SECRET, ts));
    q.set('SignatureVersion', '2.0');
    for (let i = 0; i < 11; i++) q.append('RoomId[]', `r${i}`);
    const body = (await (await fetch(`${s.url}/?${q}`)).json()) as { Code: number };
    expect(body.Code).toBe(2);
  });
});

describe('room API request shape', () => {
  it('DescribeUserNum repeats RoomId[] once per room, in order, with the common parameters and no Sequence', async () => {
    const api = await fixed(ok({ UserCountList: [] }));
    await client(api.url, null).describeUserNum(['x', 'y/z']);
    const q = api.queries[0]!;
    expect(q.get('Action')).toBe('DescribeUserNum');
    expect(q.getAll('RoomId[]')).toEqual(['x', 'y/z']);
    expect(q.get('Sequence')).toBeNull();
    expect(q.get('Signature')).toBe(signature(APP, q.get('SignatureNonce')!, SECRET, Number(q.get('Timestamp'))));
  });

  it('DescribeSimpleStreamList sends RoomId unprefixed even in the test environment', async () => {
    const api = await fixed(ok({ StreamList: [] }));
    await client(api.url, null, true).describeSimpleStreamList('room-1');
    expect(api.queries[0]!.get('RoomId')).toBe('room-1');
    expect(api.queries[0]!.get('IsTest')).toBe('true');
  });
});

describe('room API response validation', () => {
  const list = async (data: unknown, isTest = false) => (await client((await fixed(ok(data))).url, null, isTest)).describeSimpleStreamList('r');

  it('reads CreateTime in seconds or milliseconds by magnitude', async () => {
    const r = await list({
      StreamList: [
        { StreamId: 'a', CreateTime: NOW_SEC },
        { StreamId: 'b', CreateTime: NOW_SEC * 1000 + 500 },
      ],
    });
    expect(r.outcome).toEqual({
      kind: 'ok',
      streams: [
        { streamId: 'a', createTimeSec: NOW_SEC },
        { streamId: 'b', createTimeSec: NOW_SEC + 0.5 },
      ],
    });
  });

  it.each([
    ['no StreamId', { CreateTime: NOW_SEC }],
    ['a StreamId breaking the rules', { StreamId: 'has space', CreateTime: NOW_SEC }],
    ['no CreateTime', { StreamId: 'a' }],
    ['a CreateTime that is no number', { StreamId: 'a', CreateTime: 'yesterday' }],
    ['a CreateTime before 2015', { StreamId: 'a', CreateTime: 1_000_000_000 }],
    ['a CreateTime days ahead', { StreamId: 'a', CreateTime: NOW_SEC + 3 * 86_400 }],
    ['a stream listed twice', { StreamId: 'fine', CreateTime: NOW_SEC }],
    ['an entry that is no object', 'a'],
  ])('one entry with %s makes the whole answer a bad response', async (_what, entry) => {
    const r = await list({ StreamList: [{ StreamId: 'fine', CreateTime: NOW_SEC }, entry] });
    expect(r.code).toBe('bad_response');
    expect(r.outcome).toMatchObject({ kind: 'failed', reason: 'error' });
  });

  it('a StreamList that is no array is a bad response; a missing one is an empty room', async () => {
    expect((await list({ StreamList: { StreamId: 'a' } })).code).toBe('bad_response');
    expect((await list({})).outcome).toEqual({ kind: 'ok', streams: [] });
  });

  const users = async (data: unknown, rooms: string[], isTest = false) => (await client((await fixed(ok(data))).url, null, isTest)).describeUserNum(rooms);

  it('a requested room missing from the answer counts 0; rooms not asked for are ignored', async () => {
    const r = await users(
      {
        UserCountList: [
          { RoomId: 'b', UserCount: 5, AdminUserCount: 1 },
          { RoomId: 'zz', UserCount: 9, AdminUserCount: 0 },
        ],
      },
      ['a', 'b'],
    );
    expect(r.outcome).toEqual({
      kind: 'ok',
      counts: [
        { roomId: 'a', userCount: 0, adminUserCount: 0 },
        { roomId: 'b', userCount: 5, adminUserCount: 1 },
      ],
    });
  });

  it('a RoomId answered with the test prefix matches the configured room', async () => {
    const r = await users({ UserCountList: [{ RoomId: `zegotest-${APP}-a`, UserCount: 7, AdminUserCount: 0 }] }, ['a'], true);
    expect(r.outcome).toEqual({ kind: 'ok', counts: [{ roomId: 'a', userCount: 7, adminUserCount: 0 }] });
  });

  it.each([
    ['a negative count', [{ RoomId: 'a', UserCount: -1, AdminUserCount: 0 }]],
    ['a fractional count', [{ RoomId: 'a', UserCount: 1.5, AdminUserCount: 0 }]],
    ['a non-numeric count', [{ RoomId: 'a', UserCount: 'many', AdminUserCount: 0 }]],
    ['an AdminUserCount that is no count', [{ RoomId: 'a', UserCount: 1, AdminUserCount: 'x' }]],
    ['an AdminUserCount of null', [{ RoomId: 'a', UserCount: 1, AdminUserCount: null }]],
    ['an implausible UserCount (999 999 999 999 999)', [{ RoomId: 'a', UserCount: 999_999_999_999_999, AdminUserCount: 0 }]],
    ['more admins than users (admins are counted in UserCount)', [{ RoomId: 'a', UserCount: 2, AdminUserCount: 3 }]],
    ['no RoomId', [{ UserCount: 1, AdminUserCount: 0 }]],
    [
      'a room listed twice',
      [
        { RoomId: 'a', UserCount: 1, AdminUserCount: 0 },
        { RoomId: 'a', UserCount: 2, AdminUserCount: 0 },
      ],
    ],
  ])('%s makes the answer a bad response', async (_what, list) => {
    const r = await users({ UserCountList: list }, ['a']);
    expect(r.code).toBe('bad_response');
    expect(r.outcome).toMatchObject({ kind: 'failed', reason: 'error' });
  });

  it('an absent AdminUserCount is 0 (the docs: "if the room has no such users, ignore this parameter")', async () => {
    const r = await users({ UserCountList: [{ RoomId: 'a', UserCount: 3 }] }, ['a']);
    expect(r.code).toBe('0');
    expect(r.outcome).toEqual({ kind: 'ok', counts: [{ roomId: 'a', userCount: 3, adminUserCount: 0 }] });
  });

  it.each([104, 5024, 50001])('room does not exist (%i) on the list is a successful read of an empty room, whatever Data holds', async (code) => {
    const api = await fixed(
      JSON.stringify({ Code: code, Message: 'room not exist', RequestId: 'r', Data: { StreamList: [{ StreamId: 'ghost', CreateTime: NOW_SEC }] } }),
    );
    const r = await client(api.url, null).describeSimpleStreamList('r');
    expect(r.code).toBe(String(code));
    expect(r.outcome).toEqual({ kind: 'ok', streams: [] });
  });

  it('room does not exist on DescribeUserNum counts every room asked for 0', async () => {
    const api = await fixed(JSON.stringify({ Code: 104, Message: 'room not exist', Data: {} }));
    const r = await client(api.url, null).describeUserNum(['a', 'b']);
    expect(r.outcome).toEqual({
      kind: 'ok',
      counts: [
        { roomId: 'a', userCount: 0, adminUserCount: 0 },
        { roomId: 'b', userCount: 0, adminUserCount: 0 },
      ],
    });
  });

  it.each([
    [7, 'throttled'],
    [206, 'throttled'],
    [207, 'room_throttled'],
    [1, 'transient'],
    [154, 'transient'],
    [3, 'config'],
    [9, 'config'],
    [100000017, 'config'],
  ] as const)('code %i on a room API reads %s', async (code, reason) => {
    const api = await fixed(JSON.stringify({ Code: code, Message: 'm', Data: {} }));
    const c = client(api.url, null);
    for (const r of [await c.describeSimpleStreamList('r'), await c.describeUserNum(['r'])]) {
      expect(r.code).toBe(String(code));
      expect(r.outcome).toMatchObject({ kind: 'failed', reason });
    }
  });

  it('a room of 600 streams with the longest ids (~200 KB answer) is read whole', async () => {
    const streams = Array.from({ length: 600 }, (_, i) => ({
      StreamId: `${String(i).padStart(4, '0')}-${'x'.repeat(251)}`,
      UserId: `user-${i}-${'u'.repeat(50)}`,
      UserName: 'n'.repeat(100),
      CreateTime: NOW_SEC * 1000,
      StreamNumberId: i,
    }));
    const body = ok({ StreamList: streams });
    expect(body.length).toBeGreaterThan(200_000);
    const api = await fixed(body);
    const r = await client(api.url, null).describeSimpleStreamList('big');
    expect(r.code).toBe('0');
    expect(r.outcome.kind === 'ok' && r.outcome.streams.length).toBe(600);
  });

  it('an answer over the list cap is a bad response, never a partial list', async () => {
    const api = await fixed(ok({ StreamList: [{ StreamId: 'a', CreateTime: NOW_SEC, UserName: 'n'.repeat(MAX_STREAM_LIST_BYTES) }] }));
    const r = await client(api.url, null).describeSimpleStreamList('r');
    expect(r.code).toBe('bad_response');
  });

  it('room APIs send IsTest on every call, false in production', async () => {
    const api = await fixed(ok({ StreamList: [] }));
    const c = client(api.url, null);
    await c.describeSimpleStreamList('r');
    await c.describeUserNum(['r']);
    expect(api.queries.map((q) => q.get('IsTest'))).toEqual(['false', 'false']);
  });

  it('stream-state codes mean nothing for a room: 41004 is an error, not "not found"', async () => {
    const api = await fixed(JSON.stringify({ Code: 41004, Message: 'x', Data: {} }));
    const r = await client(api.url, null).describeSimpleStreamList('r');
    expect(r.outcome).toMatchObject({ kind: 'failed', reason: 'error' });
  });
});
