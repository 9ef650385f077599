import type { ProbeFetch } from './http-fetch.js';
import type { OutputProbeLimits, OutputProbeResult, OutputTarget } from './types.js';

/**
 * HTTP-FLV as a viewer plays it: read the live stream for a window, check the FLV header and each
 * tag as it arrives (never more than one tag header held, tag bodies skipped), and judge whether
 * media flows: audio or video tags with advancing timestamps, and a keyframe when there is video.
 */

const TAG_AUDIO = 8;
const TAG_VIDEO = 9;
const TAG_SCRIPT = 18;
const FLV_HEADER_BYTES = 9;
const TAG_HEADER_BYTES = 11;
/** The 3-byte DataSize field's ceiling: a tag cannot be larger. */
const MAX_TAG_DATA = 0xffffff;

export interface FlvTagCounts {
  audio: number;
  video: number;
  script: number;
  keyframes: number;
  /** Media tags (audio or video) whose timestamp was above every earlier media tag's. */
  advancing: number;
  /** The lowest and highest media timestamps seen (ms), null before the first media tag. */
  firstTimestampMs: number | null;
  lastTimestampMs: number | null;
}

type Phase = 'header' | 'skip_header_rest' | 'prev_size' | 'tag_header' | 'tag_body';

/**
 * An incremental FLV reader: feed it chunks as they arrive, in any split. It holds at most one tag
 * header (11 bytes) plus the 9-byte file header; tag bodies are skipped, only a video tag's first
 * byte (frame type) is read. After an error it stays in error.
 */
export class FlvTagReader {
  readonly counts: FlvTagCounts = {
    audio: 0,
    video: 0,
    script: 0,
    keyframes: 0,
    advancing: 0,
    firstTimestampMs: null,
    lastTimestampMs: null,
  };
  #phase: Phase = 'header';
  readonly #held = Buffer.alloc(TAG_HEADER_BYTES);
  #heldLen = 0;
  #toSkip = 0;
  #bodyLeft = 0;
  #bodyType = 0;
  #bodyFirstByte = true;
  #lastTagSize = 0;
  #error: string | null = null;
  #headerSeen = false;
  /** Whether the header announced audio and video (flags); informational. */
  hasAudioFlag = false;
  hasVideoFlag = false;

  get error(): string | null {
    return this.#error;
  }

  get headerSeen(): boolean {
    return this.#headerSeen;
  }

  /** Feeds bytes; returns false once the stream is known not to be FLV. */
  push(chunk: Buffer): boolean {
    let i = 0;
    while (i < chunk.length && this.#error === null) {
      switch (this.#phase) {
        case 'header':
        case 'prev_size':
        case 'tag_header': {
          const need = this.#phase === 'header' ? FLV_HEADER_BYTES : this.#phase === 'prev_size' ? 4 : TAG_HEADER_BYTES;
          const take = Math.min(need - this.#heldLen, chunk.length - i);
          chunk.copy(this.#held, this.#heldLen, i, i + take);
          this.#heldLen += take;
          i += take;
          if (this.#heldLen === need) {
            this.#heldLen = 0;
            this.#complete(this.#held.subarray(0, need));
          }
          break;
        }
        case 'skip_header_rest': {
          const take = Math.min(this.#toSkip, chunk.length - i);
          this.#toSkip -= take;
          i += take;
          if (this.#toSkip === 0) this.#phase = 'prev_size';
          break;
        }
        case 'tag_body': {
          if (this.#bodyFirstByte && this.#bodyType === TAG_VIDEO) {
            // FrameType is the high nibble (bits 4-6 under the enhanced-RTMP ExHeader bit): 1 = keyframe.
            if (((chunk[i]! >> 4) & 0x07) === 1) this.counts.keyframes++;
          }
          this.#bodyFirstByte = false;
          const take = Math.min(this.#bodyLeft, chunk.length - i);
          this.#bodyLeft -= take;
          i += take;
          if (this.#bodyLeft === 0) this.#phase = 'prev_size';
          break;
        }
      }
    }
    return this.#error === null;
  }

  #fail(why: string): void {
    this.#error = why;
  }

  #complete(b: Buffer): void {
    switch (this.#phase) {
      case 'header': {
        if (b[0] !== 0x46 || b[1] !== 0x4c || b[2] !== 0x56) return this.#fail('no FLV signature');
        if (b[3] !== 1) return this.#fail(`FLV version ${b[3]} (1 expected)`);
        const flags = b[4]!;
        this.hasAudioFlag = (flags & 0x04) !== 0;
        this.hasVideoFlag = (flags & 0x01) !== 0;
        const offset = b.readUInt32BE(5);
        if (offset < FLV_HEADER_BYTES || offset > 1024) return this.#fail(`FLV header DataOffset ${offset}`);
        this.#headerSeen = true;
        this.#lastTagSize = 0;
        this.#toSkip = offset - FLV_HEADER_BYTES;
        this.#phase = this.#toSkip > 0 ? 'skip_header_rest' : 'prev_size';
        return;
      }
      case 'prev_size': {
        const size = b.readUInt32BE(0);
        // Writers put the previous tag's size here; some put 0. Anything else is not this stream.
        if (size !== this.#lastTagSize && size !== 0) return this.#fail(`PreviousTagSize ${size} after a tag of ${this.#lastTagSize} bytes`);
        this.#phase = 'tag_header';
        return;
      }
      case 'tag_header': {
        const type = b[0]! & 0x1f;
        if ((b[0]! & 0xc0) !== 0) return this.#fail(`reserved bits set in a tag header (0x${b[0]!.toString(16)})`);
        if (type !== TAG_AUDIO && type !== TAG_VIDEO && type !== TAG_SCRIPT) return this.#fail(`tag type ${type}`);
        const size = b.readUIntBE(1, 3);
        const ts = (b.readUIntBE(4, 3) | (b[7]! << 24)) >>> 0;
        const streamId = b.readUIntBE(8, 3);
        if (streamId !== 0) return this.#fail(`tag StreamID ${streamId} (0 expected)`);
        if (size > MAX_TAG_DATA) return this.#fail(`tag size ${size}`);
        if (type === TAG_SCRIPT) this.counts.script++;
        else {
          if (type === TAG_AUDIO) this.counts.audio++;
          else this.counts.video++;
          const c = this.counts;
          if (c.lastTimestampMs !== null && ts > c.lastTimestampMs) c.advancing++;
          if (c.lastTimestampMs === null || ts > c.lastTimestampMs) c.lastTimestampMs = ts;
          if (c.firstTimestampMs === null || ts < c.firstTimestampMs) c.firstTimestampMs = ts;
        }
        this.#lastTagSize = TAG_HEADER_BYTES + size;
        this.#bodyType = type;
        this.#bodyLeft = size;
        this.#bodyFirstByte = true;
        // A video tag of size 0 has no frame type to read.
        this.#phase = size > 0 ? 'tag_body' : 'prev_size';
        return;
      }
      default:
        return;
    }
  }
}

/** What the window's tags say, as the result's reason (null: up). */
export function judgeFlv(reader: FlvTagReader, bytes: number): { reason: 'bad_flv' | 'no_media' | 'no_keyframe' | null; detail: string } {
  const c = reader.counts;
  if (reader.error !== null) return { reason: 'bad_flv', detail: `not FLV: ${reader.error}` };
  if (!reader.headerSeen) return { reason: 'no_media', detail: `no FLV header within the window (${bytes} bytes)` };
  if (c.audio + c.video === 0) return { reason: 'no_media', detail: 'FLV header but no audio or video tag within the window' };
  if (c.advancing === 0) return { reason: 'no_media', detail: `${c.audio + c.video} media tags, timestamps not advancing` };
  if (c.video > 0 && c.keyframes === 0) return { reason: 'no_keyframe', detail: `${c.video} video tags, no keyframe within the window` };
  return {
    reason: null,
    detail: `${c.audio} audio and ${c.video} video tags (${c.keyframes} keyframes), media ${c.firstTimestampMs}–${c.lastTimestampMs} ms`,
  };
}

/** One HTTP-FLV probe: the stream read for the window (or up to the byte cap), then closed. */
export async function probeFlv(fetch: ProbeFetch, target: OutputTarget, limits: OutputProbeLimits, nowMs: number): Promise<OutputProbeResult> {
  const reader = new FlvTagReader();
  let bytes = 0;
  let firstAt: number | null = null;
  let lastAt: number | null = null;
  let advancedAt: number | null = null;
  let advancing = 0;
  const startedAt = performance.now();
  const res = await fetch.get(target.url, {
    // The window ends before the probe's deadline, so a stream that flows for the whole window is read, not timed out.
    windowMs: Math.max(0, Math.min(limits.flvWindowMs, fetch.remainingMs() - 50)),
    onChunk: (chunk, atMs) => {
      firstAt ??= atMs;
      lastAt = atMs;
      bytes += chunk.length;
      const ok = reader.push(chunk);
      if (reader.counts.advancing > advancing) {
        advancing = reader.counts.advancing;
        advancedAt = atMs;
      }
      return ok;
    },
  });
  const base = {
    firstByteSeconds: fetch.firstByteSeconds,
    targetDurationSeconds: null,
    tlsNotAfterMs: null as number | null,
  };
  if (!res.ok) {
    if (res.failure === 'unreachable')
      return { ...base, reached: false, up: false, reason: 'unreachable', detail: res.detail, bitrateBps: null, mediaAdvancedAtMs: null };
    if (res.failure !== 'broken')
      return { ...base, reached: true, up: false, reason: res.failure, detail: res.detail, bitrateBps: null, mediaAdvancedAtMs: null };
    // A stream that broke off mid-window is judged on what arrived.
  } else {
    base.tlsNotAfterMs = fetch.tlsNotAfterMs(res.url);
    if (res.status === 404 || res.status === 410)
      return { ...base, reached: true, up: false, reason: 'not_found', detail: `HTTP ${res.status}`, bitrateBps: null, mediaAdvancedAtMs: null };
    if (res.status < 200 || res.status > 299)
      return { ...base, reached: true, up: false, reason: 'http_status', detail: `HTTP ${res.status}`, bitrateBps: null, mediaAdvancedAtMs: null };
  }
  // Bits over the time the window was open for the body (from its first byte; a burst of one chunk counts over the window).
  const windowSec = firstAt !== null ? Math.max((Math.max(lastAt ?? firstAt, performance.now()) - firstAt) / 1000, 0.001) : 0;
  const bitrateBps = windowSec > 0 ? (bytes * 8) / windowSec : null;
  const verdict = judgeFlv(reader, bytes);
  const mediaAdvancedAtMs = advancedAt !== null ? nowMs + (advancedAt - startedAt) : null;
  return {
    ...base,
    reached: true,
    up: verdict.reason === null,
    reason: verdict.reason,
    detail: `${verdict.detail}; ${bytes} bytes`,
    bitrateBps,
    mediaAdvancedAtMs,
  };
}
