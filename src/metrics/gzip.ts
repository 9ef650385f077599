import { constants, gzip } from 'node:zlib';

/**
 * Level 1: the text compresses about 8× at it (the lines repeat their family name and labels), and
 * it costs a third of the default level's CPU; the bytes a scrape re-compresses (the clock family,
 * what changed) are megabytes at 100k streams.
 */
const LEVEL = constants.Z_BEST_SPEED;

/**
 * Each chunk's gzip member, by the chunk's identity. The render hands out the same Buffer for a
 * block until its streams change (block-cache.ts) and never writes into a Buffer it handed out,
 * so a member stays right while its chunk lives and dies with it. A promise, so that concurrent
 * scrapes of one render compress each chunk once.
 */
const members = new WeakMap<Buffer, Promise<Buffer>>();

/**
 * The body gzipped: one gzip member per chunk, which concatenated are one valid gzip body (RFC
 * 1952 §2.2; every decoder Prometheus uses reads on across members). Chunks compressed before are
 * reused, so a scrape compresses only what the render re-encoded. The work runs on libuv's
 * threads, off the event loop.
 */
export function gzipChunks(chunks: readonly Buffer[]): Promise<Buffer[]> {
  return Promise.all(chunks.filter((c) => c.length > 0).map(member));
}

function member(chunk: Buffer): Promise<Buffer> {
  let m = members.get(chunk);
  if (!m) {
    m = new Promise<Buffer>((resolve, reject) => gzip(chunk, { level: LEVEL }, (err, out) => (err ? reject(err) : resolve(out))));
    members.set(chunk, m);
  }
  return m;
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
