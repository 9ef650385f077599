import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseStreamListResponse, parseUserNumResponse } from '../../src/zego/response.js';
import { isValidStreamId } from '../../src/zego/protocol.js';

const APP = 1234567;
const NOW_MS = Date.UTC(2026, 0, 1);
const NOW_SEC = NOW_MS / 1000;
const ids = { appId: APP, isTest: false };

const streamId = fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/);
/** A plausible create time, sent as seconds or milliseconds (the API does not say which). */
const createTime = fc
  .integer({ min: Date.UTC(2016, 0, 1) / 1000, max: NOW_SEC })
  .chain((sec) => fc.constantFrom<[number, number]>([sec, sec], [sec * 1000, sec]));
const goodEntry = fc.tuple(streamId, createTime, fc.option(fc.string(), { nil: undefined }), fc.option(fc.integer(), { nil: undefined }));
const goodList = fc.uniqueArray(goodEntry, { selector: (e) => e[0], maxLength: 12 });

/** Entries each invalid in one way the validation must catch. */
const badEntry = fc.oneof(
  fc.record({ CreateTime: fc.constant(NOW_SEC) }),
  fc.record({ StreamId: fc.oneof(fc.integer(), fc.constant(null), fc.constant(['a'])), CreateTime: fc.constant(NOW_SEC) }),
  fc.record({ StreamId: fc.string().filter((s) => !isValidStreamId(s) && !s.startsWith('zegotest-')), CreateTime: fc.constant(NOW_SEC) }),
  fc.record({
    StreamId: fc.constant('ok-id-2'),
    CreateTime: fc.oneof(fc.constant(0), fc.integer({ max: -1 }), fc.constant('soon'), fc.constant(null), fc.constant({})),
  }),
  fc.record({ StreamId: fc.constant('ok-id-3'), CreateTime: fc.integer({ min: 1, max: Date.UTC(2014, 11, 1) / 1000 }) }),
  fc.record({ StreamId: fc.constant('ok-id-4'), CreateTime: fc.integer({ min: NOW_SEC + 2 * 86_400, max: 1e10 }) }),
  fc.jsonValue().filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)),
);

const body = (data: unknown, code: unknown = 0): string => JSON.stringify({ Code: code, Message: 'ok', RequestId: 'r', Data: data });

describe('parseStreamListResponse (property)', () => {
  it('reads any list of valid entries exactly: bare ids, seconds whatever the unit sent', () => {
    fc.assert(
      fc.property(goodList, (entries) => {
        const data = { StreamList: entries.map(([id, [sent], userId, num]) => ({ StreamId: id, CreateTime: sent, UserId: userId, StreamNumberId: num })) };
        const r = parseStreamListResponse(200, body(data), ids, NOW_MS);
        expect(r.code).toBe('0');
        if (r.outcome.kind !== 'ok') throw new Error(r.outcome.message);
        expect(r.outcome.streams.map((s) => [s.streamId, s.createTimeSec])).toEqual(entries.map(([id, [, sec]]) => [id, sec]));
      }),
    );
  });

  it('one invalid entry anywhere makes the whole answer a bad response', () => {
    fc.assert(
      fc.property(goodList, badEntry, fc.nat(), (entries, bad, at) => {
        const list: unknown[] = entries.map(([id, [sent]]) => ({ StreamId: id, CreateTime: sent }));
        list.splice(at % (list.length + 1), 0, bad);
        const r = parseStreamListResponse(200, body({ StreamList: list }), ids, NOW_MS);
        expect(r.code).toBe('bad_response');
        expect(r.outcome.kind).toBe('failed');
      }),
    );
  });

  it('never throws on any body, and every ok answer holds only valid bare ids', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 100, max: 599 }),
        fc.oneof(
          fc.string(),
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc.jsonValue().map((d) => body({ StreamList: d })),
        ),
        fc.boolean(),
        (status, text, isTest) => {
          const r = parseStreamListResponse(status, text, { appId: APP, isTest }, NOW_MS);
          if (r.outcome.kind === 'ok') for (const s of r.outcome.streams) expect(isValidStreamId(s.streamId)).toBe(true);
          else expect(typeof r.outcome.message).toBe('string');
        },
      ),
    );
  });
});

describe('parseUserNumResponse (property)', () => {
  const rooms = fc.uniqueArray(fc.stringMatching(/^[A-Za-z0-9#@._-]{1,20}$/), { minLength: 1, maxLength: 10 });
  const count = fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string(), fc.constant(null));

  it('an ok answer counts every requested room once, in order, with non-negative integers; never throws', () => {
    fc.assert(
      fc.property(
        rooms,
        fc.array(fc.record({ RoomId: fc.oneof(fc.string(), fc.integer()), UserCount: count, AdminUserCount: count }, { requiredKeys: [] })),
        (asked, list) => {
          const withAsked = [...list, ...asked.map((RoomId, i) => ({ RoomId, UserCount: i, AdminUserCount: 0 }))];
          for (const l of [list, withAsked]) {
            const r = parseUserNumResponse(200, body({ UserCountList: l }), asked, ids);
            if (r.outcome.kind !== 'ok') {
              expect(r.code).toBe('bad_response');
              continue;
            }
            expect(r.outcome.counts.map((c) => c.roomId)).toEqual(asked);
            for (const c of r.outcome.counts) {
              expect(Number.isSafeInteger(c.userCount) && c.userCount >= 0).toBe(true);
              expect(Number.isSafeInteger(c.adminUserCount) && c.adminUserCount >= 0).toBe(true);
            }
          }
        },
      ),
    );
  });
});
