import { probeFlv } from './flv.js';
import { probeHls } from './hls.js';
import { HttpFetcher } from './http-fetch.js';
import type { HlsMemory, OutputProbeLimits, OutputProbeOutcome, OutputProber, OutputTarget } from './types.js';

/**
 * The default bounds of one output probe, in one place (docs/limits.md says why each is what it is).
 * `maxBytes` differs by kind: an HLS probe reads a playlist (or two) and a segment's first KiB; an
 * FLV probe reads the stream for its window, which at a few Mbit/s is several hundred KiB.
 */
export const DEFAULT_OUTPUT_LIMITS = {
  /** All requests of one probe (master, variant, segment; or the FLV window and its connect). */
  timeoutMs: 10_000,
  /** HLS: the playlists and the segment's ranged read together. A 1 000-segment live playlist is ~100 KB. */
  hlsMaxBytes: 1024 * 1024,
  /** HTTP-FLV: the window's cap (3 s at ~1.4 Mbit/s). */
  flvMaxBytes: 512 * 1024,
  /** Redirects per request. */
  maxRedirects: 3,
  /** How long an HTTP-FLV probe reads the stream. */
  flvWindowMs: 3000,
  /** Kept-alive connections per CDN host for playlists and segments. */
  connectionsPerHost: 4,
  /**
   * Connections per CDN host for HTTP-FLV windows: each holds its connection for the whole window,
   * so N FLV outputs on one host at interval I need N × window ÷ I at once (100 at 15 s: 20).
   */
  flvConnectionsPerHost: 32,
} as const;

/** The limits of one kind of probe, from the defaults. */
export function defaultLimits(kind: OutputTarget['kind']): OutputProbeLimits {
  const d = DEFAULT_OUTPUT_LIMITS;
  return { timeoutMs: d.timeoutMs, maxBytes: kind === 'hls' ? d.hlsMaxBytes : d.flvMaxBytes, maxRedirects: d.maxRedirects, flvWindowMs: d.flvWindowMs };
}

export interface HttpOutputProberOptions {
  /** Per kind; missing fields take DEFAULT_OUTPUT_LIMITS. */
  limits?: { hls?: Partial<OutputProbeLimits>; flv?: Partial<OutputProbeLimits> };
  connectionsPerHost?: number;
  flvConnectionsPerHost?: number;
  /** Extra CAs for https CDNs (tests; a private CDN). */
  tls?: { ca?: string | Buffer };
}

/** The maximum redirects allowed whatever the config says (issue #24: at most 3). */
const MAX_REDIRECTS = 3;

/** The process's one OutputProber: HLS and HTTP-FLV over shared connection pools. */
export class HttpOutputProber implements OutputProber {
  readonly #fetcher: HttpFetcher;
  readonly #limits: Record<OutputTarget['kind'], OutputProbeLimits>;
  #closed = false;

  constructor(opts: HttpOutputProberOptions = {}) {
    const bound = (l: OutputProbeLimits): OutputProbeLimits => ({ ...l, maxRedirects: Math.max(0, Math.min(l.maxRedirects, MAX_REDIRECTS)) });
    this.#limits = {
      hls: bound({ ...defaultLimits('hls'), ...opts.limits?.hls }),
      flv: bound({ ...defaultLimits('flv'), ...opts.limits?.flv }),
    };
    const timeouts = Math.max(this.#limits.hls.timeoutMs, this.#limits.flv.timeoutMs);
    this.#fetcher = new HttpFetcher({
      connectionsPerHost: opts.connectionsPerHost ?? DEFAULT_OUTPUT_LIMITS.connectionsPerHost,
      streamConnectionsPerHost: opts.flvConnectionsPerHost ?? DEFAULT_OUTPUT_LIMITS.flvConnectionsPerHost,
      connectTimeoutMs: timeouts,
      ...(opts.tls ? { tls: opts.tls } : {}),
    });
  }

  limits(kind: OutputTarget['kind']): OutputProbeLimits {
    return this.#limits[kind];
  }

  async probe(target: OutputTarget, memory: HlsMemory | null, nowMs: number): Promise<OutputProbeOutcome> {
    if (this.#closed) {
      // A probe that raced shutdown: nothing was asked of the CDN, so nothing is said about it.
      const result = {
        reached: false,
        up: false,
        reason: 'unreachable' as const,
        detail: 'the prober is closed',
        firstByteSeconds: null,
        bitrateBps: null,
        targetDurationSeconds: null,
        mediaAdvancedAtMs: null,
        tlsNotAfterMs: null,
      };
      return { result, memory };
    }
    const limits = this.#limits[target.kind];
    const fetch = this.#fetcher.startProbe(limits, target.allowedHosts);
    try {
      if (target.kind === 'hls') return await probeHls(fetch, target, memory, nowMs);
      return { result: await probeFlv(fetch, target, limits, nowMs), memory: null };
    } finally {
      fetch.end();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#fetcher.close();
  }
}
