import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactUrl } from '../../src/outputs/http-fetch.js';
import { HttpOutputProber } from '../../src/outputs/prober.js';
import { OUTPUT_FAILURE_REASONS, type HlsMemory, type OutputFailureReason, type OutputKind } from '../../src/outputs/types.js';
import { flvHeader, liveFlv, mediaPlaylist, ranged, startCdn, startRaw, text, tsBytes, type TestCdn } from './outputs-helpers.js';

/**
 * Every reason of the fixed set, produced by the case it is for, through the prober as the part
 * calls it; and in none of their details the query string the URL carried (a CDN token).
 */

const TOKEN = 'tok3n-SECRET-42';
const NOW = Date.parse('2026-12-02T12:00:00Z');

let cdn: TestCdn;
let silent: { url: string; close(): Promise<void> };
let prober: HttpOutputProber;

interface Case {
  kind: OutputKind;
  path: string;
  memory?: HlsMemory;
  /** Against the silent server instead of the CDN. */
  silent?: boolean;
}

const MEM: HlsMemory = { mediaSequence: 100, lastSegmentUri: 'seg/104.ts', segmentCount: 5, advancedAtMs: NOW - 60_000 };

const CASES: Record<OutputFailureReason, Case> = {
  unreachable: { kind: 'hls', path: '/x.m3u8', silent: true },
  timeout: { kind: 'hls', path: '/slow.m3u8' },
  not_found: { kind: 'hls', path: '/missing.m3u8' },
  http_status: { kind: 'flv', path: '/forbidden.flv' },
  redirect: { kind: 'hls', path: '/loop.m3u8' },
  too_large: { kind: 'hls', path: '/huge.m3u8' },
  bad_playlist: { kind: 'hls', path: '/html.m3u8' },
  endlist: { kind: 'hls', path: '/ended.m3u8' },
  stale: { kind: 'hls', path: '/live.m3u8', memory: MEM },
  regression: { kind: 'hls', path: '/live.m3u8', memory: { ...MEM, mediaSequence: 200 } },
  bad_segment: { kind: 'hls', path: '/badseg.m3u8' },
  bad_flv: { kind: 'flv', path: '/html.flv' },
  no_media: { kind: 'flv', path: '/header-only.flv' },
  no_keyframe: { kind: 'flv', path: '/nokey.flv' },
};

beforeAll(async () => {
  cdn = await startCdn();
  silent = await startRaw(() => undefined);
  prober = new HttpOutputProber({
    limits: { hls: { timeoutMs: 1000, maxBytes: 64 * 1024 }, flv: { timeoutMs: 2000, flvWindowMs: 500 } },
  });
  const r = cdn.routes;
  r.set('/slow.m3u8', (_q, res) => {
    res.writeHead(200).write('#EXTM3U\n');
  });
  r.set('/forbidden.flv', text('no', 403));
  r.set('/loop.m3u8', (_q, res) => void res.writeHead(302, { location: `/loop.m3u8?token=${TOKEN}` }).end());
  r.set('/huge.m3u8', text(`#EXTM3U\n#EXT-X-TARGETDURATION:2\n${'#EXTINF:2,\nsegment.ts\n'.repeat(10_000)}`));
  r.set('/html.m3u8', text('<html>Sign in</html>'));
  r.set('/ended.m3u8', text(mediaPlaylist(100, 5, { endlist: true })));
  r.set('/live.m3u8', text(mediaPlaylist(100, 5)));
  r.set('/seg/104.ts', ranged(tsBytes(10_000)));
  r.set('/badseg.m3u8', text(mediaPlaylist(100, 5, { segQuery: `?token=${TOKEN}` }).replaceAll('seg/', 'missing/')));
  r.set('/html.flv', text('<html>Sign in</html>'));
  r.set('/header-only.flv', (_q, res) => void res.writeHead(200).write(flvHeader()));
  r.set('/nokey.flv', liveFlv({ keyframes: false }));
});
afterAll(async () => {
  await prober.close();
  await silent.close();
  await cdn.close();
});

describe('the fixed set of failure reasons', () => {
  it('has a case here for every reason', () => {
    expect(Object.keys(CASES).sort()).toEqual([...OUTPUT_FAILURE_REASONS].sort());
  });

  it.each(Object.entries(CASES))('%s is produced where it applies, without the query string in its detail', async (reason, c) => {
    const base = c.silent ? silent.url : cdn.url;
    const { result } = await prober.probe({ url: `${base}${c.path}?token=${TOKEN}`, kind: c.kind, intervalSeconds: 15 }, c.memory ?? null, NOW);
    expect(result.reason).toBe(reason);
    expect(result.up).toBe(false);
    expect(result.reached).toBe(reason !== 'unreachable');
    expect(result.detail.length).toBeGreaterThan(0);
    expect(result.detail).not.toContain(TOKEN);
    expect(result.detail).not.toContain('token=');
  });
});

describe('how an output URL is shown', () => {
  it('drops the query string, the fragment and any credentials', () => {
    expect(redactUrl(`https://user:pa55@cdn.example:8443/live/a.m3u8?token=${TOKEN}#t=1`)).toBe('https://cdn.example:8443/live/a.m3u8');
    expect(redactUrl('not a url')).toBe('(unparseable URL)');
  });
});
