import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseResponse } from '../../src/zego/response.js';
import { codeRow } from '../../src/zego/codes.js';

const KINDS = new Set(['active', 'closed', 'not_found', 'failed']);
const REASONS = new Set(['throttled', 'room_throttled', 'clock_skew', 'auth', 'config', 'stream_config', 'transient', 'error']);

/** Envelope-shaped bodies, so the generator reaches past JSON.parse into the Code/Data handling. */
const envelope = fc.record(
  {
    Code: fc.oneof(fc.integer(), fc.constantFrom(0, 1003, 30002, 40005, 3002, 1e21, -0, 0.5, '0', ' 0 ', '30002', 'x', null), fc.jsonValue()),
    Message: fc.oneof(fc.string(), fc.jsonValue()),
    RequestId: fc.oneof(fc.string(), fc.integer()),
    Data: fc.oneof(
      fc.record(
        { create_time: fc.oneof(fc.string(), fc.integer(), fc.double(), fc.jsonValue()), close_time: fc.oneof(fc.string(), fc.integer(), fc.jsonValue()) },
        { requiredKeys: [] },
      ),
      fc.jsonValue(),
    ),
  },
  { requiredKeys: [] },
);

const body = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  envelope.map((v) => JSON.stringify(v)),
  envelope.map((v) => JSON.stringify(v).slice(0, 20)),
);

describe('parseResponse (property)', () => {
  it('classifies any status and body, never throws, and keeps the code label bounded', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), body, (status, text) => {
        const r = parseResponse(status, text);
        expect(KINDS.has(r.outcome.kind)).toBe(true);
        if (r.outcome.kind === 'failed') expect(REASONS.has(r.outcome.reason)).toBe(true);
        // Known codes keep their own label value; every other code shares "other".
        expect(r.code).toMatch(/^(\d{1,9}|other|bad_response|http_\dxx|http_429)$/);
        if (/^\d+$/.test(r.code)) expect(codeRow('DescribeRTCStreamState', Number(r.code))).toBeDefined();
      }),
      { numRuns: 3000 },
    );
  });

  it('only a body with a numeric Code can say anything about the stream', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), body, (status, text) => {
        const r = parseResponse(status, text);
        if (r.outcome.kind !== 'failed') {
          const json = JSON.parse(text) as { Code?: unknown };
          expect(['number', 'string']).toContain(typeof json.Code);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('a 5xx without a Code is transient (a gateway failure never flips a stream)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 500, max: 599 }), fc.string({ maxLength: 200 }), (status, text) => {
        fc.pre(!/"Code"/.test(text));
        const r = parseResponse(status, text);
        expect(r.outcome).toMatchObject({ kind: 'failed', reason: 'transient' });
      }),
      { numRuns: 1000 },
    );
  });
});
