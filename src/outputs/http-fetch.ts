import { TLSSocket } from 'node:tls';
import { Agent, buildConnector, request, type Dispatcher } from 'undici';
import type { OutputProbeLimits } from './types.js';

/**
 * One bounded GET for an output probe, over a shared undici Agent: redirects followed here (so each
 * hop is checked against the allowed hosts and counted), the body counted against the probe's byte
 * budget, the whole probe stopped at its deadline, and transport failures told apart from answers.
 * A URL's query string (CDN tokens) never reaches a detail or an error: see `redactUrl`.
 */

/** Why a GET produced no usable answer. `broken`: the answer began and then the connection failed. */
export type FetchFailure = 'unreachable' | 'timeout' | 'redirect' | 'too_large' | 'broken';

export interface FetchAnswer {
  ok: true;
  status: number;
  /** Where the answer came from after redirects: relative URIs in a playlist resolve against it. */
  url: URL;
  headers: Record<string, string | string[] | undefined>;
  /** The bytes read (all of them, or the first `keepBytes`); empty when streamed to `onChunk`. */
  body: Buffer;
  /** The body was cut short on purpose: `keepBytes` reached, the window ended or `onChunk` said stop. */
  cut: boolean;
}

export interface FetchFailed {
  ok: false;
  failure: FetchFailure;
  /** Safe to log and show: no query string. */
  detail: string;
}

export type FetchResult = FetchAnswer | FetchFailed;

export interface GetOptions {
  /** Sent as `Range: bytes=start-end` (inclusive). */
  range?: { start: number; end: number };
  /** Read at most this many body bytes, then stop without failing (a ranged read the server ignored). */
  keepBytes?: number;
  /**
   * Stream the body instead of keeping it: each chunk is counted, then handed over; return false to
   * stop. Reaching the byte budget stops the stream without failing (the FLV window's cap).
   */
  onChunk?: (chunk: Buffer, atMs: number) => boolean;
  /** With onChunk: stop reading this many ms after the answer's headers (the FLV window). */
  windowMs?: number;
}

export interface HttpFetcherOptions {
  /** Connections per host for playlists and segments (short requests, kept alive). */
  connectionsPerHost: number;
  /** Connections per host for streams held open for a window (HTTP-FLV). */
  streamConnectionsPerHost: number;
  /** TLS options for the connector (tests pass a CA). */
  tls?: { ca?: string | Buffer };
  /** Time allowed to connect (and finish the TLS handshake). */
  connectTimeoutMs: number;
}

/** The URL as it may be shown: scheme, host and path; the query string (tokens) and fragment dropped. */
export function redactUrl(url: URL | string): string {
  try {
    const u = typeof url === 'string' ? new URL(url) : url;
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}

function errorCode(err: unknown): string {
  if (err !== null && typeof err === 'object') {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const cause = (err as { cause?: unknown }).cause;
    if (cause !== undefined) return errorCode(cause);
    const name = (err as { name?: unknown }).name;
    if (typeof name === 'string') return name;
  }
  return 'error';
}

/** A short description of a failure that carries no URL (messages of some errors quote one). */
function describe(err: unknown): string {
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : '';
  // DNS and TLS messages help ("getaddrinfo ENOTFOUND cdn.example", "certificate has expired");
  // anything that looks like it quotes a URL is left out rather than trusted to be token-free.
  return message && !/[?/]/.test(message) ? `${code}: ${message}` : code;
}

/** Drops a body not read to its end; destroying one emits an AbortError that nobody needs to hear. */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

class WindowEnd extends Error {}
class Deadline extends Error {}

/** The shared pools (one for short requests, one for windows) and the TLS certificates they saw. */
export class HttpFetcher {
  readonly #short: Agent;
  readonly #streams: Agent;
  /** notAfter (ms) of the certificate last presented by each https origin, "host:port". */
  readonly #notAfter = new Map<string, number>();

  constructor(opts: HttpFetcherOptions) {
    const connector = buildConnector({ timeout: opts.connectTimeoutMs, ...(opts.tls?.ca ? { ca: opts.tls.ca } : {}) });
    const notAfter = this.#notAfter;
    // undici calls back on 'secureConnect' for https, so the peer certificate is there to read.
    const connect: buildConnector.connector = (options, callback) => {
      connector(options, (...args) => {
        const socket = args[1];
        if (socket instanceof TLSSocket) {
          const validTo = socket.getPeerCertificate().valid_to;
          const ms = validTo ? Date.parse(validTo) : Number.NaN;
          const key = `${options.hostname}:${options.port || '443'}`;
          if (Number.isFinite(ms)) notAfter.set(key, ms);
          // A bounded map: one entry per https origin seen; a flood of hosts forgets the oldest.
          if (notAfter.size > 10_000) notAfter.delete(notAfter.keys().next().value ?? '');
        }
        callback(...args);
      });
    };
    const common = { connect, keepAliveTimeout: 4000, keepAliveMaxTimeout: 30_000 };
    this.#short = new Agent({ ...common, connections: opts.connectionsPerHost });
    this.#streams = new Agent({ ...common, connections: opts.streamConnectionsPerHost });
  }

  /** The notAfter of the certificate an https URL's origin presented (null for http or not seen). */
  tlsNotAfterMs(url: URL): number | null {
    if (url.protocol !== 'https:') return null;
    return this.#notAfter.get(`${url.hostname}:${url.port || '443'}`) ?? null;
  }

  /** The bounds of one probe: every GET of it shares its deadline and byte budget. */
  startProbe(limits: OutputProbeLimits, allowedHosts: ReadonlySet<string> | undefined): ProbeFetch {
    return new ProbeFetch(this, limits, allowedHosts);
  }

  dispatcher(streaming: boolean): Dispatcher {
    return streaming ? this.#streams : this.#short;
  }

  async close(): Promise<void> {
    await Promise.all([this.#short.close(), this.#streams.close()]);
  }
}

/**
 * The GETs of one probe: a deadline for all of them (the probe's timeoutMs from its start) and one
 * byte budget. Call `end()` when the probe is done (clears the timer).
 */
export class ProbeFetch {
  readonly #fetcher: HttpFetcher;
  readonly #limits: OutputProbeLimits;
  readonly #allowedHosts: ReadonlySet<string> | undefined;
  readonly #started = performance.now();
  readonly #deadline = new AbortController();
  readonly #timer: NodeJS.Timeout;
  #bytesLeft: number;
  #firstByteSeconds: number | null = null;

  constructor(fetcher: HttpFetcher, limits: OutputProbeLimits, allowedHosts: ReadonlySet<string> | undefined) {
    this.#fetcher = fetcher;
    this.#limits = limits;
    this.#allowedHosts = allowedHosts;
    this.#bytesLeft = limits.maxBytes;
    this.#timer = setTimeout(() => this.#deadline.abort(new Deadline('deadline')), limits.timeoutMs);
  }

  /** From the first request of the probe to the first body byte of its first answer that was not a redirect. */
  get firstByteSeconds(): number | null {
    return this.#firstByteSeconds;
  }

  get bytesRead(): number {
    return this.#limits.maxBytes - this.#bytesLeft;
  }

  tlsNotAfterMs(url: URL): number | null {
    return this.#fetcher.tlsNotAfterMs(url);
  }

  /** Time left before the probe's deadline. */
  remainingMs(): number {
    return Math.max(0, this.#limits.timeoutMs - (performance.now() - this.#started));
  }

  end(): void {
    clearTimeout(this.#timer);
  }

  /** One GET with its redirects. Never throws. */
  async get(target: string | URL, opts: GetOptions = {}): Promise<FetchResult> {
    let url: URL;
    try {
      url = typeof target === 'string' ? new URL(target) : target;
    } catch {
      return { ok: false, failure: 'unreachable', detail: 'not a valid URL' };
    }
    const seen = new Set<string>();
    for (let hop = 0; ; hop++) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        return {
          ok: false,
          failure: hop === 0 ? 'unreachable' : 'redirect',
          detail: `${hop === 0 ? 'not an http(s) URL' : 'redirect to a non-http(s) URL'}: ${url.protocol}`,
        };
      }
      seen.add(url.href);
      const r = await this.#once(url, opts);
      if (!('location' in r)) return r;
      const from = redactUrl(url);
      let next: URL;
      try {
        next = new URL(r.location, url);
      } catch {
        return { ok: false, failure: 'redirect', detail: `${from}: a redirect to an invalid Location` };
      }
      if (hop >= this.#limits.maxRedirects) {
        return { ok: false, failure: 'redirect', detail: `${from}: more than ${this.#limits.maxRedirects} redirects` };
      }
      if (seen.has(next.href)) return { ok: false, failure: 'redirect', detail: `${from}: a redirect loop (back to ${redactUrl(next)})` };
      if (this.#allowedHosts && !this.#allowedHosts.has(next.hostname.toLowerCase()) && !this.#allowedHosts.has(next.host.toLowerCase())) {
        return { ok: false, failure: 'redirect', detail: `${from}: a redirect to ${next.host}, which is not an allowed host` };
      }
      url = next;
    }
  }

  /** One request: an answer, a failure, or where a redirect points. */
  async #once(url: URL, opts: GetOptions): Promise<FetchResult | { location: string }> {
    const shown = redactUrl(url);
    if (this.#deadline.signal.aborted) return { ok: false, failure: 'timeout', detail: `${shown}: the probe's ${this.#limits.timeoutMs} ms were used up` };
    const streaming = opts.onChunk !== undefined;
    const local = new AbortController();
    const onDeadline = (): void => local.abort(this.#deadline.signal.reason);
    this.#deadline.signal.addEventListener('abort', onDeadline, { once: true });
    let windowTimer: NodeJS.Timeout | undefined;
    let answered = false;
    let res: Dispatcher.ResponseData | undefined;
    try {
      const headers: Record<string, string> = { 'user-agent': 'zego-stream-exporter output probe' };
      if (opts.range) headers['range'] = `bytes=${opts.range.start}-${opts.range.end}`;
      res = await request(url, {
        method: 'GET',
        dispatcher: this.#fetcher.dispatcher(streaming),
        signal: local.signal,
        headers,
        headersTimeout: this.#limits.timeoutMs,
        bodyTimeout: this.#limits.timeoutMs,
      });
      answered = true;
      const status = res.statusCode;
      if (REDIRECTS.has(status)) {
        const location = res.headers['location'];
        discard(res.body);
        const loc = Array.isArray(location) ? location[0] : location;
        if (loc === undefined) return { ok: false, failure: 'redirect', detail: `${shown}: ${status} without a Location` };
        return { location: loc };
      }
      if (streaming && opts.windowMs !== undefined) {
        windowTimer = setTimeout(() => local.abort(new WindowEnd('window')), opts.windowMs);
      }
      const chunks: Buffer[] = [];
      let kept = 0;
      let cut = false;
      const keep = opts.keepBytes ?? Number.POSITIVE_INFINITY;
      for await (const raw of res.body) {
        const chunk = raw as Buffer;
        const atMs = performance.now();
        if (this.#firstByteSeconds === null) this.#firstByteSeconds = (atMs - this.#started) / 1000;
        if (chunk.length > this.#bytesLeft) {
          if (streaming) {
            // The FLV window's cap: what fits is read, then the stream ends like a window.
            const fits = chunk.subarray(0, this.#bytesLeft);
            this.#bytesLeft = 0;
            if (fits.length > 0) opts.onChunk?.(fits, atMs);
            cut = true;
            break;
          }
          this.#bytesLeft = 0;
          return { ok: false, failure: 'too_large', detail: `${shown}: more than the ${this.#limits.maxBytes} bytes a probe may read` };
        }
        this.#bytesLeft -= chunk.length;
        if (streaming) {
          if (opts.onChunk?.(chunk, atMs) === false) {
            cut = true;
            break;
          }
          continue;
        }
        const room = keep - kept;
        // Only a body longer than asked for is cut (which closes its connection); one that ends at
        // exactly `keep` bytes is read to its end so its connection stays in the pool.
        if (chunk.length > room) {
          chunks.push(chunk.subarray(0, room));
          kept += room;
          cut = true;
          break;
        }
        chunks.push(chunk);
        kept += chunk.length;
      }
      if (this.#firstByteSeconds === null) this.#firstByteSeconds = (performance.now() - this.#started) / 1000;
      return { ok: true, status, url, headers: res.headers, body: Buffer.concat(chunks, kept), cut };
    } catch (err) {
      const reason: unknown = local.signal.reason;
      if (reason instanceof WindowEnd) {
        return { ok: true, status: res?.statusCode ?? 0, url, headers: res?.headers ?? {}, body: Buffer.alloc(0), cut: true };
      }
      if (reason instanceof Deadline) {
        return answered
          ? { ok: false, failure: 'timeout', detail: `${shown}: the answer did not finish within the probe's ${this.#limits.timeoutMs} ms` }
          : { ok: false, failure: 'unreachable', detail: `${shown}: no answer within the probe's ${this.#limits.timeoutMs} ms` };
      }
      const code = errorCode(err);
      if (code === 'UND_ERR_HEADERS_OVERFLOW') return { ok: false, failure: 'too_large', detail: `${shown}: response headers too large` };
      if (code === 'UND_ERR_HEADERS_TIMEOUT')
        return { ok: false, failure: 'unreachable', detail: `${shown}: no answer within the probe's ${this.#limits.timeoutMs} ms` };
      if (code === 'UND_ERR_BODY_TIMEOUT') return { ok: false, failure: 'timeout', detail: `${shown}: the answer stalled` };
      // Before any answer: DNS, connect, TLS, or a connection closed unanswered.
      if (!answered) return { ok: false, failure: 'unreachable', detail: `${shown}: ${describe(err)}` };
      return { ok: false, failure: 'broken', detail: `${shown}: the answer broke off (${describe(err)})` };
    } finally {
      if (windowTimer) clearTimeout(windowTimer);
      this.#deadline.signal.removeEventListener('abort', onDeadline);
      // An unread or abandoned body would pin its connection: free it.
      if (res && !res.body.destroyed) discard(res.body);
    }
  }
}
