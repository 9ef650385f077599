import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_PLAY_URLS, MAX_RAW_TASK_ID_CHARS, MAX_URL_CHARS, parseMixCallback } from '../../src/callbacks/parse-mix.js';
import { codeRow } from '../../src/zego/codes.js';
import { isValidMixTaskId, resolveMixTaskId } from '../../src/zego/mix.js';
import { MAX_PLAUSIBLE_MIX_DURATION_SEC, parseMixTaskInfoResponse } from '../../src/zego/mix-response.js';

const APP = 111111;
const REASONS = new Set(['throttled', 'room_throttled', 'clock_skew', 'auth', 'config', 'stream_config', 'transient', 'error']);

/** Envelope-shaped bodies, so the generator reaches past JSON.parse into TaskInfo. */
const envelope = fc.record(
  {
    Code: fc.oneof(fc.constantFrom(0, 110209001, 110200194, 110200001, 110200004, 100000005, 41004, '0', -0, 0.5), fc.integer(), fc.jsonValue()),
    Message: fc.oneof(fc.string(), fc.jsonValue()),
    RequestId: fc.oneof(fc.string(), fc.integer()),
    Data: fc.oneof(
      fc.record(
        {
          TaskInfo: fc.oneof(
            fc.record(
              {
                TaskId: fc.oneof(fc.constantFrom('show', `${APP}:show`, `${APP}show`, 'other', ''), fc.string(), fc.jsonValue()),
                MixDuration: fc.oneof(fc.integer(), fc.double(), fc.constantFrom('13', ' 7 ', '-1', '1e3', 2 ** 53, -0), fc.jsonValue()),
              },
              { requiredKeys: [] },
            ),
            fc.jsonValue(),
          ),
        },
        { requiredKeys: [] },
      ),
      fc.jsonValue(),
    ),
  },
  { requiredKeys: [] },
);

const responseBody = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  envelope.map((v) => JSON.stringify(v)),
  envelope.map((v) => JSON.stringify(v).slice(0, 30)),
);

describe('parseMixTaskInfoResponse (property)', () => {
  it('never throws; a running task only from Code 0 with a bounded integer age; the code label stays bounded', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), responseBody, (status, text) => {
        const r = parseMixTaskInfoResponse(status, text, 'show', APP);
        expect(['active', 'not_found', 'failed']).toContain(r.outcome.kind);
        if (r.outcome.kind === 'failed') expect(REASONS.has(r.outcome.reason)).toBe(true);
        if (r.outcome.kind === 'failed') expect(r.outcome.message.length).toBeLessThan(200);
        expect(r.code).toMatch(/^(\d{1,9}|other|bad_response|http_\dxx|http_429)$/);
        if (/^\d+$/.test(r.code)) expect(codeRow('GetMixTaskInfo', Number(r.code))).toBeDefined();
        if (r.outcome.kind === 'active') {
          expect(r.code).toBe('0');
          expect(Number.isSafeInteger(r.outcome.mixDurationSec)).toBe(true);
          expect(r.outcome.mixDurationSec).toBeGreaterThanOrEqual(0);
          expect(r.outcome.mixDurationSec).toBeLessThanOrEqual(MAX_PLAUSIBLE_MIX_DURATION_SEC);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', '0', '-1', '1e400', 'mix_start', 'mix_stop', `${APP}:show`, 'rtmp://a/b', 'http://a/b', 'javascript:x', '99999999999999999999'),
);
const field = fc.constantFrom('event', 'task_id', 'seq', 'channel_id', 'publish_id', 'mix_url', 'mix_stream_alias', 'stream_alias', 'rtmp_url', 'x');
const list = fc.oneof(fc.array(text, { maxLength: 20 }), fc.jsonValue());
const callbackBody = fc
  .tuple(
    fc.dictionary(field, text, { maxKeys: 10 }),
    fc.dictionary(fc.constantFrom('rtmp_urls', 'hls_urls', 'hdl_urls'), list, { maxKeys: 3 }),
    fc.constantFrom('json', 'form', 'encoded'),
    fc.constantFrom('mix_start', 'mix_stop', null),
  )
  .map(([f, lists, how, event]) => {
    const all: Record<string, unknown> = { ...f, ...lists, ...(event === null ? {} : { event }) };
    if (how === 'json') return JSON.stringify(all);
    if (how === 'encoded') return encodeURIComponent(JSON.stringify(all));
    const form = new URLSearchParams();
    for (const [k, v] of Object.entries(all)) for (const item of Array.isArray(v) ? v : [v]) form.append(k, String(item));
    return form.toString();
  });

describe('parseMixCallback (property)', () => {
  it('never throws, and whatever it keeps is bounded', () => {
    fc.assert(
      fc.property(fc.oneof(callbackBody, fc.string({ maxLength: 300 })), (body) => {
        const r = parseMixCallback(body);
        if (!r.ok) {
          expect(r.reason.length).toBeLessThan(200);
          return;
        }
        const e = r.value;
        expect(['mix_start', 'mix_stop']).toContain(e.event);
        expect(e.rawTaskId.length).toBeGreaterThan(0);
        expect(e.rawTaskId.length).toBeLessThanOrEqual(MAX_RAW_TASK_ID_CHARS);
        expect(Number.isSafeInteger(e.seq)).toBe(true);
        for (const urls of Object.values(e.playUrls)) {
          expect(urls.length).toBeLessThanOrEqual(MAX_PLAY_URLS);
          for (const u of urls) expect(u.length).toBeLessThanOrEqual(MAX_URL_CHARS);
        }
        if (e.event === 'mix_stop') expect(Object.values(e.playUrls).flat()).toEqual([]);
        const id = resolveMixTaskId(e.rawTaskId, APP, (t) => t === 'show');
        if (id !== null) expect(isValidMixTaskId(id)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});
