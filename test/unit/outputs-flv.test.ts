import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FlvTagReader } from '../../src/outputs/flv.js';
import { HttpOutputProber } from '../../src/outputs/prober.js';
import type { OutputTarget } from '../../src/outputs/types.js';
import { audioTag, flvHeader, flvStream, flvTag, liveFlv, startCdn, text, videoTag, type TestCdn } from './outputs-helpers.js';

const TOKEN = 'SECRETTOKEN123';
const WINDOW_MS = 600;

let cdn: TestCdn;
let prober: HttpOutputProber;

beforeAll(async () => {
  cdn = await startCdn();
  prober = new HttpOutputProber({ limits: { flv: { timeoutMs: 3000, flvWindowMs: WINDOW_MS } } });
});
afterAll(async () => {
  await prober.close();
  await cdn.close();
});
afterEach(() => {
  cdn.routes.clear();
  cdn.requests.length = 0;
  cdn.closedAt.clear();
});

function target(path: string): OutputTarget {
  return { url: `${cdn.url}${path}?token=${TOKEN}`, kind: 'flv', intervalSeconds: 15 };
}

describe('HTTP-FLV prober', () => {
  it('a live stream with advancing audio and video and a keyframe is up, its bitrate measured over the window, and the stream is closed after it', async () => {
    cdn.routes.set('/live.flv', liveFlv());
    const t0 = performance.now();
    const nowMs = Date.now();
    const { result, memory } = await prober.probe(target('/live.flv'), null, nowMs);
    const elapsed = performance.now() - t0;
    expect(result).toMatchObject({ reached: true, up: true, reason: null, targetDurationSeconds: null });
    expect(memory).toBeNull();
    // ~ (2000 + 15) bytes every 40 ms and 215 every 20 ms ≈ 490 kbit/s; loose bounds for a loaded machine.
    expect(result.bitrateBps).toBeGreaterThan(100_000);
    expect(result.bitrateBps).toBeLessThan(2_000_000);
    expect(result.firstByteSeconds).toBeGreaterThan(0);
    expect(result.mediaAdvancedAtMs).toBeGreaterThanOrEqual(nowMs);
    expect(result.mediaAdvancedAtMs).toBeLessThanOrEqual(nowMs + elapsed);
    expect(elapsed).toBeGreaterThanOrEqual(WINDOW_MS - 50);
    expect(elapsed).toBeLessThan(WINDOW_MS + 1000);
    // The server saw its response closed by the client at the end of the window.
    await expect.poll(() => cdn.closedAt.has('/live.flv'), { timeout: 2000 }).toBe(true);
    expect(result.detail).not.toContain(TOKEN);
  });

  it('an audio-only stream needs no keyframe to be up', async () => {
    cdn.routes.set('/audio.flv', liveFlv({ video: false }));
    expect((await prober.probe(target('/audio.flv'), null, Date.now())).result).toMatchObject({ up: true, reason: null });
  });

  it('a header and then nothing is no_media', async () => {
    cdn.routes.set('/header.flv', (_q, res) => void res.writeHead(200).write(flvHeader()));
    const t0 = performance.now();
    const { result } = await prober.probe(target('/header.flv'), null, Date.now());
    expect(result).toMatchObject({ reached: true, up: false, reason: 'no_media' });
    expect(performance.now() - t0).toBeLessThan(WINDOW_MS + 1000);
  });

  it('tags whose timestamps do not advance are no_media', async () => {
    cdn.routes.set('/frozen.flv', liveFlv({ frozen: true }));
    expect((await prober.probe(target('/frozen.flv'), null, Date.now())).result).toMatchObject({ up: false, reason: 'no_media' });
  });

  it('video tags without a keyframe in the window are no_keyframe', async () => {
    cdn.routes.set('/nokey.flv', liveFlv({ keyframes: false }));
    expect((await prober.probe(target('/nokey.flv'), null, Date.now())).result).toMatchObject({ up: false, reason: 'no_keyframe' });
  });

  it('bytes that are not FLV are bad_flv', async () => {
    cdn.routes.set('/html.flv', text('<html><body>not a stream</body></html>'));
    expect((await prober.probe(target('/html.flv'), null, Date.now())).result).toMatchObject({ reached: true, up: false, reason: 'bad_flv' });
  });

  it('a valid header followed by garbage tags is bad_flv, and reading stops at the garbage', async () => {
    cdn.routes.set('/garbage.flv', (_q, res) => {
      res.writeHead(200).write(Buffer.concat([flvHeader(), Buffer.alloc(64, 0x5a)]));
    });
    const t0 = performance.now();
    expect((await prober.probe(target('/garbage.flv'), null, Date.now())).result).toMatchObject({ reason: 'bad_flv' });
    expect(performance.now() - t0).toBeLessThan(WINDOW_MS);
  });

  it.each([404, 410])('%i is not_found', async (status) => {
    cdn.routes.set('/gone.flv', text('gone', status));
    expect((await prober.probe(target('/gone.flv'), null, Date.now())).result).toMatchObject({ reached: true, up: false, reason: 'not_found' });
  });

  it('403 is http_status', async () => {
    cdn.routes.set('/denied.flv', text('denied', 403));
    expect((await prober.probe(target('/denied.flv'), null, Date.now())).result).toMatchObject({ reason: 'http_status' });
  });
});

describe('FLV tag reader', () => {
  it('counts audio, video, script tags and keyframes of a stream, and the timestamps advance', () => {
    const r = new FlvTagReader();
    expect(r.push(flvStream(4000))).toBe(true);
    expect(r.error).toBeNull();
    expect(r.counts).toMatchObject({ script: 1, video: 100, audio: 200, keyframes: 2, firstTimestampMs: 0, lastTimestampMs: 3980 });
    expect(r.counts.advancing).toBeGreaterThan(190);
  });

  it('reads extended timestamps (above 2^24 ms) as advancing', () => {
    const r = new FlvTagReader();
    r.push(Buffer.concat([flvHeader(true, false), audioTag(0xfffff0), audioTag(0x1000010)]));
    expect(r.counts).toMatchObject({ audio: 2, advancing: 1, lastTimestampMs: 0x1000010 });
  });

  it('refuses a tag type that FLV does not have, a wrong PreviousTagSize and a non-zero StreamID', () => {
    const bad1 = new FlvTagReader();
    expect(bad1.push(Buffer.concat([flvHeader(), flvTag(8, 0, Buffer.alloc(4)).fill(7, 0, 1)]))).toBe(false);
    const bad2 = new FlvTagReader();
    const tag = audioTag(0);
    tag.writeUInt32BE(999, tag.length - 4);
    expect(bad2.push(Buffer.concat([flvHeader(), tag, audioTag(20)]))).toBe(false);
    expect(bad2.error).toMatch(/PreviousTagSize 999/);
    const bad3 = new FlvTagReader();
    const tag3 = videoTag(0, true, 10);
    tag3[10] = 1;
    expect(bad3.push(Buffer.concat([flvHeader(), tag3]))).toBe(false);
  });
});
