import type { StreamState } from '../state/store.js';
import { familyHeader, formatLabels, type Format } from './exposition.js';

const FROM_PROBES = 'From background probing of ZEGOCLOUD DescribeRTCStreamState; scrapes never call the API.';

interface Family {
  name: string;
  help: string;
  /** undefined: no sample for this stream (its state is not known yet). */
  value: (s: Readonly<StreamState>, nowSec: number) => number | undefined;
  /** The value moves with the clock (uptime): rendered afresh on every scrape, never cached. No extra label. */
  clock?: boolean;
  /** One more label whose value comes from a small fixed set (no escaping needed). */
  label?: { name: string; value: (s: Readonly<StreamState>) => string | null };
}

const FAMILIES: readonly Family[] = [
  {
    name: 'zego_stream_active',
    help: `1 if the stream is active, 0 if closed or not found; absent until first known, kept when probes fail. ${FROM_PROBES}`,
    value: (s) => (s.active === null ? undefined : s.active ? 1 : 0),
  },
  {
    name: 'zego_stream_uptime_seconds',
    help: `Seconds since the stream was created (now - create_time at scrape time) while active, else 0. ${FROM_PROBES}`,
    value: (s, now) => (s.active === null ? undefined : s.active && s.createTimeSec !== null ? Math.max(0, Math.round((now - s.createTimeSec) * 1000) / 1000) : 0),
    clock: true,
  },
  {
    name: 'zego_stream_start_timestamp_seconds',
    help: `Unix time the stream was created (create_time) while active, else 0. ${FROM_PROBES}`,
    value: (s) => (s.active === null ? undefined : s.active && s.createTimeSec !== null ? s.createTimeSec : 0),
  },
  {
    name: 'zego_stream_probe_success',
    help: 'Whether the last probe of the stream succeeded (1) or failed (0); a failed probe keeps the last known state.',
    value: (s) => (s.probeSuccess ? 1 : 0),
  },
  {
    name: 'zego_stream_last_probe_timestamp_seconds',
    help: 'Unix time of the last completed probe of the stream, successful or not (0 = never).',
    value: (s) => (s.lastProbeMs === null ? 0 : s.lastProbeMs / 1000),
  },
  {
    name: 'zego_stream_last_success_timestamp_seconds',
    help: 'Unix time of the last successful probe of the stream (0 = never).',
    value: (s) => (s.lastSuccessMs === null ? 0 : s.lastSuccessMs / 1000),
  },
  {
    name: 'zego_stream_interval_seconds',
    help: 'Configured refresh interval of the stream.',
    value: (s) => s.intervalMs / 1000,
  },
  {
    name: 'zego_stream_last_close_reason',
    help:
      'Why the stream last closed, from its stream_close callback: 1 on the series whose reason label holds it (normal_stop, heartbeat_timeout, relogin, kicked, tcp_disconnect, room_cleared, deleted, other); absent until a close callback arrives. Kept while the stream is up again.',
    value: (s) => (s.closeReason === null ? undefined : 1),
    label: { name: 'reason', value: (s) => s.closeReason },
  },
  {
    name: 'zego_stream_state_source',
    help: 'Where the current state of the stream came from: 1 on the series whose source label is callback (a ZEGO stream_create/stream_close callback not yet re-checked by a probe) or probe.',
    value: (s) => (s.source === null ? undefined : 1),
    label: { name: 'source', value: (s) => s.source },
  },
];

/** Streams visited between two yields of the render. */
const SLICE = 2000;
const EMPTY = Buffer.alloc(0);

/** One stream's formatted lines, reused while their values stay the same. */
interface LineCache {
  /** The StreamState version these lines were built from (-1: never). */
  version: number;
  labels: object;
  labelText: string;
  values: (number | undefined)[];
  extras: (string | null | undefined)[];
  lines: (string | undefined)[];
}

/** A family's encoded chunk, valid while the family's lines and the stream list are unchanged. */
interface ChunkMemo {
  gen: number;
  listGen: number;
  body: Buffer;
}

/**
 * Per-stream families, written straight from the state snapshot, cached at two levels: each
 * stream's lines are formatted only when their value changes, and each family's whole chunk is
 * re-encoded only when one of its lines (or the stream list) changed. A scrape of 10k streams
 * thus rebuilds the uptime family (it moves with the clock) and the few families that probes
 * touched since the last scrape, and copies the rest. `chunks()` yields one family at a time, so
 * a caller can give the event loop a turn between families.
 */
export class StreamFamilies {
  readonly #cache = new WeakMap<Readonly<StreamState>, LineCache>();
  /** Bumped whenever a line of family j changes, whichever format's render noticed it. */
  readonly #gen: number[] = FAMILIES.map(() => 0);
  readonly #memo = new Map<Format, (ChunkMemo | undefined)[]>();
  #lastList: readonly Readonly<StreamState>[] = [];
  #listGen = 0;

  render(streams: Iterable<Readonly<StreamState>>, nowMs: number, format: Format): string {
    return Buffer.concat([...this.chunks(streams, nowMs, format)]).toString('utf8');
  }

  *chunks(streams: Iterable<Readonly<StreamState>>, nowMs: number, format: Format): Generator<Buffer> {
    const list = Array.isArray(streams) ? (streams as Readonly<StreamState>[]) : [...streams];
    if (!sameList(list, this.#lastList)) {
      this.#lastList = list;
      this.#listGen++;
    }
    const nowSec = nowMs / 1000;
    const caches = list.map((s) => this.#entry(s));
    const memos = this.#memo.get(format) ?? this.#memo.set(format, []).get(format)!;
    // One pass over the streams: only those whose state changed since their lines were built get
    // their lines recomputed; families that move with the clock are recomputed for every stream.
    for (let i = 0; i < list.length; i++) {
      const s = list[i]!;
      const c = caches[i]!;
      const changed = c.version !== s.version;
      c.version = s.version;
      if (changed) for (let j = 0; j < FAMILIES.length; j++) if (!FAMILIES[j]!.clock) this.#line(j, s, c, nowSec);
      // An empty chunk is a point where the caller may yield to the event loop.
      if (i % SLICE === SLICE - 1) yield EMPTY;
    }
    for (let j = 0; j < FAMILIES.length; j++) {
      const f = FAMILIES[j]!;
      if (f.clock) {
        // Moves with every scrape: built fresh and not kept, so these strings die young.
        const parts: string[] = [familyHeader(f.name, f.help, 'gauge', format)];
        for (let i = 0; i < list.length; i++) {
          const v = f.value(list[i]!, nowSec);
          if (v !== undefined) parts.push(`${f.name}${caches[i]!.labelText} ${v}\n`);
        }
        yield Buffer.from(parts.join(''));
        continue;
      }
      const memo = memos[j];
      if (memo && memo.gen === this.#gen[j] && memo.listGen === this.#listGen) {
        yield memo.body;
        continue;
      }
      const parts: string[] = [familyHeader(f.name, f.help, 'gauge', format)];
      for (const c of caches) if (c.lines[j] !== undefined) parts.push(c.lines[j]!);
      const body = Buffer.from(parts.join(''));
      memos[j] = { gen: this.#gen[j]!, listGen: this.#listGen, body };
      yield body;
    }
  }

  /** Rebuilds line j of a stream if its value changed, and marks the family's chunk stale. */
  #line(j: number, s: Readonly<StreamState>, c: LineCache, nowSec: number): void {
    const f = FAMILIES[j]!;
    const v = f.value(s, nowSec);
    const extra = v === undefined || !f.label ? undefined : f.label.value(s);
    if (c.values[j] === v && c.extras[j] === extra && (v === undefined || c.lines[j] !== undefined)) return;
    c.values[j] = v;
    c.extras[j] = extra;
    c.lines[j] = v === undefined ? undefined : flat(extra ? `${f.name}${c.labelText.slice(0, -1)},${f.label!.name}="${extra}"} ${v}\n` : `${f.name}${c.labelText} ${v}\n`);
    this.#gen[j]!++;
  }

  #entry(s: Readonly<StreamState>): LineCache {
    const hit = this.#cache.get(s);
    if (hit && hit.labels === s.labels) return hit;
    const entry: LineCache = { version: -1, labels: s.labels, labelText: formatLabels({ stream_id: s.id, ...sortedLabels(s.labels) }), values: [], extras: [], lines: [] };
    this.#cache.set(s, entry);
    // New labels (a reload) change every line of this stream: every family's chunk must be rebuilt.
    if (hit) this.#listGen++;
    return entry;
  }
}

function sameList(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sortedLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * V8 keeps a string built by concatenation as a rope (ConsString) and walks it again on every
 * join; a cached line is joined on every scrape, so flatten it once. ToNumber forces the flat
 * form (the trick of the `flatstr` package); the result of the conversion is thrown away.
 */
function flat(s: string): string {
  Number(s);
  return s;
}
