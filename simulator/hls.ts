/**
 * The simulator's HLS, as RFC 8216 writes it: live media playlists over a sliding window of MPEG-TS
 * segments, and a master playlist with two variants. Everything is a pure function of the clock:
 * segment n covers [n × T, (n + 1) × T) seconds of Unix time, so every output's media sequence
 * advances with the simulator's clock, and no two answers of a live feed ever go backwards unless
 * a fault says so.
 */

/** Segments in a live playlist's window. */
export const HLS_WINDOW_SEGMENTS = 5;
/** Segment bytes per second of media: the low variant's 400 kbit/s, the one a prober follows by default. */
export const HLS_SEGMENT_BYTES_PER_SECOND = 50_000;
export const TS_PACKET_BYTES = 188;

export const HLS_VARIANTS = [
  { name: 'low', bandwidth: 400_000, resolution: '640x360' },
  { name: 'high', bandwidth: 1_500_000, resolution: '1280x720' },
] as const;
export type HlsVariantName = (typeof HLS_VARIANTS)[number]['name'];

/** The newest complete segment at `nowMs` (segment n is complete once (n + 1) × T has passed). */
export function liveEdge(nowMs: number, targetDurationS: number): number {
  return Math.max(0, Math.floor(nowMs / (targetDurationS * 1000)) - 1);
}

export interface MediaPlaylist {
  /** EXT-X-MEDIA-SEQUENCE: the first segment of the window. */
  mediaSequence: number;
  targetDurationS: number;
  /** EXT-X-ENDLIST: the broadcast ended. */
  endList: boolean;
  /** Prepended to `<seq>.ts`: `<id>/` for the playlist beside the id's folder, '' inside it. */
  uriPrefix: string;
}

/** Version 3 (decimal EXTINF), every segment exactly the target duration long. */
export function mediaPlaylist(p: MediaPlaylist): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3', `#EXT-X-TARGETDURATION:${p.targetDurationS}`, `#EXT-X-MEDIA-SEQUENCE:${p.mediaSequence}`];
  for (let i = 0; i < HLS_WINDOW_SEGMENTS; i++) lines.push(`#EXTINF:${p.targetDurationS.toFixed(3)},`, `${p.uriPrefix}${p.mediaSequence + i}.ts`);
  if (p.endList) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

/** Two variants, relative URIs (`low.m3u8`, `high.m3u8` beside the master). */
export function masterPlaylist(): string {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3'];
  for (const v of HLS_VARIANTS) {
    lines.push(`#EXT-X-STREAM-INF:BANDWIDTH=${v.bandwidth},RESOLUTION=${v.resolution},CODECS="avc1.42c01e,mp4a.40.2"`, `${v.name}.m3u8`);
  }
  return `${lines.join('\n')}\n`;
}

// ---- MPEG-TS segments (ISO/IEC 13818-1) ------------------------------------------------------

const PMT_PID = 0x1000;
const VIDEO_PID = 0x100;

/** CRC-32/MPEG-2: polynomial 0x04C11DB7, initial all ones, not reflected, no final xor. */
export function crc32Mpeg2(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b << 24;
    for (let i = 0; i < 8; i++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
  }
  return crc >>> 0;
}

/** A PSI packet: header with payload_unit_start, pointer field 0, the section and its CRC, 0xFF stuffing. */
function psiPacket(pid: number, section: number[]): Buffer {
  const pkt = Buffer.alloc(TS_PACKET_BYTES, 0xff);
  pkt.set([0x47, 0x40 | (pid >> 8), pid & 0xff, 0x10, 0x00], 0);
  const body = Buffer.from(section);
  body.copy(pkt, 5);
  pkt.writeUInt32BE(crc32Mpeg2(body), 5 + body.length);
  return pkt;
}

/** PAT: program 1 on PID 0x1000. */
function patPacket(): Buffer {
  return psiPacket(0x0000, [0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xe0 | (PMT_PID >> 8), PMT_PID & 0xff]);
}

/** PMT: one H.264 stream (type 0x1B) on PID 0x100, which also carries the PCR. */
function pmtPacket(): Buffer {
  const v = [0xe0 | (VIDEO_PID >> 8), VIDEO_PID & 0xff];
  return psiPacket(PMT_PID, [0x02, 0xb0, 0x12, 0x00, 0x01, 0xc1, 0x00, 0x00, ...v, 0xf0, 0x00, 0x1b, ...v, 0xf0, 0x00]);
}

/** The 33-bit PTS in its 5-byte PES form ('0010' marker: PTS only). */
function ptsBytes(pts90k: number): number[] {
  const p = pts90k % 2 ** 33;
  const hi = Math.floor(p / 2 ** 30);
  const mid = Math.floor(p / 2 ** 15) & 0x7fff;
  const lo = p & 0x7fff;
  return [0x21 | (hi << 1), mid >> 7, ((mid & 0x7f) << 1) | 1, lo >> 7, ((lo & 0x7f) << 1) | 1];
}

/** Packet `i` (from 2) of segment `seq`: video PES on PID 0x100; the first starts the PES (header and PTS). */
function videoPacket(seq: number, i: number, targetDurationS: number): Buffer {
  const pkt = Buffer.alloc(TS_PACKET_BYTES, 0x00);
  const first = i === 2;
  pkt.set([0x47, (first ? 0x40 : 0x00) | (VIDEO_PID >> 8), VIDEO_PID & 0xff, 0x10 | ((i - 2) & 0x0f)], 0);
  if (first)
    pkt.set([0x00, 0x00, 0x01, 0xe0, 0x00, 0x00, 0x80, 0x80, 0x05, ...ptsBytes(seq * targetDurationS * 90_000), 0x00, 0x00, 0x00, 0x01, 0x09, 0xf0], 4);
  return pkt;
}

function packet(seq: number, i: number, targetDurationS: number): Buffer {
  if (i === 0) return patPacket();
  if (i === 1) return pmtPacket();
  return videoPacket(seq, i, targetDurationS);
}

/** A segment's size: whole packets for its duration at HLS_SEGMENT_BYTES_PER_SECOND. */
export function segmentBytes(targetDurationS: number): number {
  return Math.ceil((targetDurationS * HLS_SEGMENT_BYTES_PER_SECOND) / TS_PACKET_BYTES) * TS_PACKET_BYTES;
}

/** Bytes [start, end] (inclusive) of segment `seq`, built only as far as asked (a ranged read costs its range). */
export function segmentRange(seq: number, targetDurationS: number, start: number, end: number): Buffer {
  const first = Math.floor(start / TS_PACKET_BYTES);
  const last = Math.floor(end / TS_PACKET_BYTES);
  const packets: Buffer[] = [];
  for (let i = first; i <= last; i++) packets.push(packet(seq, i, targetDurationS));
  const from = start - first * TS_PACKET_BYTES;
  return Buffer.concat(packets).subarray(from, from + (end - start + 1));
}

/**
 * A `Range` header against a body of `size` bytes: one range (`a-b`, `a-`, `-n`) gives its
 * inclusive bounds, an unsatisfiable one 'unsatisfiable' (416); anything else (absent, malformed,
 * several ranges) null: served whole, as RFC 9110 lets a server ignore what it does not take.
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  if (header === undefined) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (m === null) return null;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return null;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (b !== '' && Number(b) < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}
