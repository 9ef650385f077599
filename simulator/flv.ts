/**
 * FLV as Adobe's "Video File Format Specification v10.1" (annex E) lays it out, for the simulator's
 * HTTP-FLV: the 9-byte header, then tags, each followed by its PreviousTagSize. The payloads are
 * shaped like an H.264/AAC live stream (AVC and AAC sequence headers, then frames) with filler
 * bytes as picture and sound: enough for a parser or a prober, not for a decoder.
 */

export const FLV_TAG_AUDIO = 8;
export const FLV_TAG_VIDEO = 9;
export const FLV_TAG_SCRIPT = 18;

/** "FLV", version 1, flags audio (0x04) + video (0x01), header size 9; then PreviousTagSize0 = 0. */
export function flvHeader(): Buffer {
  return Buffer.from([0x46, 0x4c, 0x56, 0x01, 0x05, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00]);
}

/**
 * One tag and its PreviousTagSize: 11-byte tag header (type, 24-bit data size, 24-bit timestamp
 * plus its 8-bit extension, stream id 0), the data, then 11 + data size as a uint32.
 */
export function flvTag(type: number, timestampMs: number, data: Buffer): Buffer {
  if (data.length > 0xffffff) throw new RangeError('FLV tag data is at most 16 MiB');
  const ts = Math.max(0, Math.floor(timestampMs)) >>> 0;
  const out = Buffer.alloc(11 + data.length + 4);
  out.writeUInt8(type, 0);
  out.writeUIntBE(data.length, 1, 3);
  out.writeUIntBE(ts & 0xffffff, 4, 3);
  out.writeUInt8((ts >>> 24) & 0xff, 7);
  // StreamID (3 bytes) stays 0.
  data.copy(out, 11);
  out.writeUInt32BE(11 + data.length, 11 + data.length);
  return out;
}

function amf0String(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function amf0Number(n: number): Buffer {
  const b = Buffer.alloc(9);
  b.writeUInt8(0x00, 0);
  b.writeDoubleBE(n, 1);
  return b;
}

/** The onMetaData script tag every live FLV starts with (AMF0: the name, then an ECMA array). */
export function flvMetadataTag(meta: Record<string, number>): Buffer {
  const entries = Object.entries(meta);
  const count = Buffer.alloc(5);
  count.writeUInt8(0x08, 0); // ECMA array
  count.writeUInt32BE(entries.length, 1);
  const body = Buffer.concat([
    Buffer.from([0x02]), // string
    amf0String('onMetaData'),
    count,
    ...entries.flatMap(([k, v]) => [amf0String(k), amf0Number(v)]),
    Buffer.from([0x00, 0x00, 0x09]), // object end
  ]);
  return flvTag(FLV_TAG_SCRIPT, 0, body);
}

/**
 * The AVC sequence header: frame type 1 + codec 7 (0x17), AVCPacketType 0, composition time 0, an
 * AVCDecoderConfigurationRecord (Baseline 3.0, 4-byte NAL lengths, one SPS, one PPS).
 */
export function avcSequenceHeaderTag(): Buffer {
  const sps = Buffer.from([0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5, 0x84]);
  const pps = Buffer.from([0x68, 0xce, 0x3c, 0x80]);
  const record = Buffer.concat([
    Buffer.from([0x01, sps[1]!, sps[2]!, sps[3]!, 0xff, 0xe1]),
    Buffer.from([sps.length >> 8, sps.length & 0xff]),
    sps,
    Buffer.from([0x01, pps.length >> 8, pps.length & 0xff]),
    pps,
  ]);
  return flvTag(FLV_TAG_VIDEO, 0, Buffer.concat([Buffer.from([0x17, 0x00, 0x00, 0x00, 0x00]), record]));
}

/** The AAC sequence header: SoundFormat 10 (AAC), 44 kHz, 16-bit, stereo (0xAF), AACPacketType 0, AudioSpecificConfig (LC, 44.1 kHz, 2 ch). */
export function aacSequenceHeaderTag(): Buffer {
  return flvTag(FLV_TAG_AUDIO, 0, Buffer.from([0xaf, 0x00, 0x12, 0x10]));
}

/**
 * One video frame: 0x17 (keyframe, AVC) or 0x27 (inter frame, AVC), AVCPacketType 1 (NALU),
 * composition time 0, then one length-prefixed NAL unit (IDR slice type 5, or type 1) of `size` bytes.
 */
export function videoFrameTag(timestampMs: number, keyframe: boolean, size: number): Buffer {
  const nalSize = Math.max(1, size);
  const data = Buffer.alloc(5 + 4 + nalSize, 0xaa);
  data.writeUInt8(keyframe ? 0x17 : 0x27, 0);
  data.writeUInt8(0x01, 1);
  data.writeUIntBE(0, 2, 3);
  data.writeUInt32BE(nalSize, 5);
  data.writeUInt8(keyframe ? 0x65 : 0x41, 9);
  return flvTag(FLV_TAG_VIDEO, timestampMs, data);
}

/** One AAC raw frame: 0xAF, AACPacketType 1, then `size` bytes. */
export function audioFrameTag(timestampMs: number, size: number): Buffer {
  const data = Buffer.alloc(2 + Math.max(1, size), 0x21);
  data.writeUInt8(0xaf, 0);
  data.writeUInt8(0x01, 1);
  return flvTag(FLV_TAG_AUDIO, timestampMs, data);
}

/** The live stream's shape: 25 frames/s, a keyframe every 2 s, about 800 kbit/s in all. */
export const FLV_FRAME_MS = 40;
export const FLV_KEYFRAME_INTERVAL_MS = 2000;
export const FLV_KEYFRAME_BYTES = 24_000;
export const FLV_INTER_FRAME_BYTES = 3_400;
export const FLV_AUDIO_FRAME_BYTES = 200;

/** What starts every connection: the header, onMetaData and both sequence headers (timestamp 0). */
export function flvPreamble(): Buffer {
  return Buffer.concat([
    flvHeader(),
    flvMetadataTag({
      duration: 0,
      width: 640,
      height: 360,
      framerate: 1000 / FLV_FRAME_MS,
      videocodecid: 7,
      audiocodecid: 10,
      audiosamplerate: 44100,
      audiosamplesize: 16,
      stereo: 1,
    }),
    avcSequenceHeaderTag(),
    aacSequenceHeaderTag(),
  ]);
}

/**
 * Frames `from` (inclusive) to `to` (exclusive) of one connection: frame n is at n × 40 ms, a video
 * tag (a keyframe every 2 s, so frame 0 is one) and an audio tag.
 */
export function flvFrames(from: number, to: number): Buffer {
  const parts: Buffer[] = [];
  for (let n = Math.max(0, from); n < to; n++) {
    const ts = n * FLV_FRAME_MS;
    const key = ts % FLV_KEYFRAME_INTERVAL_MS === 0;
    parts.push(videoFrameTag(ts, key, key ? FLV_KEYFRAME_BYTES : FLV_INTER_FRAME_BYTES), audioFrameTag(ts, FLV_AUDIO_FRAME_BYTES));
  }
  return Buffer.concat(parts);
}
