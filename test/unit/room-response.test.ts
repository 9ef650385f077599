import { describe, expect, it } from 'vitest';
import { MAX_PLAUSIBLE_USERS, parseResponse, parseStreamListResponse, parseUserNumResponse, readEnvelope } from '../../src/zego/response.js';

/**
 * The room APIs' answers read exactly (zego/response.ts): what each malformed answer is called, so
 * an operator reading the log knows which field of which entry was wrong.
 */

const APP = 1234567;
const NOW_MS = Date.UTC(2026, 0, 1);
const NOW_SEC = NOW_MS / 1000;
const prod = { appId: APP, isTest: false };
const test = { appId: APP, isTest: true };

const body = (data: unknown, code: unknown = 0, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ Code: code, Message: 'the message', RequestId: 'req-7', Data: data, ...extra });
const list = (entries: unknown[], code: unknown = 0): string => body({ StreamList: entries }, code);
const bad = (message: string) => ({ requestId: 'req-7', code: 'bad_response', outcome: { kind: 'failed', reason: 'error', message } });

describe('readEnvelope', () => {
  it('takes Code, Message, RequestId and Data when they have their types, and leaves out the rest', () => {
    expect(readEnvelope(200, body({ a: 1 }))).toEqual({ ok: true, envelope: { code: 0, message: 'the message', requestId: 'req-7', data: { a: 1 } } });
    expect(readEnvelope(200, JSON.stringify({ Code: '7', Message: 1, RequestId: 2, Data: [1] }))).toEqual({
      ok: true,
      envelope: { code: 7, message: '', data: {} },
    });
  });

  it('a Code given as a string of digits, with a sign or spaces around, is read; any other is not', () => {
    expect(readEnvelope(200, JSON.stringify({ Code: ' -12 ' }))).toMatchObject({ ok: true, envelope: { code: -12 } });
    for (const code of ['1.5', '12a', 'a12', '', '--1', 1.5, true, null])
      expect(readEnvelope(200, JSON.stringify({ Code: code })), JSON.stringify(code)).toMatchObject({ ok: false });
  });

  it('without a numeric Code: 5xx is transient by its hundred, 429 throttled, anything else a bad response naming the status', () => {
    expect(readEnvelope(500, 'x')).toEqual({ ok: false, failed: { code: 'http_5xx', outcome: { kind: 'failed', reason: 'transient', message: 'HTTP 500' } } });
    expect(readEnvelope(599, '{}')).toMatchObject({ failed: { code: 'http_5xx', outcome: { message: 'HTTP 599' } } });
    expect(readEnvelope(429, '{}')).toEqual({ ok: false, failed: { code: 'http_429', outcome: { kind: 'failed', reason: 'throttled', message: 'HTTP 429' } } });
    expect(readEnvelope(499, '{}')).toEqual({
      ok: false,
      failed: { code: 'bad_response', outcome: { kind: 'failed', reason: 'error', message: 'HTTP 499: response has no numeric Code' } },
    });
    expect(readEnvelope(200, '[{"Code":0}]')).toMatchObject({ failed: { code: 'bad_response' } });
  });
});

describe('parseResponse: messages', () => {
  it('a failure message is "Code n: Message", without a trailing space when the Message is empty', () => {
    expect(parseResponse(200, JSON.stringify({ Code: 5000, Message: '' })).outcome).toEqual({ kind: 'failed', reason: 'transient', message: 'Code 5000:' });
    expect(parseResponse(200, JSON.stringify({ Code: 5000, Message: 'busy' })).outcome).toMatchObject({ message: 'Code 5000: busy' });
  });

  it('an implausible time names the field and the value', () => {
    const r = parseResponse(200, body({ create_time: 1000 }), NOW_MS);
    expect(r).toEqual(bad('create_time 1000 s is outside the plausible window (2015 to one day ahead)'));
    const c = parseResponse(200, body({ create_time: NOW_SEC - 10, close_time: NOW_SEC + 3 * 86_400 }, 41006), NOW_MS);
    expect(c).toEqual(bad(`close_time ${NOW_SEC + 3 * 86_400} s is outside the plausible window (2015 to one day ahead)`));
  });
});

describe('parseStreamListResponse', () => {
  it('reads ids, create times, user ids and safe-integer stream numbers', () => {
    const r = parseStreamListResponse(
      200,
      list([
        { StreamId: 'a', CreateTime: NOW_SEC - 5, UserId: 'u1', StreamNumberId: 42 },
        { StreamId: 'b', CreateTime: String(NOW_SEC - 6), UserId: 7, StreamNumberId: 1.5 },
        { StreamId: 'c', CreateTime: ` ${NOW_SEC - 7} `, StreamNumberId: '3' },
        { StreamId: 'd', CreateTime: NOW_SEC - 8, StreamNumberId: 2 ** 60 },
      ]),
      prod,
      NOW_MS,
    );
    expect(r).toEqual({
      requestId: 'req-7',
      code: '0',
      outcome: {
        kind: 'ok',
        streams: [
          { streamId: 'a', createTimeSec: NOW_SEC - 5, userId: 'u1', streamNumberId: 42 },
          { streamId: 'b', createTimeSec: NOW_SEC - 6 },
          { streamId: 'c', createTimeSec: NOW_SEC - 7 },
          { streamId: 'd', createTimeSec: NOW_SEC - 8 },
        ],
      },
    });
  });

  it('an answer without RequestId carries none', () => {
    const r = parseStreamListResponse(200, JSON.stringify({ Code: 0, Data: { StreamList: [] } }), prod, NOW_MS);
    expect(r).toEqual({ code: '0', outcome: { kind: 'ok', streams: [] } });
    const f = parseStreamListResponse(200, JSON.stringify({ Code: 0, Data: { StreamList: 3 } }), prod, NOW_MS);
    expect(f).not.toHaveProperty('requestId');
  });

  it('in the test environment the prefix is stripped; in production it is kept', () => {
    const entries = [{ StreamId: `zegotest-${APP}-cam`, CreateTime: NOW_SEC }];
    expect(parseStreamListResponse(200, list(entries), test, NOW_MS).outcome).toMatchObject({ streams: [{ streamId: 'cam' }] });
    expect(parseStreamListResponse(200, list(entries), prod, NOW_MS).outcome).toMatchObject({ streams: [{ streamId: `zegotest-${APP}-cam` }] });
  });

  it('an empty room may come without the list; a room that does not exist publishes nothing whatever Data holds', () => {
    expect(parseStreamListResponse(200, body({}), prod, NOW_MS).outcome).toEqual({ kind: 'ok', streams: [] });
    expect(parseStreamListResponse(200, body({ StreamList: null }), prod, NOW_MS).outcome).toEqual({ kind: 'ok', streams: [] });
    for (const code of [104, 5024, 50001]) {
      const r = parseStreamListResponse(200, list([{ StreamId: 'a', CreateTime: NOW_SEC }], code), prod, NOW_MS);
      expect(r).toEqual({ requestId: 'req-7', code: String(code), outcome: { kind: 'ok', streams: [] } });
    }
  });

  it('names what is wrong with a malformed list or entry', () => {
    const p = (entries: unknown) => parseStreamListResponse(200, body({ StreamList: entries }), prod, NOW_MS);
    expect(p({})).toEqual(bad('Data.StreamList is not an array'));
    expect(p([{ StreamId: 'a', CreateTime: NOW_SEC }, 'x'])).toEqual(bad('Data.StreamList[1] is not an object'));
    expect(p([null])).toEqual(bad('Data.StreamList[0] is not an object'));
    expect(p([[]])).toEqual(bad('Data.StreamList[0] is not an object'));
    expect(p([{ StreamId: 5, CreateTime: NOW_SEC }])).toEqual(bad('Data.StreamList[0].StreamId is not a string'));
    expect(p([{ StreamId: 'has space', CreateTime: NOW_SEC }])).toEqual(bad('Data.StreamList[0].StreamId "has space" breaks the stream id rules'));
    expect(p([{ StreamId: `${'x'.repeat(90)} `, CreateTime: NOW_SEC }])).toEqual(
      bad(`Data.StreamList[0].StreamId ${JSON.stringify(`${'x'.repeat(80)}…`)} breaks the stream id rules`),
    );
    expect(p([{ StreamId: 'x'.repeat(80) + ' ', CreateTime: NOW_SEC }])).toEqual(
      bad(`Data.StreamList[0].StreamId ${JSON.stringify(`${'x'.repeat(80)}…`)} breaks the stream id rules`),
    );
    expect(p([{ StreamId: ' '.repeat(80), CreateTime: NOW_SEC }])).toEqual(
      bad(`Data.StreamList[0].StreamId ${JSON.stringify(' '.repeat(80))} breaks the stream id rules`),
    );
    expect(
      p([
        { StreamId: 'a', CreateTime: NOW_SEC },
        { StreamId: 'a', CreateTime: NOW_SEC },
      ]),
    ).toEqual(bad('Data.StreamList[1].StreamId "a" is listed twice'));
    for (const t of [undefined, '', 'soon', '2025-01-01T00:00:00Z', '-5', '1e9', true, 0])
      expect(p([{ StreamId: 'a', CreateTime: t }]), String(t)).toEqual(bad('Data.StreamList[0].CreateTime is not a positive number'));
    expect(p([{ StreamId: 'a', CreateTime: 1000 }])).toEqual(
      bad('Data.StreamList[0].CreateTime 1000 s is outside the plausible window (2015 to one day ahead)'),
    );
  });

  it('a failure Code is that failure, "Code n: Message", under its own label', () => {
    expect(parseStreamListResponse(200, list([], 7), prod, NOW_MS)).toEqual({
      requestId: 'req-7',
      code: '7',
      outcome: { kind: 'failed', reason: 'throttled', message: 'Code 7: the message' },
    });
    expect(parseStreamListResponse(200, list([], 207), prod, NOW_MS).outcome).toMatchObject({ reason: 'room_throttled' });
    expect(parseStreamListResponse(200, list([], 9), prod, NOW_MS).outcome).toMatchObject({ reason: 'config' });
    expect(parseStreamListResponse(200, list([], 999_999), prod, NOW_MS)).toMatchObject({ code: 'other', outcome: { reason: 'error' } });
    expect(parseStreamListResponse(503, '<html>', prod, NOW_MS)).toMatchObject({ code: 'http_5xx', outcome: { reason: 'transient' } });
  });
});

describe('parseUserNumResponse', () => {
  const counts = (entries: unknown, rooms: string[] = ['r1', 'r2'], ids = prod, code: unknown = 0) =>
    parseUserNumResponse(200, body({ UserCountList: entries }, code), rooms, ids);

  it('counts each requested room in request order; a room not listed counts 0; rooms not asked for are ignored', () => {
    const r = counts([
      { RoomId: 'other', UserCount: 9 },
      { RoomId: 'r2', UserCount: 5, AdminUserCount: 2 },
    ]);
    expect(r).toEqual({
      requestId: 'req-7',
      code: '0',
      outcome: {
        kind: 'ok',
        counts: [
          { roomId: 'r1', userCount: 0, adminUserCount: 0 },
          { roomId: 'r2', userCount: 5, adminUserCount: 2 },
        ],
      },
    });
  });

  it('reads digit strings as counts, an absent AdminUserCount as 0, and no list as every room empty', () => {
    expect(counts([{ RoomId: 'r1', UserCount: ' 12 ', AdminUserCount: '3' }]).outcome).toMatchObject({
      counts: [{ roomId: 'r1', userCount: 12, adminUserCount: 3 }, { roomId: 'r2' }],
    });
    expect(parseUserNumResponse(200, body({}), ['r1'], prod).outcome).toEqual({ kind: 'ok', counts: [{ roomId: 'r1', userCount: 0, adminUserCount: 0 }] });
    expect(counts([{ RoomId: 'r1', UserCount: 0 }]).outcome).toMatchObject({ counts: [{ userCount: 0, adminUserCount: 0 }, {}] });
  });

  it('a listed RoomId with the test prefix matches the bare room in the test environment only', () => {
    const entries = [{ RoomId: `zegotest-${APP}-r1`, UserCount: 4 }];
    expect(counts(entries, ['r1'], test).outcome).toMatchObject({ counts: [{ roomId: 'r1', userCount: 4 }] });
    expect(counts(entries, ['r1'], prod).outcome).toMatchObject({ counts: [{ roomId: 'r1', userCount: 0 }] });
    // A room asked for under its prefixed name is matched as is.
    expect(counts(entries, [`zegotest-${APP}-r1`], test).outcome).toMatchObject({ counts: [{ roomId: `zegotest-${APP}-r1`, userCount: 4 }] });
  });

  it('names what is wrong with a malformed list or entry', () => {
    expect(counts({})).toEqual(bad('Data.UserCountList is not an array'));
    expect(counts([{ RoomId: 'r1', UserCount: 1 }, 3])).toEqual(bad('Data.UserCountList[1] is not an object'));
    expect(counts([null])).toEqual(bad('Data.UserCountList[0] is not an object'));
    for (const roomId of [undefined, '', 5])
      expect(counts([{ RoomId: roomId, UserCount: 1 }])).toEqual(bad('Data.UserCountList[0].RoomId is not a non-empty string'));
    for (const n of [undefined, -1, 1.5, '1.5', '-1', '1234567890123456', 2 ** 53, 'x', null])
      expect(counts([{ RoomId: 'r1', UserCount: n }]), String(n)).toEqual(bad('Data.UserCountList[0].UserCount is not a non-negative integer'));
    expect(counts([{ RoomId: 'r1', UserCount: 1, AdminUserCount: -1 }])).toEqual(bad('Data.UserCountList[0].AdminUserCount is not a non-negative integer'));
    expect(counts([{ RoomId: 'r1', UserCount: 1, AdminUserCount: null }])).toEqual(bad('Data.UserCountList[0].AdminUserCount is not a non-negative integer'));
    expect(counts([{ RoomId: 'r1', UserCount: MAX_PLAUSIBLE_USERS + 1 }])).toEqual(
      bad(`Data.UserCountList[0].UserCount ${MAX_PLAUSIBLE_USERS + 1} is above ${MAX_PLAUSIBLE_USERS}`),
    );
    expect(counts([{ RoomId: 'r1', UserCount: 2, AdminUserCount: 3 }])).toEqual(
      bad('Data.UserCountList[0].AdminUserCount 3 is above UserCount 2 (admins are counted in it)'),
    );
    expect(
      counts([
        { RoomId: 'r1', UserCount: 1 },
        { RoomId: 'r1', UserCount: 2 },
      ]),
    ).toEqual(bad('Data.UserCountList[1].RoomId "r1" is listed twice'));
    const long = 'r'.repeat(100);
    expect(
      counts([
        { RoomId: long, UserCount: 1 },
        { RoomId: long, UserCount: 1 },
      ]),
    ).toEqual(bad(`Data.UserCountList[1].RoomId ${JSON.stringify(`${'r'.repeat(80)}…`)} is listed twice`));
  });

  it('the limits are inclusive: exactly the plausible maximum, and as many admins as users, are read', () => {
    expect(counts([{ RoomId: 'r1', UserCount: MAX_PLAUSIBLE_USERS, AdminUserCount: MAX_PLAUSIBLE_USERS }]).outcome).toMatchObject({
      counts: [{ userCount: MAX_PLAUSIBLE_USERS, adminUserCount: MAX_PLAUSIBLE_USERS }, {}],
    });
  });

  it('"room does not exist" counts every room 0 unless listed; a failure Code is that failure', () => {
    expect(counts([], ['r1'], prod, 104)).toEqual({
      requestId: 'req-7',
      code: '104',
      outcome: { kind: 'ok', counts: [{ roomId: 'r1', userCount: 0, adminUserCount: 0 }] },
    });
    expect(counts([], ['r1'], prod, 1)).toEqual({
      requestId: 'req-7',
      code: '1',
      outcome: { kind: 'failed', reason: 'transient', message: 'Code 1: the message' },
    });
    // A stream reading (0 is "ok" here, 41006 means nothing to the room family) is never a room state.
    expect(counts([], ['r1'], prod, 41006)).toMatchObject({ code: 'other', outcome: { kind: 'failed', reason: 'error' } });
  });
});
