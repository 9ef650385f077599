import type { IncomingMessage, ServerResponse } from 'node:http';
import { isValidStreamId } from '../src/zego/protocol.js';
import { flvFrames, flvHeader, flvPreamble, FLV_FRAME_MS } from './flv.js';
import { HLS_WINDOW_SEGMENTS, liveEdge, masterPlaylist, mediaPlaylist, parseRange, segmentBytes, segmentRange } from './hls.js';

/**
 * The simulator's CDN: what viewers play of a feed, served on the simulator's own port under
 * `/cdn/` (HLS playlists and segments, HTTP-FLV), with faults per output id. A feed is a stream
 * active in the simulator, an output stream of a running mix task, or an id marked `direct`
 * (published straight to a CDN: ZEGO's API does not know it). Media time is the simulator's clock.
 */

export const OUTPUT_FAULTS = ['stall', 'endlist', 'not_found', 'regression', 'slow_first_byte', 'header_only'] as const;
export type OutputFault = (typeof OUTPUT_FAULTS)[number];

export const DEFAULT_HLS_TARGET_DURATION_S = 2;
export const DEFAULT_SLOW_FIRST_BYTE_MS = 3000;
const MAX_TARGET_DURATION_S = 60;
const MAX_SLOW_FIRST_BYTE_MS = 600_000;
/** How often open HTTP-FLV connections are fed (each gets every frame due since its last feed). */
const FLV_TICK_MS = 100;
/** A client this far behind is dropped: a live stream does not queue for a reader that stopped reading. */
const FLV_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export class OutputFaultError extends Error {
  override name = 'OutputFaultError';
}

/** What PUT /_sim/outputs/<id> may change (fields not given keep their value). */
export interface OutputPatch {
  fault?: OutputFault | null;
  direct?: boolean;
  /** slow_first_byte's delay for this output; null: the simulator's default. */
  slowFirstByteMs?: number | null;
}

export interface OutputView {
  fault: OutputFault | null;
  direct: boolean;
  slowFirstByteMs: number | null;
  /** Whether the id has a feed now (active stream, running mix output, or direct). */
  live: boolean;
}

const PATCH_KEYS = ['fault', 'direct', 'slowFirstByteMs'] as const;

/** Validates an untrusted body field by field; unknown keys are errors (a typo must not do nothing). */
export function parseOutputPatch(input: unknown): OutputPatch {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new OutputFaultError(
      `body must be a JSON object: {"fault"?: ${OUTPUT_FAULTS.map((f) => `"${f}"`).join('|')}|null, "direct"?: true|false, "slowFirstByteMs"?: n}`,
    );
  const body = input as Record<string, unknown>;
  const unknown = Object.keys(body).find((k) => !(PATCH_KEYS as readonly string[]).includes(k));
  if (unknown !== undefined) throw new OutputFaultError(`unknown field: ${unknown.slice(0, 64)}`);
  const out: OutputPatch = {};
  if ('fault' in body) {
    const f = body['fault'];
    if (f !== null && !(OUTPUT_FAULTS as readonly unknown[]).includes(f))
      throw new OutputFaultError(`fault must be one of ${OUTPUT_FAULTS.join(', ')}, or null`);
    out.fault = f as OutputFault | null;
  }
  if ('direct' in body) {
    if (typeof body['direct'] !== 'boolean') throw new OutputFaultError('direct must be true or false');
    out.direct = body['direct'];
  }
  if ('slowFirstByteMs' in body) {
    const n = body['slowFirstByteMs'];
    if (n !== null && (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > MAX_SLOW_FIRST_BYTE_MS))
      throw new OutputFaultError(`slowFirstByteMs must be an integer number of ms in [0, ${MAX_SLOW_FIRST_BYTE_MS}], or null`);
    out.slowFirstByteMs = n;
  }
  return out;
}

export function validTargetDuration(s: unknown): number {
  if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 1 || s > MAX_TARGET_DURATION_S)
    throw new RangeError(`hlsTargetDurationS must be a whole number of seconds in [1, ${MAX_TARGET_DURATION_S}]`);
  return s;
}

interface Entry {
  fault: OutputFault | null;
  direct: boolean;
  slowFirstByteMs: number | null;
  /** stall / endlist: the live edge when the fault was set (the playlist stays there). */
  frozenEdge: number;
  /** regression: the window start when it was set, and the answers served since (each one further back). */
  regressionFrom: number;
  regressionServed: number;
}

interface FlvConn {
  id: string;
  res: ServerResponse;
  startMono: number;
  /** The next frame to send. */
  next: number;
}

export interface SimCdnOptions {
  /** The simulator's wall clock (media time, the `Date` header) and monotonic clock (FLV pacing). */
  wallMs(): number;
  monoMs(): number;
  /** Whether ZEGO has a feed for the id: an active stream or a running mix task's output. */
  zegoFeed(id: string): boolean;
  targetDurationS?: number;
  slowFirstByteMs?: number;
}

type Route =
  | { kind: 'media'; id: string; uriPrefix: string }
  | { kind: 'master'; id: string }
  | { kind: 'segment'; id: string; seq: number }
  | { kind: 'flv'; id: string };

const ID = '([A-Za-z0-9_-]{1,256})';
const MEDIA = new RegExp(`^/cdn/hls/${ID}\\.m3u8$`);
const NESTED = new RegExp(`^/cdn/hls/${ID}/(master|low|high)\\.m3u8$`);
const SEGMENT = new RegExp(`^/cdn/hls/${ID}/(\\d{1,15})\\.ts$`);
const FLV = new RegExp(`^/cdn/flv/${ID}\\.flv$`);

function route(pathname: string): Route | null {
  let m = MEDIA.exec(pathname);
  if (m !== null) return { kind: 'media', id: m[1]!, uriPrefix: `${m[1]!}/` };
  m = NESTED.exec(pathname);
  if (m !== null) return m[2] === 'master' ? { kind: 'master', id: m[1]! } : { kind: 'media', id: m[1]!, uriPrefix: '' };
  m = SEGMENT.exec(pathname);
  if (m !== null) return { kind: 'segment', id: m[1]!, seq: Number(m[2]) };
  m = FLV.exec(pathname);
  if (m !== null) return { kind: 'flv', id: m[1]! };
  return null;
}

export class SimCdn {
  readonly targetDurationS: number;
  readonly #o: SimCdnOptions;
  readonly #slowMs: number;
  readonly #entries = new Map<string, Entry>();
  readonly #flv = new Set<FlvConn>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #ticker: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(o: SimCdnOptions) {
    this.#o = o;
    this.targetDurationS = validTargetDuration(o.targetDurationS ?? DEFAULT_HLS_TARGET_DURATION_S);
    const slow = o.slowFirstByteMs ?? DEFAULT_SLOW_FIRST_BYTE_MS;
    if (!Number.isSafeInteger(slow) || slow < 0 || slow > MAX_SLOW_FIRST_BYTE_MS)
      throw new RangeError(`slowFirstByteMs must be an integer number of ms in [0, ${MAX_SLOW_FIRST_BYTE_MS}]`);
    this.#slowMs = slow;
  }

  /** Whether viewers can play the id now. */
  live(id: string): boolean {
    return this.#entries.get(id)?.direct === true || this.#o.zegoFeed(id);
  }

  /** Changes the fields given (throws OutputFaultError on a bad id or body); returns the output as it now is. */
  set(id: string, patch: OutputPatch): OutputView {
    if (!isValidStreamId(id)) throw new OutputFaultError('output id must be 1..256 bytes of [A-Za-z0-9_-]');
    const valid = parseOutputPatch(patch);
    const e: Entry = this.#entries.get(id) ?? { fault: null, direct: false, slowFirstByteMs: null, frozenEdge: 0, regressionFrom: 0, regressionServed: 0 };
    if (valid.fault !== undefined && valid.fault !== e.fault) {
      const edge = liveEdge(this.#o.wallMs(), this.targetDurationS);
      e.frozenEdge = edge;
      e.regressionFrom = edge - HLS_WINDOW_SEGMENTS + 1;
      e.regressionServed = 0;
      e.fault = valid.fault;
    }
    if (valid.direct !== undefined) e.direct = valid.direct;
    if (valid.slowFirstByteMs !== undefined) e.slowFirstByteMs = valid.slowFirstByteMs;
    this.#entries.set(id, e);
    // A connection whose output is now gone ends at once rather than at the next tick.
    this.#feedFlv();
    return this.#view(id, e);
  }

  /** Forgets the output's fault and `direct` mark. */
  clear(id: string): boolean {
    const had = this.#entries.delete(id);
    this.#feedFlv();
    return had;
  }

  list(): Record<string, OutputView> {
    const out: Record<string, OutputView> = {};
    for (const [id, e] of this.#entries) out[id] = this.#view(id, e);
    return out;
  }

  /** Open HTTP-FLV connections (tests: none may outlive its client). */
  flvConnections(): number {
    return this.#flv.size;
  }

  /** Whether the path is the CDN's; if so, answers it. */
  handle(req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
    if (!pathname.startsWith('/cdn/')) return false;
    req.resume();
    const r = route(pathname);
    if (r === null) {
      this.#text(res, 404, 'not found\n');
      return true;
    }
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      this.#text(res, 405, 'method not allowed\n');
      return true;
    }
    const e = this.#entries.get(r.id);
    const answer = (): void => this.#answer(req, res, r, e);
    if (e?.fault === 'slow_first_byte') this.#later(res, e.slowFirstByteMs ?? this.#slowMs, answer);
    else answer();
    return true;
  }

  /** Ends every FLV connection and pending answer; the server destroys the sockets. */
  close(): void {
    this.#closed = true;
    if (this.#ticker !== null) clearInterval(this.#ticker);
    this.#ticker = null;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const c of this.#flv) c.res.destroy();
    this.#flv.clear();
  }

  #view(id: string, e: Entry): OutputView {
    return { fault: e.fault, direct: e.direct, slowFirstByteMs: e.slowFirstByteMs, live: this.live(id) };
  }

  #answer(req: IncomingMessage, res: ServerResponse, r: Route, e: Entry | undefined): void {
    if (res.destroyed || res.writableEnded) return;
    if (e?.fault === 'not_found' || !this.live(r.id)) return this.#text(res, 404, 'not found\n');
    if (r.kind === 'master') return this.#send(res, 200, 'application/vnd.apple.mpegurl', masterPlaylist());
    if (r.kind === 'media') return this.#send(res, 200, 'application/vnd.apple.mpegurl', this.#playlist(r.uriPrefix, e));
    if (r.kind === 'segment') return this.#segment(req, res, r.seq);
    this.#startFlv(req, res, r.id, e);
  }

  #playlist(uriPrefix: string, e: Entry | undefined): string {
    const T = this.targetDurationS;
    const edge = liveEdge(this.#o.wallMs(), T);
    let first = edge - HLS_WINDOW_SEGMENTS + 1;
    let endList = false;
    if (e?.fault === 'stall' || e?.fault === 'endlist') {
      first = e.frozenEdge - HLS_WINDOW_SEGMENTS + 1;
      endList = e.fault === 'endlist';
    } else if (e?.fault === 'regression') {
      // An origin serving ever older windows: each answer starts before the one before it.
      e.regressionServed++;
      first = e.regressionFrom - e.regressionServed * HLS_WINDOW_SEGMENTS;
    }
    return mediaPlaylist({ mediaSequence: Math.max(0, first), targetDurationS: T, endList, uriPrefix });
  }

  /** Any segment up to the live edge exists (a frozen or regressed window's too); a later one is not made yet. */
  #segment(req: IncomingMessage, res: ServerResponse, seq: number): void {
    const T = this.targetDurationS;
    if (seq > liveEdge(this.#o.wallMs(), T)) return this.#text(res, 404, 'not found\n');
    const size = segmentBytes(T);
    const range = parseRange(req.headers.range, size);
    if (range === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${size}`);
      return this.#text(res, 416, 'range not satisfiable\n');
    }
    const { start, end } = range ?? { start: 0, end: size - 1 };
    if (range !== null) res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
    res.setHeader('Accept-Ranges', 'bytes');
    this.#send(res, range === null ? 200 : 206, 'video/mp2t', segmentRange(seq, T, start, end));
  }

  #startFlv(req: IncomingMessage, res: ServerResponse, id: string, e: Entry | undefined): void {
    res.writeHead(200, { Date: new Date(this.#o.wallMs()).toUTCString(), 'Content-Type': 'video/x-flv', 'Cache-Control': 'no-cache' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (e?.fault === 'header_only') {
      res.write(flvHeader());
    } else {
      res.write(flvPreamble());
    }
    const conn: FlvConn = { id, res, startMono: this.#o.monoMs(), next: 0 };
    this.#flv.add(conn);
    res.on('close', () => this.#flv.delete(conn));
    this.#feedFlv();
    if (this.#ticker === null && !this.#closed) {
      this.#ticker = setInterval(() => this.#feedFlv(), FLV_TICK_MS);
      this.#ticker.unref();
    }
  }

  /** Sends each connection the frames due by now; ends those whose feed stopped or went 404. */
  #feedFlv(): void {
    const now = this.#o.monoMs();
    for (const c of this.#flv) {
      const e = this.#entries.get(c.id);
      if (e?.fault === 'not_found' || !this.live(c.id)) {
        this.#flv.delete(c);
        c.res.end();
        continue;
      }
      const due = Math.floor((now - c.startMono) / FLV_FRAME_MS) + 1;
      if (e?.fault === 'header_only' || e?.fault === 'stall') {
        // Nothing arrives while the relay is stuck; afterwards the stream goes on from now, not in a burst.
        c.next = Math.max(c.next, due);
        continue;
      }
      if (c.res.writableLength > FLV_MAX_BUFFERED_BYTES) {
        this.#flv.delete(c);
        c.res.destroy();
        continue;
      }
      if (due > c.next) {
        c.res.write(flvFrames(c.next, due));
        c.next = due;
      }
    }
    if (this.#flv.size === 0 && this.#ticker !== null) {
      clearInterval(this.#ticker);
      this.#ticker = null;
    }
  }

  #later(res: ServerResponse, ms: number, fn: () => void): void {
    if (this.#closed) return;
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
    res.on('close', () => {
      clearTimeout(t);
      this.#timers.delete(t);
    });
  }

  #send(res: ServerResponse, status: number, contentType: string, body: string | Buffer): void {
    if (res.destroyed || res.writableEnded) return;
    res.writeHead(status, {
      Date: new Date(this.#o.wallMs()).toUTCString(),
      'Content-Type': contentType,
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-cache',
    });
    res.end(body);
  }

  #text(res: ServerResponse, status: number, body: string): void {
    this.#send(res, status, 'text/plain; charset=utf-8', body);
  }
}

// ---- scripted demo output ------------------------------------------------------------------

/** The demo's output: the demo mix task's output stream, as viewers play it. */
export const DEMO_OUTPUT_ID = 'demo-mix-out';
/**
 * Its delivery stalls 60 s of every 5 minutes, in the middle of the demo mix task's 4 minutes up
 * (mix.ts: DEMO_MIX_PERIOD_SEC, DEMO_MIX_UP_SEC): the stream and the task stay up meanwhile, so
 * the failing layer is the delivery.
 */
export const DEMO_OUTPUT_PERIOD_SEC = 300;
export const DEMO_OUTPUT_STALL_FROM_SEC = 120;
export const DEMO_OUTPUT_STALL_UNTIL_SEC = 180;

/** Whether the demo output is stalled `elapsedSec` into the demo: a pure function of time, like the other demo schedules. */
export function demoOutputStalled(elapsedSec: number): boolean {
  const t = elapsedSec % DEMO_OUTPUT_PERIOD_SEC;
  return t >= DEMO_OUTPUT_STALL_FROM_SEC && t < DEMO_OUTPUT_STALL_UNTIL_SEC;
}

export interface OutputDemoTarget {
  setOutput(id: string, patch: OutputPatch): unknown;
}

/** Plays demoOutputStalled on `id` (default DEMO_OUTPUT_ID): the fault `stall` on and off. */
export function startOutputDemoScript(
  sim: OutputDemoTarget,
  opts: { id?: string; tickMs?: number; timers?: { setInterval(fn: () => void, ms: number): unknown; clearInterval(handle: unknown): void } } = {},
): { stop(): void } {
  const id = opts.id ?? DEMO_OUTPUT_ID;
  const tickMs = opts.tickMs ?? 1000;
  const timers = opts.timers ?? {
    setInterval: (fn: () => void, ms: number) => setInterval(fn, ms),
    clearInterval: (h: unknown) => clearInterval(h as NodeJS.Timeout),
  };
  let stalled: boolean | null = null;
  let ticks = 0;
  const apply = (): void => {
    const want = demoOutputStalled(Math.floor((ticks * tickMs) / 1000));
    if (want === stalled) return;
    stalled = want;
    sim.setOutput(id, { fault: want ? 'stall' : null });
  };
  apply();
  const handle = timers.setInterval(() => {
    ticks++;
    apply();
  }, tickMs);
  return { stop: () => timers.clearInterval(handle) };
}
