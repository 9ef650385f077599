import type { StreamRecord } from '../state/store.js';
import { familyHeader, formatLabels, type Format } from './exposition.js';
import { FAMILIES, type Family } from './families.js';

/** Lines visited or written between two yields of the render: a few milliseconds of work. */
const SLICE = 4000;
/** Blocks per family (fewer when the list is short): bounds the chunks a scrape writes. */
const TARGET_BLOCKS = 16;
const MIN_BLOCK = 256;
/**
 * But no block larger than this: a change re-encodes its whole block (a copy of its bytes), and
 * the changes between two scrapes land anywhere in the list. At 100k streams, 16 blocks of 6250
 * meant ~25 changes a scrape copied every block of every family (80 MB, 380 ms of CPU a scrape);
 * blocks of 512 copy a few MB (65 ms), for ~200 chunks a family.
 */
const MAX_BLOCK = 512;
/** A zero-length chunk: a point where the caller may yield to the event loop; never content. */
const YIELD = Buffer.alloc(0);

/** A stream's label text (`{stream_id="…",…}`), kept while its labels object stays the same. */
interface LabelText {
  labels: object;
  text: string;
}

/**
 * A run of consecutive streams of the list, with each family's lines for them encoded in one
 * Buffer and the byte offset of every stream's line in it. The encoding does not depend on the
 * format (all these families are gauges; only the HELP/TYPE header differs), so text and
 * OpenMetrics scrapes share it.
 */
interface Block {
  members: Readonly<StreamRecord>[];
  labels: LabelText[];
  /** Each member's state version when its lines were encoded (-1: not yet). */
  versions: number[];
  /** Per family (not those that move with the clock): the encoded lines and their offsets. */
  bodies: (Buffer | undefined)[];
  offsets: (Uint32Array | undefined)[];
  /** false until the first refresh encodes it: until then it has no bytes to copy. */
  encoded: boolean;
}

/** Members [from, to) of a block with their encoded bytes, or streams not encoded yet. */
type Run = { block: Block; from: number; to: number } | { fresh: readonly Readonly<StreamRecord>[] };

export interface StreamFamiliesOptions {
  /** Streams per block; by default the list is cut into 16 blocks of 256 to 512 (more blocks of 512 beyond 8192 streams). */
  blockSize?: number;
}

/**
 * The per-stream families of families.ts (what each line holds), written straight from the state
 * snapshot behind a block cache (how lines are kept). The list is cut into blocks of consecutive
 * streams whose encoded lines are kept. When streams of a block change, the block is
 * re-encoded by copying the unchanged lines' bytes and formatting only the changed streams' lines;
 * no per-stream strings are kept (at 10k streams they cost more heap than everything else). The
 * API's rate limit bounds how many streams change between two scrapes (40/s) and the scheduler
 * probes them in deadline order, so a scrape of 10k streams touches a few blocks plus the uptime
 * family (it moves with the clock) and hands the rest out as they are. `chunks()` yields
 * zero-length chunks every few milliseconds of work, where the caller may give the event loop a turn.
 */
export class StreamFamilies {
  readonly #labels = new WeakMap<Readonly<StreamRecord>, LabelText>();
  readonly #headers = new Map<Format, Buffer[]>();
  readonly #blockSize: number | undefined;
  #blocks: Block[] = [];

  constructor(opts: StreamFamiliesOptions = {}) {
    this.#blockSize = opts.blockSize;
  }

  render(streams: Iterable<Readonly<StreamRecord>>, nowMs: number, format: Format): string {
    return Buffer.concat([...this.chunks(streams, nowMs, format)]).toString('utf8');
  }

  *chunks(streams: Iterable<Readonly<StreamRecord>>, nowMs: number, format: Format): Generator<Buffer> {
    const list = Array.isArray(streams) ? (streams as Readonly<StreamRecord>[]) : [...streams];
    const nowSec = nowMs / 1000;
    let work = 0;
    // The blocks of this render's list, laid out before the first yield. Another render (the
    // other format) may run while this one waits at a yield, on a newer list: it lays out its
    // own blocks (never editing the members of these), and this render goes on with these, so
    // its output holds exactly its list, each stream once.
    const blocks = this.#layout(list);
    this.#blocks = blocks;
    // Bring every block up to date with its streams' state.
    for (const b of blocks) {
      work += b.members.length + this.#refresh(b, nowSec);
      if (work >= SLICE) {
        work = 0;
        yield YIELD;
      }
    }
    const headers = this.#headerChunks(format);
    for (let j = 0; j < FAMILIES.length; j++) {
      const f = FAMILIES[j]!;
      yield headers[j]!;
      for (const b of blocks) {
        let body = b.bodies[j];
        if (f.clock) {
          // Moves with every scrape: built fresh and not kept, so these buffers die young.
          body = clockLines(f, b, nowSec);
          work += b.members.length;
        }
        if (body && body.length > 0) yield body;
        if (work >= SLICE) {
          work = 0;
          yield YIELD;
        }
      }
    }
  }

  /**
   * The blocks for `list` made from the last render's: the list is the last one with some streams
   * gone and new ones after them (what the store does), so each old block whose members are all
   * still there, in place, is kept as it is; one that lost members is copied without them (bytes,
   * no formatting), and merged into the one before when it got small; new streams fill the last
   * block, then new ones. A discovery burst thus re-encodes its new streams and at most one block,
   * not the whole list. Any other list (reordered) comes out right too, only with more re-encoding.
   */
  #layout(list: readonly Readonly<StreamRecord>[]): Block[] {
    const n = list.length;
    const size = this.#blockSize ?? Math.min(MAX_BLOCK, Math.max(MIN_BLOCK, Math.ceil(n / TARGET_BLOCKS)));
    const out: Block[] = [];
    const place = (b: Block): void => {
      const last = out[out.length - 1];
      if (last && b.members.length * 2 < size && last.members.length + b.members.length <= size) out[out.length - 1] = this.#build([whole(last), whole(b)]);
      else out.push(b);
    };
    let p = 0;
    for (const b of this.#blocks) {
      // The members still at list[p…], in order; a member not there is taken as removed.
      const m = b.members.length;
      const runs: Run[] = [];
      let from = 0;
      for (let i = 0; i < m; i++) {
        if (p < n && list[p] === b.members[i]) {
          p++;
          continue;
        }
        if (i > from) runs.push({ block: b, from, to: i });
        from = i + 1;
      }
      if (from === 0) place(b);
      else {
        if (m > from) runs.push({ block: b, from, to: m });
        if (runs.length > 0) place(this.#build(runs));
      }
    }
    while (p < n) {
      const last = out[out.length - 1];
      const room = last ? size - last.members.length : 0;
      const k = Math.min(room > 0 ? room : size, n - p);
      const fresh = { fresh: list.slice(p, p + k) };
      if (room > 0) out[out.length - 1] = this.#build([whole(last!), fresh]);
      else out.push(this.#build([fresh]));
      p += k;
    }
    return out;
  }

  /** A new block of the runs' members, their encoded lines copied by offset; fresh streams are encoded at its first refresh. */
  #build(runs: readonly Run[]): Block {
    const members: Readonly<StreamRecord>[] = [];
    const labels: LabelText[] = [];
    const versions: number[] = [];
    let encoded = true;
    for (const r of runs) {
      if ('fresh' in r) {
        for (const s of r.fresh) {
          members.push(s);
          labels.push(this.#labelText(s));
          versions.push(-1);
        }
        continue;
      }
      encoded &&= r.block.encoded;
      for (let i = r.from; i < r.to; i++) {
        members.push(r.block.members[i]!);
        labels.push(r.block.labels[i]!);
        versions.push(r.block.versions[i]!);
      }
    }
    const b: Block = { members, labels, versions, bodies: [], offsets: [], encoded };
    // A block another render laid out but has not encoded yet has no bytes to copy: encode all afresh.
    if (!encoded) versions.fill(-1);
    else for (let j = 0; j < FAMILIES.length; j++) if (!FAMILIES[j]!.clock) [b.bodies[j], b.offsets[j]] = splice(runs, j, members.length);
    return b;
  }

  /** Re-encodes the block's families if any member changed; returns the lines formatted. */
  #refresh(b: Block, nowSec: number): number {
    const m = b.members.length;
    let changed: Uint8Array | undefined;
    let n = 0;
    for (let i = 0; i < m; i++) {
      const s = b.members[i]!;
      if (b.labels[i]!.labels !== s.labels) b.labels[i] = this.#labelText(s);
      else if (b.versions[i] === s.version) continue;
      b.versions[i] = s.version;
      (changed ??= new Uint8Array(m))[i] = 1;
      n++;
    }
    if (!changed) return 0;
    for (let j = 0; j < FAMILIES.length; j++) {
      const f = FAMILIES[j]!;
      if (f.clock) continue;
      const old = b.bodies[j];
      const [body, offsets] = encode(f, b, nowSec, old ? changed : undefined, old, b.offsets[j]);
      b.bodies[j] = body;
      b.offsets[j] = offsets;
    }
    b.encoded = true;
    return n * FAMILIES.length;
  }

  #labelText(s: Readonly<StreamRecord>): LabelText {
    const hit = this.#labels.get(s);
    if (hit && hit.labels === s.labels) return hit;
    const entry: LabelText = { labels: s.labels, text: formatLabels({ stream_id: s.id, ...sortedLabels(s.labels) }) };
    this.#labels.set(s, entry);
    return entry;
  }

  #headerChunks(format: Format): Buffer[] {
    let h = this.#headers.get(format);
    if (!h) {
      h = FAMILIES.map((f) => Buffer.from(familyHeader(f.name, f.help, f.type, format)));
      this.#headers.set(format, h);
    }
    return h;
  }
}

/** One stream's line of a family, or '' when the stream has no sample in it. */
function lineOf(f: Family, s: Readonly<StreamRecord>, labelText: string, nowSec: number): string {
  const v = f.value(s, nowSec);
  if (v === undefined) return '';
  const extra = f.label?.value(s);
  return extra ? `${f.name}${labelText.slice(0, -1)},${f.label!.name}="${extra}"} ${v}\n` : `${f.name}${labelText} ${v}\n`;
}

/**
 * A block's lines of family f, encoded. With `changed`, only the flagged members' lines are
 * formatted; every other member's bytes are copied from `old` (runs of them in one copy).
 */
function encode(f: Family, b: Block, nowSec: number, changed?: Uint8Array, old?: Buffer, oldOff?: Uint32Array): [Buffer, Uint32Array] {
  const m = b.members.length;
  const off = new Uint32Array(m + 1);
  // Segments in order: a string of freshly formatted lines, or a [from, to) byte range of `old`.
  const segs: (string | [number, number])[] = [];
  let fresh: string[] = [];
  let pos = 0;
  for (let i = 0; i < m; i++) {
    off[i] = pos;
    if (changed && old && oldOff && changed[i] === 0) {
      if (fresh.length > 0) {
        segs.push(fresh.join(''));
        fresh = [];
      }
      const a = oldOff[i]!;
      const z = oldOff[i + 1]!;
      const last = segs[segs.length - 1];
      if (typeof last === 'object' && last[1] === a) last[1] = z;
      else if (z > a) segs.push([a, z]);
      pos += z - a;
    } else {
      const line = lineOf(f, b.members[i]!, b.labels[i]!.text, nowSec);
      fresh.push(line);
      pos += Buffer.byteLength(line);
    }
  }
  off[m] = pos;
  if (fresh.length > 0) segs.push(fresh.join(''));
  const body = Buffer.allocUnsafe(pos);
  let at = 0;
  for (const seg of segs) at += typeof seg === 'string' ? body.write(seg, at) : old!.copy(body, at, seg[0], seg[1]);
  return [body, off];
}

function clockLines(f: Family, b: Block, nowSec: number): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < b.members.length; i++) parts.push(lineOf(f, b.members[i]!, b.labels[i]!.text, nowSec));
  return Buffer.from(parts.join(''));
}

function whole(block: Block): Run {
  return { block, from: 0, to: block.members.length };
}

/** Family j's lines of the runs' members, copied from their blocks; a fresh stream gets no bytes yet (its version -1 has it formatted at the next refresh). */
function splice(runs: readonly Run[], j: number, m: number): [Buffer, Uint32Array] {
  let total = 0;
  for (const r of runs) if (!('fresh' in r)) total += r.block.offsets[j]![r.to]! - r.block.offsets[j]![r.from]!;
  const body = Buffer.allocUnsafe(total);
  const off = new Uint32Array(m + 1);
  let pos = 0;
  let k = 0;
  for (const r of runs) {
    if ('fresh' in r) {
      for (let i = 0; i < r.fresh.length; i++) off[k++] = pos;
      continue;
    }
    const o = r.block.offsets[j]!;
    const base = o[r.from]!;
    r.block.bodies[j]!.copy(body, pos, base, o[r.to]!);
    for (let i = r.from; i < r.to; i++) off[k++] = pos + o[i]! - base;
    pos += o[r.to]! - base;
  }
  off[m] = pos;
  return [body, off];
}

function sortedLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
