/** Prometheus-style durations: `500ms`, `5s`, `1m30s`, `1h`, `1d`, combined largest unit first. */
const UNITS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
const ORDER = ['d', 'h', 'm', 's', 'ms'];
const PART = /(\d+(?:\.\d+)?)(ms|d|h|m|s)/y;

/** `quoted` is how messages show the text (the config reader passes `${VAR}` for an expanded value). */
export function parseDuration(text: string, quoted: string = JSON.stringify(text)): number | { error: string } {
  const s = text.trim();
  if (s === '') return { error: 'empty duration' };
  let ms = 0;
  let last = -1;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const at = PART.lastIndex;
    const m = PART.exec(s);
    if (!m) return { error: `invalid duration ${quoted} (use e.g. 500ms, 5s, 1m30s, 1h)` };
    const unit = m[2]!;
    const rank = ORDER.indexOf(unit);
    if (rank <= last) return { error: `invalid duration ${quoted}: units must go from largest to smallest, each once` };
    last = rank;
    ms += Number(m[1]) * UNITS[unit]!;
    if (PART.lastIndex === at) break;
  }
  return Math.round(ms);
}

export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const u of ORDER) {
    const size = UNITS[u]!;
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${u}`;
      rest -= n * size;
    }
  }
  return out;
}
