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
