import * as HLS from 'hls-parser';
import type { FetchFailed, ProbeFetch } from './http-fetch.js';
import type { HlsMemory, OutputFailureReason, OutputProbeOutcome, OutputProbeResult, OutputTarget } from './types.js';

/**
 * HLS as a viewer plays it: the playlist (a master playlist: one variant), judged live and fresh
 * against what the previous probe saw (HlsMemory), then the newest segment read with a ranged GET
 * to see that it exists and starts like media.
 *
 * Memory handed on: after a playlist was read, what it showed; after endlist, 404/410, another
 * status or a playlist the parser refuses, none (the broadcast or the output ended: a restart that
 * begins again at media sequence 0 is a new broadcast, not a regression); when the CDN could not
 * be read at all (unreachable, timeout, redirect, too large), the previous memory unchanged.
 */

// RFC 8216 as written: a playlist without EXTM3U first, without EXT-X-TARGETDURATION, or with an
// EXTINF above the target duration is refused (bad_playlist) rather than guessed at; never printed.
HLS.setOptions({ strictMode: true, silent: true });

/** Bytes of the newest segment read to see how it starts. */
export const SEGMENT_HEAD_BYTES = 1024;

/** fMP4 box types a segment (or its init section) starts with. */
const FMP4_BOXES = new Set(['ftyp', 'styp', 'moof', 'sidx', 'moov', 'emsg', 'prft']);

/** How a segment's first bytes look: MPEG-TS, fMP4, packed audio with an ID3 header, or not media. */
export function looksLikeMedia(head: Buffer): string | null {
  if (head.length >= 1 && head[0] === 0x47) return 'MPEG-TS';
  if (head.length >= 8 && FMP4_BOXES.has(head.toString('latin1', 4, 8))) return `fMP4 (${head.toString('latin1', 4, 8)})`;
  if (head.length >= 3 && head.toString('latin1', 0, 3) === 'ID3') return 'packed audio (ID3)';
  return null;
}

/** The total size a 206's Content-Range names ("bytes 0-1023/52000"), or a 200's Content-Length. */
export function segmentSize(status: number, headers: Record<string, string | string[] | undefined>): number | null {
  const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
  if (status === 206) {
    const m = /\/(\d+)\s*$/.exec(one(headers['content-range']) ?? '');
    return m ? Number(m[1]) : null;
  }
  const len = Number(one(headers['content-length']));
  return Number.isFinite(len) && len > 0 ? len : null;
}

interface Judged {
  reason: OutputFailureReason | null;
  detail: string;
  advancedAtMs: number;
}

/**
 * Live and fresh, judged against the previous probe: the media sequence or the last segment moved
 * within max(3 × target duration, interval); a media sequence that went back, or a playlist that lost
 * segments without moving, is a regression.
 */
export function judgeFreshness(
  now: { mediaSequence: number; lastSegmentUri: string; segmentCount: number; targetDurationSeconds: number },
  memory: HlsMemory | null,
  intervalSeconds: number,
  nowMs: number,
): Judged {
  if (memory === null) return { reason: null, detail: 'first look', advancedAtMs: nowMs };
  const lastSeq = now.mediaSequence + now.segmentCount - 1;
  const memLastSeq = memory.mediaSequence + memory.segmentCount - 1;
  if (now.mediaSequence < memory.mediaSequence) {
    return {
      reason: 'regression',
      detail: `media sequence went back from ${memory.mediaSequence} to ${now.mediaSequence}`,
      advancedAtMs: memory.advancedAtMs,
    };
  }
  if (lastSeq < memLastSeq) {
    return {
      reason: 'regression',
      detail: `the playlist lost segments: ${memory.segmentCount} → ${now.segmentCount} at media sequence ${now.mediaSequence}`,
      advancedAtMs: memory.advancedAtMs,
    };
  }
  const advanced = now.mediaSequence > memory.mediaSequence || lastSeq > memLastSeq || now.lastSegmentUri !== memory.lastSegmentUri;
  // The advance happened between the two probes; a live playlist lists a new segment at least once a
  // target duration (RFC 8216 6.2.1), so it is dated at most one target duration back, never before
  // the advance already known. Dated at `now`, a stall that began just after an advance would read
  // stale one probe interval past max(3 × target duration, interval) + interval.
  const advancedAtMs = advanced ? Math.max(memory.advancedAtMs, nowMs - now.targetDurationSeconds * 1000) : memory.advancedAtMs;
  const windowMs = Math.max(3 * now.targetDurationSeconds, intervalSeconds) * 1000;
  const ageMs = nowMs - advancedAtMs;
  if (ageMs > windowMs) {
    return {
      reason: 'stale',
      detail: `media sequence ${now.mediaSequence} and last segment unchanged for ${(ageMs / 1000).toFixed(1)} s (allowed ${(windowMs / 1000).toFixed(1)} s)`,
      advancedAtMs,
    };
  }
  return { reason: null, detail: advanced ? 'advanced' : `unchanged for ${(ageMs / 1000).toFixed(1)} s`, advancedAtMs };
}

type Fail = Omit<OutputProbeResult, 'firstByteSeconds' | 'tlsNotAfterMs'>;

function fetchFailed(r: FetchFailed, what: 'playlist' | 'segment'): Fail {
  const none = { bitrateBps: null, targetDurationSeconds: null, mediaAdvancedAtMs: null };
  if (r.failure === 'unreachable') return { ...none, reached: false, up: false, reason: 'unreachable', detail: r.detail };
  if (r.failure === 'broken') return { ...none, reached: true, up: false, reason: what === 'playlist' ? 'bad_playlist' : 'bad_segment', detail: r.detail };
  return { ...none, reached: true, up: false, reason: r.failure, detail: r.detail };
}

function statusFailure(status: number, detail: string): { reason: OutputFailureReason; detail: string } {
  return { reason: status === 404 || status === 410 ? 'not_found' : 'http_status', detail: `${detail}: HTTP ${status}` };
}

/** Pick the variant: the one whose BANDWIDTH is asked for (nearest), else the lowest. */
export function pickVariant(variants: readonly HLS.types.Variant[], bandwidth: number | undefined): HLS.types.Variant | null {
  const usable = variants.filter((v) => !v.isIFrameOnly && typeof v.uri === 'string' && v.uri.length > 0 && Number.isFinite(v.bandwidth));
  if (usable.length === 0) return null;
  const score = (v: HLS.types.Variant): number => (bandwidth === undefined ? v.bandwidth : Math.abs(v.bandwidth - bandwidth));
  return usable.reduce((best, v) => (score(v) < score(best) ? v : best));
}

function parse(body: Buffer): HLS.types.Playlist | string {
  try {
    return HLS.parse(body.toString('utf8'));
  } catch (err) {
    // The parser's message names the rule broken, never the URL.
    return err instanceof Error ? err.message.slice(0, 200) : 'unparseable';
  }
}

/** One HLS probe. */
export async function probeHls(fetch: ProbeFetch, target: OutputTarget, memory: HlsMemory | null, nowMs: number): Promise<OutputProbeOutcome> {
  let tlsNotAfterMs: number | null = null;
  const finish = (r: Fail, mem: HlsMemory | null): OutputProbeOutcome => ({
    result: { ...r, firstByteSeconds: fetch.firstByteSeconds, tlsNotAfterMs },
    memory: mem,
  });
  const down = (reason: OutputFailureReason, detail: string, mem: HlsMemory | null, extra: Partial<Fail> = {}): OutputProbeOutcome =>
    finish({ reached: true, up: false, reason, detail, bitrateBps: null, targetDurationSeconds: null, mediaAdvancedAtMs: null, ...extra }, mem);

  // The playlist, and when it is a master playlist, its variant.
  let res = await fetch.get(target.url);
  if (!res.ok) return finish(fetchFailed(res, 'playlist'), memory);
  tlsNotAfterMs = fetch.tlsNotAfterMs(res.url);
  if (res.status < 200 || res.status > 299) {
    const f = statusFailure(res.status, 'playlist');
    return down(f.reason, f.detail, null);
  }
  let playlist = parse(res.body);
  if (typeof playlist === 'string') return down('bad_playlist', `playlist: ${playlist}`, null);
  let variantNote = '';
  if (playlist.isMasterPlaylist) {
    const variant = pickVariant((playlist as HLS.types.MasterPlaylist).variants, target.variantBandwidth);
    if (variant === null) return down('bad_playlist', 'master playlist without a usable variant', null);
    let variantUrl: URL;
    try {
      variantUrl = new URL(variant.uri, res.url);
    } catch {
      return down('bad_playlist', 'master playlist: a variant URI that does not resolve', null);
    }
    variantNote = ` (variant BANDWIDTH=${variant.bandwidth})`;
    res = await fetch.get(variantUrl);
    if (!res.ok) return finish(fetchFailed(res, 'playlist'), memory);
    if (res.status < 200 || res.status > 299) {
      const f = statusFailure(res.status, `variant playlist${variantNote}`);
      return down(f.reason, f.detail, null);
    }
    playlist = parse(res.body);
    if (typeof playlist === 'string') return down('bad_playlist', `variant playlist${variantNote}: ${playlist}`, null);
    if (playlist.isMasterPlaylist) return down('bad_playlist', `variant playlist${variantNote} is itself a master playlist`, null);
  }
  const media = playlist as HLS.types.MediaPlaylist;
  const targetDurationSeconds = media.targetDuration;
  if (media.endlist) return down('endlist', `EXT-X-ENDLIST${variantNote}: the broadcast ended`, null, { targetDurationSeconds });
  const last = media.segments[media.segments.length - 1];
  if (last === undefined) return down('bad_playlist', `a live playlist without segments${variantNote}`, null, { targetDurationSeconds });

  const seen = {
    mediaSequence: media.mediaSequenceBase ?? 0,
    // Without its query: CDNs that sign each segment URI anew would otherwise look like one that advances.
    lastSegmentUri: redactSegment(last.uri),
    segmentCount: media.segments.length,
    targetDurationSeconds,
  };
  const judged = judgeFreshness(seen, memory, target.intervalSeconds, nowMs);
  const nextMemory: HlsMemory = {
    mediaSequence: seen.mediaSequence,
    lastSegmentUri: seen.lastSegmentUri,
    segmentCount: seen.segmentCount,
    advancedAtMs: judged.advancedAtMs,
  };
  const known = { targetDurationSeconds, mediaAdvancedAtMs: judged.advancedAtMs };
  if (judged.reason !== null) return down(judged.reason, `${judged.detail}${variantNote}`, nextMemory, known);

  // The newest segment: a ranged read of its head (within its EXT-X-BYTERANGE when it has one).
  let segmentUrl: URL;
  try {
    segmentUrl = new URL(last.uri, res.url);
  } catch {
    return down('bad_playlist', 'the newest segment URI does not resolve', nextMemory, known);
  }
  const offset = last.byterange?.offset ?? 0;
  const span = last.byterange ? Math.min(last.byterange.length, SEGMENT_HEAD_BYTES) : SEGMENT_HEAD_BYTES;
  const seg = await fetch.get(segmentUrl, { range: { start: offset, end: offset + span - 1 }, keepBytes: span });
  if (!seg.ok) return finish({ ...fetchFailed(seg, 'segment'), ...known }, nextMemory);
  if (seg.status === 404 || seg.status === 410) return down('bad_segment', `newest segment ${redactSegment(last.uri)}: HTTP ${seg.status}`, nextMemory, known);
  if (seg.status !== 200 && seg.status !== 206) return down('http_status', `newest segment ${redactSegment(last.uri)}: HTTP ${seg.status}`, nextMemory, known);
  const kind = looksLikeMedia(seg.body);
  if (kind === null)
    return down('bad_segment', `newest segment ${redactSegment(last.uri)} does not start like media (${seg.body.length} bytes read)`, nextMemory, known);
  const size = last.byterange ? last.byterange.length : segmentSize(seg.status, seg.headers);
  const bitrateBps = size !== null && last.duration > 0 ? (size * 8) / last.duration : null;
  return finish(
    {
      reached: true,
      up: true,
      reason: null,
      detail: `media sequence ${seen.mediaSequence}, ${seen.segmentCount} segments, ${judged.detail}; newest segment ${kind}${variantNote}`,
      bitrateBps,
      ...known,
    },
    nextMemory,
  );
}

/** A segment URI as shown: its path only (segment URIs carry tokens too). */
function redactSegment(uri: string): string {
  const q = uri.search(/[?#]/);
  return q === -1 ? uri : uri.slice(0, q);
}
