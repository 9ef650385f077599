import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { streamEvent } from '../../src/callbacks/parse.js';
import { apiStreamId, bareStreamId, isValidStreamId, MAX_STREAM_ID_BYTES, parseHostPort, stripTestPrefix, testPrefix } from '../../src/zego/protocol.js';

const ID_CHAR = fc.constantFrom(...'ABCXYZabcxyz0189-_');
const validId = fc.string({ unit: ID_CHAR, minLength: 1, maxLength: MAX_STREAM_ID_BYTES });
const appId = fc.integer({ min: 1, max: 4_294_967_295 });
const port = fc.integer({ min: 0, max: 65535 });

describe('protocol rules (property)', () => {
  it('the test prefix round-trips: the bare id of the API id is the listed id', () => {
    fc.assert(
      fc.property(validId, appId, fc.boolean(), (id, app, isTest) => {
        const api = apiStreamId(id, app, isTest);
        expect(api.startsWith(testPrefix(app))).toBe(isTest);
        expect(bareStreamId(api, app, isTest)).toBe(id);
        if (isTest) expect(stripTestPrefix(api, app)).toBe(id);
      }),
    );
  });

  it('callback bodies accept exactly the ids the stream-id rule accepts', () => {
    fc.assert(
      fc.property(fc.oneof(validId, fc.string({ maxLength: 300 }), fc.string({ unit: ID_CHAR, minLength: 250, maxLength: 270 })), (id) => {
        const r = streamEvent({ event: 'stream_create', stream_id: id, stream_seq: '1', create_time_ms: '1' });
        expect(r.ok).toBe(isValidStreamId(id));
      }),
    );
  });

  it('host:port: every IPv4 address, domain and bracketed IPv6 address with a port parses back to itself', () => {
    const host = fc.oneof(
      fc.ipV4().map((h) => [h, h] as const),
      fc.domain().map((h) => [h, h] as const),
      fc.ipV6().map((h) => [`[${h}]`, h] as const),
    );
    fc.assert(
      fc.property(host, port, ([written, bare], p) => {
        expect(parseHostPort(`${written}:${p}`)).toEqual({ ok: true, host: bare, port: p });
        expect(parseHostPort(`:${p}`)).toEqual({ ok: true, host: undefined, port: p });
      }),
    );
  });

  it('host:port never throws, and what it accepts has a port in range', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        const r = parseHostPort(s);
        if (r.ok) expect(r.port).toBeLessThanOrEqual(65535);
      }),
    );
  });
});
