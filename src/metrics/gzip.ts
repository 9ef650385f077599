import { setImmediate as nextTurn } from 'node:timers/promises';
import { constants, gzipSync, type ZlibOptions } from 'node:zlib';

/**
 * Level 1: the text compresses about 10× at it (the lines repeat their family name and labels),
 * for a third of the default level's CPU. A small window and hash (4 KiB, memLevel 4): a member
 * is one block of one family (tens of KB), and setting up zlib's full-size state cost more than
 * compressing it (400 members of 25 KB: 390 ms of CPU with the defaults, 60 ms with these; the
 * body is 7% larger). Synchronous: zlib's asynchronous calls cost another ~1 ms each in thread
 * hand-offs, more than the compression of most members; the loop gets a turn every few ms instead.
 */
const OPTIONS: ZlibOptions = { level: constants.Z_BEST_SPEED, windowBits: 12, memLevel: 4 };
/** Milliseconds of compression between two turns given to the event loop. */
const SLICE_MS = 4;

/**
 * Each chunk's gzip member, by the chunk's identity. The render hands out the same Buffer for a
 * block until its streams change (block-cache.ts) and never writes into a Buffer it handed out,
 * so a member stays right while its chunk lives and dies with it.
 */
const members = new WeakMap<Buffer, Buffer>();

/**
 * The body gzipped: one gzip member per chunk, which concatenated are one valid gzip body (RFC
 * 1952 §2.2; every decoder Prometheus uses reads on across members). Chunks compressed before are
 * reused, so a scrape compresses only what the render re-encoded (the clock family, the blocks
 * whose streams changed). Concurrent scrapes of one render share the members: each is made once,
 * in one synchronous step, and kept at once.
 */
export async function gzipChunks(chunks: readonly Buffer[]): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let sliceStart = performance.now();
  for (const chunk of chunks) {
    if (chunk.length === 0) continue;
    let m = members.get(chunk);
    if (!m) {
      m = gzipSync(chunk, OPTIONS);
      members.set(chunk, m);
      if (performance.now() - sliceStart >= SLICE_MS) {
        await nextTurn();
        sliceStart = performance.now();
      }
    }
    out.push(m);
  }
  return out;
}

/**
 * Whether an Accept-Encoding header (RFC 9110 §12.5.3) accepts gzip: `gzip` (or `x-gzip`) with a
 * non-zero weight, or `*` with one when gzip is not named. `gzip;q=0` refuses it, whatever `*` says.
 */
export function acceptsGzip(header: string | readonly string[] | undefined): boolean {
  if (header === undefined) return false;
  let named: boolean | undefined;
  let star = false;
  for (const item of (typeof header === 'string' ? header : header.join(',')).split(',')) {
    const [coding = '', ...params] = item.split(';').map((p) => p.trim().toLowerCase());
    let q = 1;
    for (const p of params) {
      const m = /^q\s*=\s*([0-9.]+)$/.exec(p);
      if (m) q = Number(m[1]);
    }
    const ok = Number.isFinite(q) && q > 0;
    if (coding === 'gzip' || coding === 'x-gzip') named = (named ?? false) || ok;
    else if (coding === '*') star ||= ok;
  }
  return named ?? star;
}
