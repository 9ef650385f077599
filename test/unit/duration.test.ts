import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/config/duration.js';

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['5s', 5000],
    ['1m', 60_000],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1.5s', 1500],
    ['2h5m10s250ms', 7_510_250],
  ])('%s → %d ms', (s, ms) => {
    expect(parseDuration(s)).toBe(ms);
  });

  it.each(['', '5', 's', '5x', '1s1m', '1s1s', '-1s', '1 s', '5S', 'abc'])('rejects %j', (s) => {
    expect(typeof parseDuration(s)).toBe('object');
  });

  it('formats back', () => {
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(500)).toBe('500ms');
    expect(formatDuration(0)).toBe('0s');
  });
});
