import { describe, expect, it } from 'vitest';
import type { FailureReason } from '../../src/zego/outcome.js';
import { parseResponse } from '../../src/zego/response.js';

function envelope(code: unknown, data: unknown = {}, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ Code: code, Message: 'msg', RequestId: 'req-1', Data: data, ...extra });
}

describe('parseResponse: the notes table', () => {
  it('0 is active with create_time (official example)', () => {
    const r = parseResponse(200, '{"Code":0,"Message":"ok","RequestId":"98004","Data":{"create_time":"1673334117","close_time":""}}');
    expect(r).toEqual({ code: '0', requestId: '98004', outcome: { kind: 'active', createTimeSec: 1673334117 } });
  });

  it('0 without create_time is active with an unknown create time', () => {
    expect(parseResponse(200, envelope(0, {})).outcome).toEqual({ kind: 'active', createTimeSec: null });
  });

  it('41006 is closed with both times', () => {
    const r = parseResponse(200, envelope(41006, { create_time: '1673334117', close_time: '1673337717' }));
    expect(r.code).toBe('41006');
    expect(r.outcome).toEqual({ kind: 'closed', createTimeSec: 1673334117, closeTimeSec: 1673337717 });
  });

  it('41004 is not_found', () => {
    const r = parseResponse(200, envelope(41004, null));
    expect(r.code).toBe('41004');
    expect(r.outcome).toEqual({ kind: 'not_found' });
  });

  const failures: [number, FailureReason][] = [
    [30002, 'throttled'],
    [1010, 'throttled'],
    [5007, 'throttled'],
    [3002, 'clock_skew'],
    [100000004, 'clock_skew'],
    [40005, 'auth'],
    [5003, 'auth'],
    [100000005, 'auth'],
    [30004, 'config'],
    [100000016, 'config'],
    [30005, 'config'],
    [3000, 'config'],
    [100000001, 'config'],
    [30009, 'stream_config'],
    [3001, 'transient'],
    [30003, 'transient'],
    [5000, 'transient'],
    [5001, 'transient'],
    [5002, 'transient'],
    [5006, 'transient'],
    [100000015, 'transient'],
  ];
  it.each(failures)('%i is a failure of reason %s, carrying Code and Message', (code, reason) => {
    const r = parseResponse(200, JSON.stringify({ Code: code, Message: 'something happened', RequestId: 'r9', Data: {} }));
    expect(r.code).toBe(String(code));
    expect(r.requestId).toBe('r9');
    expect(r.outcome).toEqual({ kind: 'failed', reason, message: `Code ${code}: something happened` });
  });

  it('an unknown code is a generic error under the one label value "other"; the message keeps the code', () => {
    const r = parseResponse(200, envelope(424242));
    expect(r.code).toBe('other');
    expect(r.outcome).toMatchObject({ kind: 'failed', reason: 'error', message: expect.stringContaining('Code 424242') as unknown });
  });

  it('random unknown codes never grow the code label set beyond the known codes and "other"', () => {
    const labels = new Set<string>();
    for (let i = 0; i < 500; i++) labels.add(parseResponse(200, envelope(1_000_000 + i * 7919)).code);
    for (const code of [0, 41006, 41004, 30002, 3002, 40005, 5000]) labels.add(parseResponse(200, envelope(code)).code);
    expect([...labels].sort()).toEqual(['0', '30002', '3002', '40005', '41004', '41006', '5000', 'other']);
  });

  it('a negative unknown code is an error too', () => {
    expect(parseResponse(200, envelope(-1)).outcome).toMatchObject({ kind: 'failed', reason: 'error' });
  });
});

describe('parseResponse: tolerant reading', () => {
  it('accepts Code as a numeric string', () => {
    expect(parseResponse(200, envelope('0', { create_time: '1673334117' })).outcome).toEqual({ kind: 'active', createTimeSec: 1673334117 });
    expect(parseResponse(200, envelope(' 41004 ')).outcome).toEqual({ kind: 'not_found' });
    expect(parseResponse(200, envelope('30002')).outcome).toMatchObject({ kind: 'failed', reason: 'throttled' });
  });

  it('does not read a non-integer or non-numeric Code', () => {
    for (const code of [0.5, '0.0', 'zero', '', true, null, [0], { v: 0 }]) {
      const r = parseResponse(200, envelope(code));
      expect(r.code).toBe('bad_response');
      expect(r.outcome).toMatchObject({ kind: 'failed', reason: 'error' });
    }
  });

  it('HTTP 500 with an HTML body is http_5xx, transient', () => {
    const r = parseResponse(500, '<html><body><h1>500 Internal Server Error</h1></body></html>');
    expect(r.code).toBe('http_5xx');
    expect(r.outcome).toMatchObject({ kind: 'failed', reason: 'transient' });
  });

  it('HTTP 502/503/504 without a Code are http_5xx, transient', () => {
    for (const status of [502, 503, 504]) {
      expect(parseResponse(status, 'Bad Gateway')).toMatchObject({ code: 'http_5xx', outcome: { kind: 'failed', reason: 'transient' } });
    }
  });

  it('HTTP 429 without a Code is throttled', () => {
    const r = parseResponse(429, 'Too Many Requests');
    expect(r.code).toBe('http_429');
    expect(r.outcome).toMatchObject({ kind: 'failed', reason: 'throttled' });
  });

  it('a Code in the body wins over the HTTP status', () => {
    expect(parseResponse(500, envelope(30002)).outcome).toMatchObject({ kind: 'failed', reason: 'throttled' });
    expect(parseResponse(429, envelope(0)).outcome).toEqual({ kind: 'active', createTimeSec: null });
  });

  it('truncated JSON is bad_response', () => {
    const full = '{"Code":0,"Message":"ok","RequestId":"98004","Data":{"create_time":"1673334117","close_time":""}}';
    for (let cut = 1; cut < full.length; cut += 7) {
      const r = parseResponse(200, full.slice(0, cut));
      expect(r.code).toBe('bad_response');
      expect(r.outcome.kind).toBe('failed');
    }
  });

  it('a JSON array, null, a number or a string is bad_response', () => {
    for (const body of ['[{"Code":0}]', 'null', '0', '"0"', 'true']) {
      const r = parseResponse(200, body);
      expect(r.code).toBe('bad_response');
      expect(r.outcome).toMatchObject({ kind: 'failed', reason: 'error' });
    }
  });

  it('a missing Code is bad_response even when Data looks active', () => {
    const r = parseResponse(200, '{"Message":"ok","Data":{"create_time":"1673334117"}}');
    expect(r.code).toBe('bad_response');
    expect(r.outcome).toMatchObject({ kind: 'failed', reason: 'error' });
  });

  it('Data missing, null, an array or a string still gives the outcome of the Code', () => {
    for (const body of ['{"Code":0}', '{"Code":0,"Data":null}', '{"Code":0,"Data":[]}', '{"Code":0,"Data":["1673334117"]}', '{"Code":0,"Data":"1673334117"}']) {
      expect(parseResponse(200, body).outcome).toEqual({ kind: 'active', createTimeSec: null });
    }
    expect(parseResponse(200, '{"Code":41006,"Data":null}').outcome).toEqual({ kind: 'closed', createTimeSec: null, closeTimeSec: null });
  });

  it('huge numbers do not turn into nonsense times', () => {
    const r = parseResponse(200, '{"Code":0,"Data":{"create_time":1e400}}');
    expect(r.outcome).toEqual({ kind: 'active', createTimeSec: null });
    const big = parseResponse(200, '{"Code":0,"Data":{"create_time":"99999999999999999999999999999"}}');
    expect(big).toMatchObject({ code: 'bad_response', outcome: { kind: 'failed', reason: 'error' } });
    const hugeCode = parseResponse(200, '{"Code":123456789012345678901234567890}');
    expect(hugeCode.outcome).toMatchObject({ kind: 'failed', reason: 'error' });
  });

  it('ignores non-string Message and RequestId', () => {
    const r = parseResponse(200, '{"Code":40005,"Message":{"x":1},"RequestId":12}');
    expect(r.requestId).toBeUndefined();
    expect(r.outcome).toEqual({ kind: 'failed', reason: 'auth', message: 'Code 40005:' });
  });

  it('never throws, whatever the body', () => {
    const nasty = [
      '',
      ' ',
      '\u0000',
      '{',
      '}',
      '[',
      'null',
      'undefined',
      'NaN',
      '{"Code":}',
      '{"Code":0,"Data":',
      '{"__proto__":{"Code":0}}',
      '{"Code":0,"Data":{"__proto__":{"create_time":"1"}}}',
      '{"Code":{"valueOf":0}}',
      '{"Code":0,"Data":{"create_time":{"a":1},"close_time":[1]}}',
      '{"Code":41006,"Data":{"create_time":-5,"close_time":"garbage"}}',
      '{"Code":"1e3"}',
      '{"Code":"0x10"}',
      '<?xml version="1.0"?><Error/>',
      '\uFEFF{"Code":0}',
      '{"Code":0}'.repeat(1000),
      '['.repeat(100_000),
      `{"Code":0,"Message":"${'x'.repeat(100_000)}"}`,
      '{"Code":0,"Data":{"create_time":"' + '9'.repeat(400) + '"}}',
    ];
    for (const status of [200, 204, 301, 400, 404, 429, 500, 599, 0, -1]) {
      for (const body of nasty) {
        let r: ReturnType<typeof parseResponse> | undefined;
        expect(() => {
          r = parseResponse(status, body);
        }).not.toThrow();
        expect(typeof r?.code).toBe('string');
        expect(['active', 'closed', 'not_found', 'failed']).toContain(r?.outcome.kind);
      }
    }
  });
});

describe('parseResponse: implausible times are a bad response, never uptime', () => {
  const NOW = Date.UTC(2025, 5, 1);
  it.each([
    ['1e30 (year 1e22)', 1e30],
    ['1e-300', 1e-300],
    ['"1" (1970)', '1'],
    ['2014-12-31T23:59:59Z', '2014-12-31T23:59:59Z'],
    ['two days ahead', (NOW + 2 * 86_400_000) / 1000],
  ])('create_time %s', (_name, t) => {
    const active = parseResponse(200, envelope(0, { create_time: t }), NOW);
    expect(active).toMatchObject({ code: 'bad_response', outcome: { kind: 'failed', reason: 'error' } });
    const closed = parseResponse(200, envelope(41006, { create_time: '1673334117', close_time: t }), NOW);
    expect(closed).toMatchObject({ code: 'bad_response', outcome: { kind: 'failed', reason: 'error' } });
  });

  it('accepts 2015 up to a day ahead, and times near a fake clock that reads before 2015', () => {
    expect(parseResponse(200, envelope(0, { create_time: '2015-01-01T00:00:00Z' }), NOW).outcome).toEqual({
      kind: 'active',
      createTimeSec: Date.UTC(2015, 0, 1) / 1000,
    });
    expect(parseResponse(200, envelope(0, { create_time: (NOW + 86_000_000) / 1000 }), NOW).outcome.kind).toBe('active');
    expect(parseResponse(200, envelope(0, { create_time: 42 }), 50_000).outcome).toEqual({ kind: 'active', createTimeSec: 42 });
  });
});
