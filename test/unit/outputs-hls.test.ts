import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Variant } from 'hls-parser/types.js';
import { judgeFreshness, looksLikeMedia, pickVariant, segmentSize } from '../../src/outputs/hls.js';
import { HttpOutputProber } from '../../src/outputs/prober.js';
import type { HlsMemory, OutputTarget } from '../../src/outputs/types.js';
import { mediaPlaylist, ranged, startCdn, text, tsBytes, type TestCdn } from './outputs-helpers.js';

const TOKEN = 'SECRETTOKEN123';
const NOW = Date.parse('2026-12-02T12:00:00Z');

let cdn: TestCdn;
let prober: HttpOutputProber;

beforeAll(async () => {
  cdn = await startCdn();
  prober = new HttpOutputProber({ limits: { hls: { timeoutMs: 2000 } } });
});
afterAll(async () => {
  await prober.close();
  await cdn.close();
});
afterEach(() => {
  cdn.routes.clear();
  cdn.requests.length = 0;
});

function target(path: string, extra: Partial<OutputTarget> = {}): OutputTarget {
  return { url: `${cdn.url}${path}?token=${TOKEN}`, kind: 'hls', intervalSeconds: 15, ...extra };
}

/** A live output at /live.m3u8 whose segments are 50 000-byte TS. */
function serveLive(seq: number, count = 5, opts: Parameters<typeof mediaPlaylist>[2] = {}): void {
  cdn.routes.set('/live.m3u8', text(mediaPlaylist(seq, count, opts)));
  for (let i = seq; i < seq + count; i++) cdn.routes.set(`/seg/${i}.ts`, ranged(tsBytes(50_000)));
}

describe('HLS prober: up', () => {
  it('a first look at a valid live playlist whose newest segment is MPEG-TS is up, with bitrate, target duration and first byte', async () => {
    serveLive(100);
    const { result, memory } = await prober.probe(target('/live.m3u8'), null, NOW);
    expect(result).toMatchObject({ reached: true, up: true, reason: null, targetDurationSeconds: 2, mediaAdvancedAtMs: NOW, tlsNotAfterMs: null });
    expect(result.bitrateBps).toBe((50_000 * 8) / 2);
    expect(result.firstByteSeconds).toBeGreaterThan(0);
    expect(result.firstByteSeconds).toBeLessThan(2);
    expect(memory).toEqual({ mediaSequence: 100, lastSegmentUri: 'seg/104.ts', segmentCount: 5, advancedAtMs: NOW });
    // The newest segment, read with a ranged GET of its head.
    expect(cdn.requests.at(-1)).toMatchObject({ path: '/seg/104.ts', range: 'bytes=0-1023' });
  });

  it('an fMP4 segment (styp box at bytes 4–8) checks out as media', async () => {
    cdn.routes.set(
      '/fmp4.m3u8',
      text('#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:3\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:2,\n3.m4s\n'),
    );
    const seg = Buffer.alloc(4000);
    seg.writeUInt32BE(24, 0);
    seg.write('styp', 4, 'latin1');
    cdn.routes.set('/3.m4s', ranged(seg));
    const { result } = await prober.probe(target('/fmp4.m3u8'), null, NOW);
    expect(result).toMatchObject({ up: true, reason: null, bitrateBps: (4000 * 8) / 2 });
  });

  it('a segment with EXT-X-BYTERANGE is read within its range, and its bitrate is the range length ÷ its duration', async () => {
    cdn.routes.set(
      '/br.m3u8',
      text(
        '#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:2,\n#EXT-X-BYTERANGE:30080@0\nall.ts\n#EXTINF:2,\n#EXT-X-BYTERANGE:39856@30080\nall.ts\n',
      ),
    );
    cdn.routes.set('/all.ts', ranged(tsBytes(70_000)));
    const { result } = await prober.probe(target('/br.m3u8'), null, NOW);
    expect(result).toMatchObject({ up: true, bitrateBps: (39_856 * 8) / 2 });
    expect(cdn.requests.at(-1)).toMatchObject({ path: '/all.ts', range: 'bytes=30080-31103' });
  });

  it('packed audio (an ID3 header) checks out as media', async () => {
    cdn.routes.set('/aac.m3u8', text('#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:2,\n1.aac\n'));
    cdn.routes.set('/1.aac', ranged(Buffer.concat([Buffer.from('ID3\x04\x00', 'latin1'), Buffer.alloc(3000)])));
    expect((await prober.probe(target('/aac.m3u8'), null, NOW)).result).toMatchObject({ up: true });
  });

  it('a master playlist is followed to its lowest-bandwidth variant, or to the one asked for', async () => {
    cdn.routes.set('/m/master.m3u8', text('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1500000\nhigh.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=400000\nlow.m3u8\n'));
    cdn.routes.set('/m/low.m3u8', text(mediaPlaylist(7, 3)));
    cdn.routes.set('/m/high.m3u8', text(mediaPlaylist(7, 3)));
    cdn.routes.set('/m/seg/9.ts', ranged(tsBytes(10_000)));
    const low = await prober.probe(target('/m/master.m3u8'), null, NOW);
    expect(low.result).toMatchObject({ up: true });
    expect(cdn.requests.map((r) => r.path)).toEqual(['/m/master.m3u8', '/m/low.m3u8', '/m/seg/9.ts']);
    cdn.requests.length = 0;
    const high = await prober.probe(target('/m/master.m3u8', { variantBandwidth: 1_500_000 }), null, NOW);
    expect(high.result).toMatchObject({ up: true });
    expect(cdn.requests.map((r) => r.path)).toContain('/m/high.m3u8');
  });

  it('a playlist that advanced since the last probe is up, its advance dated one target duration back', async () => {
    serveLive(101);
    const before: HlsMemory = { mediaSequence: 100, lastSegmentUri: 'seg/104.ts', segmentCount: 5, advancedAtMs: NOW - 60_000 };
    const { result, memory } = await prober.probe(target('/live.m3u8'), before, NOW);
    // Dated one target duration (2 s) back: the segment was listed at most that long ago.
    expect(result).toMatchObject({ up: true, mediaAdvancedAtMs: NOW - 2000 });
    expect(memory).toMatchObject({ mediaSequence: 101, advancedAtMs: NOW - 2000 });
  });

  it('an unchanged playlist within max(3 × target duration, interval) is still up, and its media age runs from the last advance', async () => {
    serveLive(100);
    const before: HlsMemory = { mediaSequence: 100, lastSegmentUri: 'seg/104.ts', segmentCount: 5, advancedAtMs: NOW - 14_000 };
    const { result, memory } = await prober.probe(target('/live.m3u8'), before, NOW);
    expect(result).toMatchObject({ up: true, mediaAdvancedAtMs: NOW - 14_000 });
    expect(memory?.advancedAtMs).toBe(NOW - 14_000);
  });

  it('segment URIs that carry a fresh token each time do not count as advancing', async () => {
    serveLive(100, 5, { segQuery: '?sig=abc' });
    const first = await prober.probe(target('/live.m3u8'), null, NOW - 20_000);
    serveLive(100, 5, { segQuery: '?sig=xyz' });
    const second = await prober.probe(target('/live.m3u8'), first.memory, NOW);
    expect(second.result).toMatchObject({ up: false, reason: 'stale' });
  });
});

describe('HLS prober: down, with the reason', () => {
  it('a playlist unchanged for longer than max(3 × target duration, interval) is stale', async () => {
    serveLive(100);
    const before: HlsMemory = { mediaSequence: 100, lastSegmentUri: 'seg/104.ts', segmentCount: 5, advancedAtMs: NOW - 16_000 };
    const { result, memory } = await prober.probe(target('/live.m3u8'), before, NOW);
    expect(result).toMatchObject({ reached: true, up: false, reason: 'stale', mediaAdvancedAtMs: NOW - 16_000, targetDurationSeconds: 2 });
    expect(memory?.advancedAtMs).toBe(NOW - 16_000);
  });

  it('with a target duration of 10 s the window is 30 s, not the 15 s interval', async () => {
    serveLive(100, 5, { target: 10 });
    const before: HlsMemory = { mediaSequence: 100, lastSegmentUri: 'seg/104.ts', segmentCount: 5, advancedAtMs: NOW - 25_000 };
    expect((await prober.probe(target('/live.m3u8'), before, NOW)).result.up).toBe(true);
    expect((await prober.probe(target('/live.m3u8'), { ...before, advancedAtMs: NOW - 31_000 }, NOW)).result.reason).toBe('stale');
  });

  it('a media sequence that went back is a regression', async () => {
    serveLive(90);
    const before: HlsMemory = { mediaSequence: 100, lastSegmentUri: 'seg/104.ts', segmentCount: 5, advancedAtMs: NOW - 2000 };
    const { result } = await prober.probe(target('/live.m3u8'), before, NOW);
    expect(result).toMatchObject({ reached: true, up: false, reason: 'regression' });
  });

  it('a playlist that lost segments without advancing is a regression', async () => {
    serveLive(100, 3);
    const before: HlsMemory = { mediaSequence: 100, lastSegmentUri: 'seg/104.ts', segmentCount: 5, advancedAtMs: NOW - 2000 };
    const { result } = await prober.probe(target('/live.m3u8'), before, NOW);
    expect(result).toMatchObject({ up: false, reason: 'regression' });
  });

  it('EXT-X-ENDLIST is endlist, and no memory is carried into a next broadcast', async () => {
    serveLive(100, 5, { endlist: true });
    const { result, memory } = await prober.probe(target('/live.m3u8'), null, NOW);
    expect(result).toMatchObject({ reached: true, up: false, reason: 'endlist', targetDurationSeconds: 2 });
    expect(memory).toBeNull();
  });

  it.each([404, 410])('a playlist answered %i is not_found', async (status) => {
    cdn.routes.set('/gone.m3u8', text('gone', status));
    const { result, memory } = await prober.probe(target('/gone.m3u8'), null, NOW);
    expect(result).toMatchObject({ reached: true, up: false, reason: 'not_found' });
    expect(memory).toBeNull();
  });

  it('a playlist answered 503 is http_status', async () => {
    cdn.routes.set('/busy.m3u8', text('busy', 503));
    expect((await prober.probe(target('/busy.m3u8'), null, NOW)).result).toMatchObject({ reached: true, up: false, reason: 'http_status' });
  });

  it('a variant playlist answered 404 is not_found', async () => {
    cdn.routes.set('/v/master.m3u8', text('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=400000\nlow.m3u8\n'));
    expect((await prober.probe(target('/v/master.m3u8'), null, NOW)).result).toMatchObject({ up: false, reason: 'not_found' });
  });

  it.each([
    ['HTML', '<html><body>Login</body></html>'],
    ['no target duration', '#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:2,\n1.ts\n'],
    ['a live playlist without segments', '#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n'],
    ['a master playlist without variants', '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=400000\n'],
  ])('%s is bad_playlist', async (_name, body) => {
    cdn.routes.set('/bad.m3u8', text(body));
    const { result } = await prober.probe(target('/bad.m3u8'), null, NOW);
    expect(result).toMatchObject({ reached: true, up: false, reason: 'bad_playlist' });
  });

  it('a master playlist whose variant is itself a master playlist is bad_playlist', async () => {
    cdn.routes.set('/loop/master.m3u8', text('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=400000\nmaster.m3u8\n'));
    expect((await prober.probe(target('/loop/master.m3u8'), null, NOW)).result.reason).toBe('bad_playlist');
  });

  it('a newest segment that is missing (404) is bad_segment', async () => {
    serveLive(100);
    cdn.routes.delete('/seg/104.ts');
    const { result, memory } = await prober.probe(target('/live.m3u8'), null, NOW);
    expect(result).toMatchObject({ reached: true, up: false, reason: 'bad_segment' });
    // The playlist was read: its memory is kept for the next probe.
    expect(memory?.mediaSequence).toBe(100);
  });

  it('a newest segment that does not start like media (an HTML error page) is bad_segment', async () => {
    serveLive(100);
    cdn.routes.set('/seg/104.ts', ranged(Buffer.from('<html>Access denied</html>'.padEnd(2000, ' '))));
    expect((await prober.probe(target('/live.m3u8'), null, NOW)).result).toMatchObject({ up: false, reason: 'bad_segment' });
  });

  it('a newest segment answered 500 is http_status', async () => {
    serveLive(100);
    cdn.routes.set('/seg/104.ts', text('oops', 500));
    expect((await prober.probe(target('/live.m3u8'), null, NOW)).result).toMatchObject({ up: false, reason: 'http_status' });
  });

  it('a CDN that refuses connections is unreachable (not reached), and the memory of the last probe is kept', async () => {
    const closed = await startCdn();
    const url = `${closed.url}/live.m3u8?token=${TOKEN}`;
    await closed.close();
    const before: HlsMemory = { mediaSequence: 100, lastSegmentUri: 'seg/104.ts', segmentCount: 5, advancedAtMs: NOW - 2000 };
    const { result, memory } = await prober.probe({ url, kind: 'hls', intervalSeconds: 15 }, before, NOW);
    expect(result).toMatchObject({ reached: false, up: false, reason: 'unreachable' });
    expect(memory).toBe(before);
    expect(result.detail).not.toContain(TOKEN);
  });

  it('a host that does not resolve is unreachable', async () => {
    const { result } = await prober.probe({ url: `http://no-such-host.invalid/live.m3u8?token=${TOKEN}`, kind: 'hls', intervalSeconds: 15 }, null, NOW);
    expect(result).toMatchObject({ reached: false, reason: 'unreachable' });
    expect(result.detail).not.toContain(TOKEN);
  });
});

describe('HLS prober: redirects', () => {
  it('a redirect to the playlist is followed', async () => {
    serveLive(100);
    cdn.routes.set('/r.m3u8', (_q, res) => void res.writeHead(302, { location: `/live.m3u8?token=${TOKEN}` }).end());
    expect((await prober.probe(target('/r.m3u8'), null, NOW)).result).toMatchObject({ up: true });
  });

  it('a redirect loop is redirect, without the query string in the detail', async () => {
    cdn.routes.set('/a.m3u8', (_q, res) => void res.writeHead(302, { location: `/b.m3u8?token=${TOKEN}` }).end());
    cdn.routes.set('/b.m3u8', (_q, res) => void res.writeHead(302, { location: `/a.m3u8?token=${TOKEN}` }).end());
    const { result } = await prober.probe(target('/a.m3u8'), null, NOW);
    expect(result).toMatchObject({ reached: true, up: false, reason: 'redirect' });
    expect(result.detail).toMatch(/loop/);
    expect(result.detail).not.toContain(TOKEN);
  });

  it('more than 3 redirects is redirect', async () => {
    for (let i = 0; i < 6; i++) cdn.routes.set(`/hop${i}.m3u8`, (_q, res) => void res.writeHead(301, { location: `/hop${i + 1}.m3u8` }).end());
    const { result } = await prober.probe(target('/hop0.m3u8'), null, NOW);
    expect(result).toMatchObject({ reason: 'redirect' });
    expect(result.detail).toMatch(/more than 3 redirects/);
    expect(cdn.requests.map((r) => r.path)).toEqual(['/hop0.m3u8', '/hop1.m3u8', '/hop2.m3u8', '/hop3.m3u8']);
  });

  it('a prober configured for more than 3 redirects still follows at most 3', async () => {
    for (let i = 0; i < 6; i++) cdn.routes.set(`/hop${i}.m3u8`, (_q, res) => void res.writeHead(301, { location: `/hop${i + 1}.m3u8` }).end());
    const generous = new HttpOutputProber({ limits: { hls: { maxRedirects: 10 } } });
    try {
      expect(generous.limits('hls').maxRedirects).toBe(3);
      expect((await generous.probe(target('/hop0.m3u8'), null, NOW)).result.reason).toBe('redirect');
      expect(cdn.requests).toHaveLength(4);
    } finally {
      await generous.close();
    }
  });

  it('a redirect to a host that is not allowed is refused without contacting it', async () => {
    cdn.routes.set('/out.m3u8', (_q, res) => void res.writeHead(302, { location: `http://localhost:${cdn.port}/live.m3u8` }).end());
    serveLive(100);
    const { result } = await prober.probe(target('/out.m3u8', { allowedHosts: new Set(['127.0.0.1']) }), null, NOW);
    expect(result).toMatchObject({ reached: true, up: false, reason: 'redirect' });
    expect(result.detail).toMatch(/not an allowed host/);
    expect(cdn.requests.map((r) => r.path)).toEqual(['/out.m3u8']);
  });
});

describe('HLS rules', () => {
  const seen = { mediaSequence: 100, lastSegmentUri: 'seg/104.ts', segmentCount: 5, targetDurationSeconds: 2 };
  const mem: HlsMemory = { mediaSequence: 100, lastSegmentUri: 'seg/104.ts', segmentCount: 5, advancedAtMs: NOW - 15_000 };

  it('an age of exactly the window is still fresh; a millisecond more is stale', () => {
    expect(judgeFreshness(seen, mem, 15, NOW).reason).toBeNull();
    expect(judgeFreshness(seen, mem, 15, NOW + 1).reason).toBe('stale');
  });

  it('a playlist that grew (more segments, same media sequence) advanced', () => {
    expect(judgeFreshness({ ...seen, segmentCount: 6, lastSegmentUri: 'seg/105.ts' }, mem, 15, NOW + 60_000)).toMatchObject({
      reason: null,
      advancedAtMs: NOW + 58_000,
    });
  });

  it('an advance is dated one target duration back, never before the advance already known', () => {
    const grown = { ...seen, mediaSequence: 101, lastSegmentUri: 'seg/105.ts' };
    expect(judgeFreshness(grown, mem, 15, NOW).advancedAtMs).toBe(NOW - 2000);
    expect(judgeFreshness(grown, { ...mem, advancedAtMs: NOW - 500 }, 15, NOW).advancedAtMs).toBe(NOW - 500);
  });

  it('the variant asked for is the nearest BANDWIDTH; I-frame-only variants are never followed', () => {
    const v = (bandwidth: number, isIFrameOnly = false): Variant => ({ uri: `${bandwidth}.m3u8`, bandwidth, isIFrameOnly }) as Variant;
    expect(pickVariant([v(1_500_000), v(400_000), v(100_000, true)], undefined)?.bandwidth).toBe(400_000);
    expect(pickVariant([v(1_500_000), v(400_000)], 1_400_000)?.bandwidth).toBe(1_500_000);
    expect(pickVariant([v(100_000, true)], undefined)).toBeNull();
  });

  it('the segment size comes from Content-Range, or Content-Length of a 200; an unknown total gives none', () => {
    expect(segmentSize(206, { 'content-range': 'bytes 0-1023/52000' })).toBe(52_000);
    expect(segmentSize(206, { 'content-range': 'bytes 0-1023/*' })).toBeNull();
    expect(segmentSize(200, { 'content-length': '9000' })).toBe(9000);
    expect(segmentSize(200, {})).toBeNull();
  });

  it('media starts with the MPEG-TS sync byte, an fMP4 box type at bytes 4–8, or ID3', () => {
    expect(looksLikeMedia(Buffer.from([0x47, 0, 0]))).toBe('MPEG-TS');
    expect(looksLikeMedia(Buffer.from('\0\0\0\x18moof', 'latin1'))).toBe('fMP4 (moof)');
    expect(looksLikeMedia(Buffer.from('ID3\x04', 'latin1'))).toBe('packed audio (ID3)');
    expect(looksLikeMedia(Buffer.from('<html>', 'latin1'))).toBeNull();
    expect(looksLikeMedia(Buffer.alloc(0))).toBeNull();
  });
});
