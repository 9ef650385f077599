import { afterEach, describe, expect, it } from 'vitest';
import { parseApiTime } from '../../src/zego/time.js';

const SEC = 1673334117; // 2023-01-10T07:01:57Z, the docs' example create_time

describe('parseApiTime', () => {
  const originalTz = process.env.TZ;
  afterEach(() => {
    if (originalTz === undefined) delete process.env.TZ;
    else process.env.TZ = originalTz;
  });

  it('reads Unix seconds as a decimal string (the documented form)', () => {
    expect(parseApiTime('1673334117')).toBe(SEC);
    expect(parseApiTime(' 1673334117 ')).toBe(SEC);
  });

  it('reads Unix seconds as a number', () => {
    expect(parseApiTime(SEC)).toBe(SEC);
    expect(parseApiTime(1673334117.5)).toBe(1673334117.5);
  });

  it('reads milliseconds as such', () => {
    expect(parseApiTime('1673334117000')).toBe(SEC);
    expect(parseApiTime(1673334117000)).toBe(SEC);
    expect(parseApiTime('1673334117123')).toBeCloseTo(1673334117.123, 6);
  });

  it.each([
    ['empty string', ''],
    ['blank string', '   '],
    ['string zero', '0'],
    ['number zero', 0],
    ['null', null],
    ['undefined', undefined],
    ['garbage', 'garbage'],
    ['half a number', '1673334117abc'],
    ['negative number', -1673334117],
    ['negative string', '-1673334117'],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['string NaN', 'NaN'],
    ['object', { create_time: SEC }],
    ['array', [SEC]],
    ['boolean', true],
    ['Date object', new Date(SEC * 1000)],
    ['bigint', 1673334117n],
    ['ISO before 1970', '1960-01-01T00:00:00Z'],
  ])('returns null for %s', (_name, value) => {
    expect(parseApiTime(value)).toBeNull();
  });

  it('reads ISO 8601 with Z', () => {
    expect(parseApiTime('2023-01-10T07:01:57Z')).toBe(SEC);
    expect(parseApiTime('2023-01-10T07:01:57.250Z')).toBe(SEC + 0.25);
  });

  it('reads ISO 8601 with an explicit offset', () => {
    expect(parseApiTime('2023-01-10T15:01:57+08:00')).toBe(SEC);
  });

  it('treats a zone-less date-time as UTC, whatever the local zone', () => {
    for (const tz of ['UTC', 'Asia/Shanghai', 'America/Los_Angeles']) {
      process.env.TZ = tz;
      expect(parseApiTime('2023-01-10 07:01:57')).toBe(SEC);
      expect(parseApiTime('2023-01-10T07:01:57')).toBe(SEC);
    }
  });
});
