import { X509Certificate } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HttpFetcher } from '../../src/outputs/http-fetch.js';
import { HttpOutputProber } from '../../src/outputs/prober.js';
import type { OutputTarget } from '../../src/outputs/types.js';
import { makePki, removePkis } from '../helpers/certs.js';
import { flvStream, mediaPlaylist, ranged, startCdn, startRaw, text, tsBytes, type TestCdn } from './outputs-helpers.js';

/**
 * A hostile CDN costs bounded memory and time: every probe ends within its time limit (plus slack
 * for a loaded 2-core machine) and never reads more than its byte cap.
 */

const TOKEN = 'SECRETTOKEN123';
const TIMEOUT_MS = 1500;
const WINDOW_MS = 800;
const HLS_CAP = 256 * 1024;
const FLV_CAP = 128 * 1024;
const SLACK_MS = 1000;

let cdn: TestCdn;
let prober: HttpOutputProber;
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  cdn = await startCdn();
  prober = new HttpOutputProber({
    limits: { hls: { timeoutMs: TIMEOUT_MS, maxBytes: HLS_CAP }, flv: { timeoutMs: TIMEOUT_MS, flvWindowMs: WINDOW_MS, maxBytes: FLV_CAP } },
  });
});
afterAll(async () => {
  await prober.close();
  await cdn.close();
  removePkis();
});
afterEach(async () => {
  cdn.routes.clear();
  cdn.requests.length = 0;
  for (const stop of stops.splice(0)) await stop();
});

const hls = (url: string): OutputTarget => ({ url: `${url}?token=${TOKEN}`, kind: 'hls', intervalSeconds: 15 });
const flv = (url: string): OutputTarget => ({ url: `${url}?token=${TOKEN}`, kind: 'flv', intervalSeconds: 15 });

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await p;
  return { value, ms: performance.now() - t0 };
}

/** Writes `chunk` as fast as the socket drains, until the client goes. */
function endless(res: import('node:http').ServerResponse, chunk: Buffer): void {
  let open = true;
  res.on('close', () => (open = false));
  const pump = (): void => {
    while (open && res.write(chunk));
    if (open) res.once('drain', pump);
  };
  pump();
}

/** One byte a second, until the client goes. */
function trickle(write: (b: Buffer) => void, onClose: (f: () => void) => void, bytes: Buffer): void {
  let i = 0;
  const timer = setInterval(() => write(bytes.subarray(i % bytes.length, (i++ % bytes.length) + 1)), 1000);
  write(bytes.subarray(0, 1));
  i = 1;
  onClose(() => clearInterval(timer));
}

describe('a hostile CDN costs bounded time and bytes', () => {
  it('an endless playlist is too_large, read no further than the cap, in bounded time', async () => {
    cdn.routes.set('/endless.m3u8', (_q, res) => {
      res.writeHead(200);
      res.write('#EXTM3U\n#EXT-X-TARGETDURATION:2\n');
      endless(res, Buffer.from('#EXTINF:2,\nsegment.ts\n'.repeat(200)));
    });
    const { value, ms } = await timed(prober.probe(hls(`${cdn.url}/endless.m3u8`), null, Date.now()));
    expect(value.result).toMatchObject({ reached: true, up: false, reason: 'too_large' });
    expect(value.result.detail).not.toContain(TOKEN);
    expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });

  it('a 10 MB playlist is too_large after at most the cap', async () => {
    const big = Buffer.from(`#EXTM3U\n#EXT-X-TARGETDURATION:2\n${'#EXTINF:2,\nsegment.ts\n'.repeat(10_000_000 / 22)}`);
    cdn.routes.set('/big.m3u8', (_q, res) => void res.writeHead(200, { 'content-length': big.length }).end(big));
    const fetcher = new HttpFetcher({ connectionsPerHost: 2, streamConnectionsPerHost: 2, connectTimeoutMs: TIMEOUT_MS });
    try {
      const probe = fetcher.startProbe({ timeoutMs: TIMEOUT_MS, maxBytes: HLS_CAP, maxRedirects: 3, flvWindowMs: WINDOW_MS }, undefined);
      const { value, ms } = await timed(probe.get(`${cdn.url}/big.m3u8`));
      probe.end();
      expect(value).toMatchObject({ ok: false, failure: 'too_large' });
      expect(probe.bytesRead).toBeLessThanOrEqual(HLS_CAP);
      expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
    } finally {
      await fetcher.close();
    }
    expect((await prober.probe(hls(`${cdn.url}/big.m3u8`), null, Date.now())).result.reason).toBe('too_large');
  });

  it('a segment server that ignores Range and sends 5 MB reads only the head it asked for, and the bitrate comes from Content-Length', async () => {
    cdn.routes.set('/live.m3u8', text(mediaPlaylist(1, 1)));
    const seg = tsBytes(5_000_000);
    cdn.routes.set('/seg/1.ts', (_q, res) => void res.writeHead(200, { 'content-length': seg.length }).end(seg));
    const { value, ms } = await timed(prober.probe(hls(`${cdn.url}/live.m3u8`), null, Date.now()));
    expect(value.result).toMatchObject({ up: true, bitrateBps: (5_000_000 * 8) / 2 });
    expect(ms).toBeLessThan(TIMEOUT_MS);
  });

  it('an endless FLV at full speed is read up to the cap and judged on it', async () => {
    const stream = flvStream(60_000);
    cdn.routes.set('/flood.flv', (_q, res) => {
      res.writeHead(200);
      endless(res, stream);
    });
    const { value, ms } = await timed(prober.probe(flv(`${cdn.url}/flood.flv`), null, Date.now()));
    expect(value.result).toMatchObject({ reached: true, up: true });
    const bytes = Number(/; (\d+) bytes$/.exec(value.result.detail)?.[1]);
    expect(bytes).toBeGreaterThan(0);
    expect(bytes).toBeLessThanOrEqual(FLV_CAP);
    expect(ms).toBeLessThan(WINDOW_MS + SLACK_MS);
  });

  it('a playlist sent one byte a second (slowloris) is a timeout at the probe limit', async () => {
    cdn.routes.set('/slow.m3u8', (_q, res) => {
      res.writeHead(200);
      trickle(
        (b) => res.write(b),
        (f) => res.on('close', f),
        Buffer.from(mediaPlaylist(1)),
      );
    });
    const { value, ms } = await timed(prober.probe(hls(`${cdn.url}/slow.m3u8`), null, Date.now()));
    expect(value.result).toMatchObject({ reached: true, up: false, reason: 'timeout' });
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });

  it('response headers sent one byte a second are unreachable at the probe limit', async () => {
    const raw = await startRaw((s) =>
      trickle(
        (b) => s.write(b),
        (f) => s.on('close', f),
        Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n'),
      ),
    );
    stops.push(raw.close);
    const { value, ms } = await timed(prober.probe(hls(`${raw.url}/live.m3u8`), null, Date.now()));
    expect(value.result).toMatchObject({ reached: false, reason: 'unreachable' });
    expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });

  it('an FLV sent one byte a second ends with the window as no_media', async () => {
    cdn.routes.set('/slow.flv', (_q, res) => {
      res.writeHead(200);
      trickle(
        (b) => res.write(b),
        (f) => res.on('close', f),
        flvStream(1000),
      );
    });
    const { value, ms } = await timed(prober.probe(flv(`${cdn.url}/slow.flv`), null, Date.now()));
    expect(value.result).toMatchObject({ reached: true, up: false, reason: 'no_media' });
    expect(ms).toBeLessThan(WINDOW_MS + SLACK_MS);
  });

  it.each(['hls', 'flv'] as const)('a server that accepts and never answers is unreachable (%s) at the probe limit', async (kind) => {
    const raw = await startRaw(() => undefined);
    stops.push(raw.close);
    const t = kind === 'hls' ? hls(`${raw.url}/x.m3u8`) : flv(`${raw.url}/x.flv`);
    const { value, ms } = await timed(prober.probe(t, null, Date.now()));
    expect(value.result).toMatchObject({ reached: false, up: false, reason: 'unreachable' });
    expect(value.result.detail).not.toContain(TOKEN);
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });

  it('endless response headers are too_large, not buffered', async () => {
    const raw = await startRaw((s) => {
      s.write('HTTP/1.1 200 OK\r\nX-Junk: ');
      const junk = Buffer.alloc(16 * 1024, 0x61);
      const pump = (): void => {
        while (!s.destroyed && s.write(junk));
        if (!s.destroyed) s.once('drain', pump);
      };
      pump();
    });
    stops.push(raw.close);
    const { value, ms } = await timed(prober.probe(hls(`${raw.url}/x.m3u8`), null, Date.now()));
    expect(value.result).toMatchObject({ reached: true, up: false, reason: 'too_large' });
    expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });

  it('a redirect chain with a fresh query each hop stops at 3 redirects', async () => {
    let n = 0;
    cdn.routes.set('/chain.m3u8', (_q, res) => void res.writeHead(302, { location: `/chain.m3u8?n=${n++}` }).end());
    const { value } = await timed(prober.probe(hls(`${cdn.url}/chain.m3u8`), null, Date.now()));
    expect(value.result).toMatchObject({ reason: 'redirect' });
    expect(cdn.requests.length).toBe(4);
  });

  it('concurrent probes of one host open at most connectionsPerHost connections', async () => {
    let open = 0;
    const raw = await startRaw((s) => {
      open++;
      s.on('close', () => open--);
    });
    stops.push(raw.close);
    const small = new HttpOutputProber({ connectionsPerHost: 2, limits: { hls: { timeoutMs: 1500 } } });
    try {
      const all = Promise.all(Array.from({ length: 6 }, () => small.probe(hls(`${raw.url}/x.m3u8`), null, Date.now())));
      // Halfway through the probes' time: six are waiting, two connections are open.
      await new Promise((r) => setTimeout(r, 700));
      expect(open).toBe(2);
      const results = await all;
      expect(results.every((r) => r.result.reason === 'unreachable')).toBe(true);
    } finally {
      await small.close();
    }
  });
});

describe('HTTPS outputs', () => {
  it("report the server certificate's notAfter, and a certificate that does not verify is unreachable", async () => {
    const pki = makePki();
    const leaf = pki.issue('cdn', 'server');
    const tls = await startCdn({ tls: { cert: leaf.certPem, key: leaf.keyPem } });
    stops.push(tls.close);
    tls.routes.set('/live.m3u8', text(mediaPlaylist(1, 2)));
    tls.routes.set('/seg/2.ts', ranged(tsBytes(1000)));
    const trusting = new HttpOutputProber({ tls: { ca: pki.ca.pem } });
    try {
      const { result } = await trusting.probe(hls(`${tls.url}/live.m3u8`), null, Date.now());
      expect(result).toMatchObject({ up: true, tlsNotAfterMs: Date.parse(new X509Certificate(leaf.certPem).validTo) });
    } finally {
      await trusting.close();
    }
    const { result } = await prober.probe(hls(`${tls.url}/live.m3u8`), null, Date.now());
    expect(result).toMatchObject({ reached: false, reason: 'unreachable', tlsNotAfterMs: null });
    expect(result.detail).not.toContain(TOKEN);
  });
});
