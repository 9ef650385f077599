/**
 * What an output probe (HLS or HTTP-FLV, as a viewer plays it from the CDN) tells the outputs part.
 * The probers (hls.ts, flv.ts) fill it; the part keeps state, metrics and the diagnosis from it.
 */

export type OutputKind = 'hls' | 'flv';

/**
 * Why an output is down, or why a probe did not reach it: a fixed small set (the `reason` label of
 * zego_output_failures_total), each documented in docs/outputs.md.
 */
export const OUTPUT_FAILURE_REASONS = [
  /** DNS, connect or TLS failed, or nothing answered in time: probe_success 0, the state stays. */
  'unreachable',
  /** An answer began but did not finish within the probe's time. */
  'timeout',
  /** 404 or 410: the CDN has no such output. */
  'not_found',
  /** Any other status that is not 2xx. */
  'http_status',
  /** More redirects than allowed, a loop, or a redirect to a host that is not allowed. */
  'redirect',
  /** The body went over the bytes allowed for one probe. */
  'too_large',
  /** Not a playlist the parser accepts, or a master playlist without a usable variant. */
  'bad_playlist',
  /** EXT-X-ENDLIST: the broadcast ended. */
  'endlist',
  /** Neither the media sequence nor the last segment advanced within max(3 × target duration, interval). */
  'stale',
  /** EXT-X-MEDIA-SEQUENCE went backwards, or the playlist lost segments without advancing. */
  'regression',
  /** The newest segment is missing or does not start like media (MPEG-TS sync byte, fMP4 box). */
  'bad_segment',
  /** FLV: no valid FLV header, or tags that do not parse. */
  'bad_flv',
  /** FLV: no audio or video tag with an advancing timestamp within the window. */
  'no_media',
  /** FLV: video tags but no keyframe within the window. */
  'no_keyframe',
] as const;
export type OutputFailureReason = (typeof OUTPUT_FAILURE_REASONS)[number];

/** Bounds of one probe: a hostile CDN costs at most this much memory and time. */
export interface OutputProbeLimits {
  /** The whole probe (all requests of it). */
  timeoutMs: number;
  /** Bytes read per probe (playlists and the segment's ranged read together; FLV window cap). */
  maxBytes: number;
  /** Redirects followed per request (at most 3). */
  maxRedirects: number;
  /** How long an HTTP-FLV probe reads the stream. */
  flvWindowMs: number;
}

export interface OutputTarget {
  /** The full URL, query string included (tokens): never logged, exported or shown. */
  url: string;
  kind: OutputKind;
  /** Seconds between probes of this output: freshness is judged against max(3 × target duration, interval). */
  intervalSeconds: number;
  /** For a discovered output: the hosts a redirect may go to (undefined: any host). */
  allowedHosts?: ReadonlySet<string>;
  /** HLS master playlist: the variant to follow (its BANDWIDTH); lowest bandwidth when unset. */
  variantBandwidth?: number;
}

/** What one probe saw. */
export interface OutputProbeResult {
  /** false: the CDN could not be reached at all (reason 'unreachable'): probe_success 0, the output keeps its last state. */
  reached: boolean;
  /** Meaningful when reached: the output is live and fresh. */
  up: boolean;
  /** Why down (or why not reached); null when up. */
  reason: OutputFailureReason | null;
  /** Human detail for logs and the status page (no URL query string in it). */
  detail: string;
  /** From sending the first request to the first byte of its body (the playlist, or the FLV stream). */
  firstByteSeconds: number | null;
  /** FLV: bits received per second over the window; HLS: newest segment's size ÷ its duration. */
  bitrateBps: number | null;
  /** HLS: EXT-X-TARGETDURATION. */
  targetDurationSeconds: number | null;
  /** Wall time (ms) the media last advanced: HLS media sequence or last segment changed; FLV timestamps advanced. */
  mediaAdvancedAtMs: number | null;
  /** HTTPS: the server certificate's notAfter (ms). */
  tlsNotAfterMs: number | null;
}

/** What an HLS probe carries to the next probe of the same output (opaque to the part). */
export interface HlsMemory {
  readonly mediaSequence: number;
  readonly lastSegmentUri: string;
  readonly segmentCount: number;
  readonly advancedAtMs: number;
}

export interface OutputProbeOutcome {
  result: OutputProbeResult;
  /** Keep and hand back on the next probe of this output (null: nothing to keep, e.g. FLV). */
  memory: HlsMemory | null;
}

/** One instance per process: holds the connection pool (connections per host bounded) for every output. */
export interface OutputProber {
  probe(target: OutputTarget, memory: HlsMemory | null, nowMs: number): Promise<OutputProbeOutcome>;
  close(): Promise<void>;
}
