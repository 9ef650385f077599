/**
 * create_time / close_time parsing. The docs show Unix seconds as decimal strings and call them
 * "UTC time", so millisecond values and date-time strings are accepted too. Returns Unix seconds
 * or null for empty, zero or unreadable values: a missing time must not turn into 1970.
 */
const MS_THRESHOLD = 1e11; // 1e11 s is the year 5138; anything above it is milliseconds
const NAIVE_DATE_TIME = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

export function parseApiTime(value: unknown): number | null {
  if (typeof value === 'number') return fromNumber(value);
  if (typeof value !== 'string') return null;
  const s = value.trim();
  if (s === '') return null;
  if (/^\d+(\.\d+)?$/.test(s)) return fromNumber(Number(s));
  // A zone-less date-time is UTC per the docs, not the exporter's local time.
  const iso = NAIVE_DATE_TIME.test(s) ? `${s.replace(' ', 'T')}Z` : s;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) && ms > 0 ? ms / 1000 : null;
}

function fromNumber(n: number): number | null {
  if (!Number.isFinite(n) || n <= 0) return null;
  return n > MS_THRESHOLD ? n / 1000 : n;
}

/** 2015-01-01T00:00:00Z: older than any stream ZEGO's stream service can report. */
export const EARLIEST_PLAUSIBLE_MS = Date.UTC(2015, 0, 1);
/** Clocks disagree by seconds to minutes; a time more than a day ahead is broken, not skewed. */
export const MAX_AHEAD_MS = 24 * 3600_000;

/**
 * Whether a reported time (create, close, destroy) can be true: not before 2015, not more than a
 * day ahead of `nowMs`. Anything else would be shown as decades of uptime or a start in the far
 * future. The lower bound yields to a clock that itself reads before 2015 (a fake clock near epoch
 * 0 in a test), so such a clock still sees its own times as plausible.
 */
export function isPlausibleTimeMs(ms: number, nowMs: number): boolean {
  const earliest = Math.min(EARLIEST_PLAUSIBLE_MS, nowMs - MAX_AHEAD_MS);
  return Number.isFinite(ms) && ms >= earliest && ms <= nowMs + MAX_AHEAD_MS;
}
