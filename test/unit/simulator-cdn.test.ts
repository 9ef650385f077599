import { readFileSync } from 'node:fs';
import { request, createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import HLS from 'hls-parser';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OUTPUT_FAULTS } from '../../simulator/cdn.js';
import { crc32Mpeg2, parseRange, segmentBytes, TS_PACKET_BYTES } from '../../simulator/hls.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../simulator/server.js';
import { control, FakeClock } from './simulator-helpers.js';

const APP = 515151;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

beforeAll(() => {
  // Strict: anything RFC 8216 forbids is an error, not a warning.
  HLS.setOptions({ strictMode: true });
});

let clock: FakeClock;

async function start(opts: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  clock = new FakeClock();
  const sim = await startSimulator({ apps: [{ appId: APP, secret: 'cdn-secret' }], clock, ...opts });
  cleanups.push(() => sim.close());
  return sim;
}

async function live(opts: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  const sim = await start(opts);
  sim.setStream('cam', { state: 'active', createTime: Math.floor(clock.wall / 1000) });
  return sim;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

async function media(url: string): Promise<HLS.types.MediaPlaylist> {
  const r = await get(url);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
  const p = HLS.parse(r.body.toString('utf8'));
  expect(p.isMasterPlaylist).toBe(false);
  return p as HLS.types.MediaPlaylist;
}

const put = (sim: Simulator, id: string, body: unknown): Promise<{ status: number; json: unknown }> =>
  control(sim.url, 'PUT', `/_sim/outputs/${id}`, JSON.stringify(body));

interface FlvTag {
  type: number;
  timestamp: number;
  data: Buffer;
}

/** Reads FLV as the spec lays it out; throws on anything that breaks it. Returns the whole tags and the bytes left over. */
function parseFlv(buf: Buffer): { tags: FlvTag[]; rest: number } {
  expect(buf.subarray(0, 3).toString('latin1')).toBe('FLV');
  expect(buf[3]).toBe(1);
  expect(buf[4]).toBe(0x05);
  expect(buf.readUInt32BE(5)).toBe(9);
  expect(buf.readUInt32BE(9)).toBe(0);
  const tags: FlvTag[] = [];
  let at = 13;
  while (at + 11 <= buf.length) {
    const type = buf[at]!;
    const size = buf.readUIntBE(at + 1, 3);
    if (at + 11 + size + 4 > buf.length) break;
    expect([8, 9, 18]).toContain(type);
    const timestamp = buf.readUIntBE(at + 4, 3) | (buf[at + 7]! << 24);
    expect(buf.readUIntBE(at + 8, 3)).toBe(0);
    expect(buf.readUInt32BE(at + 11 + size)).toBe(11 + size);
    tags.push({ type, timestamp, data: buf.subarray(at + 11, at + 11 + size) });
    at += 11 + size + 4;
  }
  return { tags, rest: buf.length - at };
}

interface FlvReader {
  status: number;
  bytes(): Buffer;
  ended: Promise<void>;
  waitFor(minBytes: number, ms?: number): Promise<void>;
  close(): void;
}

/** An HTTP-FLV client that keeps what it has read and lets the test stop reading. */
function openFlv(url: string): Promise<FlvReader> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let waiters: (() => void)[] = [];
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        const w = waiters;
        waiters = [];
        for (const f of w) f();
      });
      const ended = new Promise<void>((done) => {
        res.on('end', done);
        res.on('close', done);
        res.on('error', () => done());
      });
      const bytes = (): Buffer => Buffer.concat(chunks);
      resolve({
        status: res.statusCode ?? 0,
        bytes,
        ended,
        waitFor: async (min, ms = 5000) => {
          const deadline = Date.now() + ms;
          while (bytes().length < min) {
            if (Date.now() > deadline) throw new Error(`only ${bytes().length} of ${min} bytes`);
            await new Promise<void>((r) => {
              waiters.push(r);
              setTimeout(r, 50);
            });
          }
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', (err) => reject(err));
    req.end();
    cleanups.push(() => void req.destroy());
  });
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('simulator CDN: HLS', () => {
  it('serves a live media playlist a strict parser accepts: a window of 5 segments of the target duration, advancing with the clock', async () => {
    const sim = await live();
    const p = await media(`${sim.url}/cdn/hls/cam.m3u8`);
    expect(p.targetDuration).toBe(2);
    expect(p.endlist).toBe(false);
    expect(p.segments).toHaveLength(5);
    const seq = p.mediaSequenceBase!;
    // The newest segment is the last complete one: it ended at or before now.
    expect((seq + 5) * 2000).toBeLessThanOrEqual(clock.wall);
    expect((seq + 6) * 2000).toBeGreaterThan(clock.wall);
    expect(p.segments.map((s) => s.uri)).toEqual([0, 1, 2, 3, 4].map((i) => `cam/${seq + i}.ts`));
    expect(p.segments.every((s) => s.duration === 2)).toBe(true);
    clock.advance(2000);
    expect((await media(`${sim.url}/cdn/hls/cam.m3u8`)).mediaSequenceBase).toBe(seq + 1);
    clock.advance(10_000);
    expect((await media(`${sim.url}/cdn/hls/cam.m3u8?token=abc&expires=1`)).mediaSequenceBase).toBe(seq + 6);
  });

  it('serves a master playlist with two variants whose media playlists and segments resolve beside it', async () => {
    const sim = await live();
    const r = await get(`${sim.url}/cdn/hls/cam/master.m3u8`);
    expect(r.status).toBe(200);
    const m = HLS.parse(r.body.toString('utf8')) as HLS.types.MasterPlaylist;
    expect(m.isMasterPlaylist).toBe(true);
    expect(m.variants.map((v) => [v.uri, v.bandwidth])).toEqual([
      ['low.m3u8', 400_000],
      ['high.m3u8', 1_500_000],
    ]);
    for (const v of m.variants) {
      const variantUrl = new URL(v.uri, `${sim.url}/cdn/hls/cam/master.m3u8`);
      const p = await media(variantUrl.href);
      const last = p.segments.at(-1)!;
      const seg = await get(new URL(last.uri, variantUrl).href);
      expect(seg.status).toBe(200);
      expect(seg.body[0]).toBe(0x47);
    }
  });

  it('takes its target duration from hlsTargetDurationS', async () => {
    const sim = await live({ hlsTargetDurationS: 4 });
    const p = await media(`${sim.url}/cdn/hls/cam.m3u8`);
    expect(p.targetDuration).toBe(4);
    expect(p.segments.every((s) => s.duration === 4)).toBe(true);
    clock.advance(2000);
    const q = await media(`${sim.url}/cdn/hls/cam.m3u8`);
    clock.advance(4000);
    const r = await media(`${sim.url}/cdn/hls/cam.m3u8`);
    expect(r.mediaSequenceBase! - p.mediaSequenceBase!).toBe(q.mediaSequenceBase! === p.mediaSequenceBase! ? 1 : 2);
    await expect(startSimulator({ apps: [{ appId: APP, secret: 's' }], hlsTargetDurationS: 0 })).rejects.toThrow(/hlsTargetDurationS/);
  });

  it('serves segments as MPEG-TS: 188-byte packets with sync bytes, a PAT and PMT whose CRCs check', async () => {
    const sim = await live();
    const p = await media(`${sim.url}/cdn/hls/cam.m3u8`);
    const seg = await get(`${sim.url}/cdn/hls/${p.segments.at(-1)!.uri}`);
    expect(seg.status).toBe(200);
    expect(seg.headers.get('content-type')).toBe('video/mp2t');
    expect(seg.body.length).toBe(segmentBytes(2));
    expect(seg.body.length % TS_PACKET_BYTES).toBe(0);
    for (let i = 0; i < seg.body.length; i += TS_PACKET_BYTES) expect(seg.body[i]).toBe(0x47);
    for (const [pkt, pid] of [
      [0, 0x0000],
      [1, 0x1000],
    ] as const) {
      const at = pkt * TS_PACKET_BYTES;
      expect(((seg.body[at + 1]! & 0x1f) << 8) | seg.body[at + 2]!).toBe(pid);
      const sectionLength = ((seg.body[at + 6]! & 0x0f) << 8) | seg.body[at + 7]!;
      // The CRC over the whole section, its own 4 bytes included, is 0.
      expect(crc32Mpeg2(seg.body.subarray(at + 5, at + 8 + sectionLength))).toBe(0);
    }
    expect(seg.body.subarray(2 * TS_PACKET_BYTES + 4, 2 * TS_PACKET_BYTES + 8)).toEqual(Buffer.from([0, 0, 1, 0xe0]));
  });

  it('honours Range on segments: 206 with Content-Range, suffix ranges, 416 past the end', async () => {
    const sim = await live();
    const p = await media(`${sim.url}/cdn/hls/cam.m3u8`);
    const url = `${sim.url}/cdn/hls/${p.segments.at(-1)!.uri}`;
    const whole = (await get(url)).body;
    const size = whole.length;
    const first = await get(url, { Range: 'bytes=0-187' });
    expect(first.status).toBe(206);
    expect(first.headers.get('content-range')).toBe(`bytes 0-187/${size}`);
    expect(first.body).toEqual(whole.subarray(0, 188));
    const middle = await get(url, { Range: 'bytes=1000-1499' });
    expect(middle.status).toBe(206);
    expect(middle.body).toEqual(whole.subarray(1000, 1500));
    const suffix = await get(url, { Range: 'bytes=-376' });
    expect(suffix.headers.get('content-range')).toBe(`bytes ${size - 376}-${size - 1}/${size}`);
    expect(suffix.body).toEqual(whole.subarray(size - 376));
    const open = await get(url, { Range: `bytes=${size - 10}-` });
    expect(open.body).toEqual(whole.subarray(size - 10));
    const past = await get(url, { Range: `bytes=${size}-` });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${size}`);
    expect((await get(url, { Range: 'bytes=0-1,5-6' })).status).toBe(200);
    expect(parseRange('items=0-1', 10)).toBeNull();
  });

  it('answers 404 for a segment not made yet and for an id without a live feed', async () => {
    const sim = await live();
    const p = await media(`${sim.url}/cdn/hls/cam.m3u8`);
    const next = p.mediaSequenceBase! + 5;
    expect((await get(`${sim.url}/cdn/hls/cam/${next}.ts`)).status).toBe(404);
    clock.advance(2000);
    expect((await get(`${sim.url}/cdn/hls/cam/${next}.ts`)).status).toBe(200);
    for (const path of ['/cdn/hls/nobody.m3u8', '/cdn/hls/nobody/master.m3u8', '/cdn/hls/nobody/low.m3u8', `/cdn/hls/nobody/${next}.ts`, '/cdn/flv/nobody.flv'])
      expect((await get(`${sim.url}${path}`)).status, path).toBe(404);
    sim.setStream('cam', { state: 'closed', createTime: 1, closeTime: 2 });
    expect((await get(`${sim.url}/cdn/hls/cam.m3u8`)).status).toBe(404);
    for (const path of ['/cdn/hls/cam.ts', '/cdn/hls/a/b/c.m3u8', '/cdn/rtmp/cam', '/cdn/hls/bad.id.m3u8'])
      expect((await get(`${sim.url}${path}`)).status, path).toBe(404);
    expect((await fetch(`${sim.url}/cdn/hls/cam.m3u8`, { method: 'POST', body: 'x' })).status).toBe(405);
  });

  it("serves a running mix task's output streams while it runs, and direct outputs that ZEGO cannot see", async () => {
    const sim = await start();
    sim.setStream('host', { state: 'active', createTime: 1 });
    sim.startMix('show', { inputs: ['host'], outputs: ['show-out', 'show-low'] });
    expect((await get(`${sim.url}/cdn/hls/show-low.m3u8`)).status).toBe(200);
    expect((await get(`${sim.url}/cdn/hls/show-out/master.m3u8`)).status).toBe(200);
    sim.crashMix('show');
    expect((await get(`${sim.url}/cdn/hls/show-out.m3u8`)).status).toBe(404);

    expect((await get(`${sim.url}/cdn/hls/cdn-only.m3u8`)).status).toBe(404);
    expect(await put(sim, 'cdn-only', { direct: true })).toEqual({
      status: 200,
      json: { id: 'cdn-only', fault: null, direct: true, slowFirstByteMs: null, live: true },
    });
    expect((await media(`${sim.url}/cdn/hls/cdn-only.m3u8`)).segments).toHaveLength(5);
    expect(sim.streams()['cdn-only']).toBeUndefined();
  });
});

describe('simulator CDN: faults per output', () => {
  it('stall: the playlist stops advancing and still answers 200; clearing it resumes at the live edge', async () => {
    const sim = await live();
    const before = (await media(`${sim.url}/cdn/hls/cam.m3u8`)).mediaSequenceBase!;
    expect((await put(sim, 'cam', { fault: 'stall' })).json).toMatchObject({ fault: 'stall', live: true });
    clock.advance(30_000);
    const stalled = await media(`${sim.url}/cdn/hls/cam.m3u8`);
    expect(stalled.mediaSequenceBase).toBe(before);
    expect(stalled.endlist).toBe(false);
    expect((await get(`${sim.url}/cdn/hls/${stalled.segments.at(-1)!.uri}`)).status).toBe(200);
    await put(sim, 'cam', { fault: null });
    expect((await media(`${sim.url}/cdn/hls/cam.m3u8`)).mediaSequenceBase).toBe(before + 15);
  });

  it('endlist: EXT-X-ENDLIST is appended and the window stays where the broadcast ended', async () => {
    const sim = await live();
    const before = (await media(`${sim.url}/cdn/hls/cam.m3u8`)).mediaSequenceBase!;
    await put(sim, 'cam', { fault: 'endlist' });
    clock.advance(10_000);
    const ended = await media(`${sim.url}/cdn/hls/cam/low.m3u8`);
    expect(ended.endlist).toBe(true);
    expect(ended.mediaSequenceBase).toBe(before);
  });

  it('not_found: 404 for the playlists and the FLV of a live output', async () => {
    const sim = await live();
    await put(sim, 'cam', { fault: 'not_found' });
    for (const path of ['/cdn/hls/cam.m3u8', '/cdn/hls/cam/master.m3u8', '/cdn/flv/cam.flv']) expect((await get(`${sim.url}${path}`)).status, path).toBe(404);
    await expect(control(sim.url, 'DELETE', '/_sim/outputs/cam')).resolves.toEqual({ status: 200, json: { deleted: 'cam' } });
    expect((await get(`${sim.url}/cdn/hls/cam.m3u8`)).status).toBe(200);
  });

  it('regression: every answer starts its window before the previous answer (and before the last healthy one)', async () => {
    const sim = await live();
    const healthy = (await media(`${sim.url}/cdn/hls/cam.m3u8`)).mediaSequenceBase!;
    await put(sim, 'cam', { fault: 'regression' });
    const a = (await media(`${sim.url}/cdn/hls/cam.m3u8`)).mediaSequenceBase!;
    clock.advance(15_000);
    const b = (await media(`${sim.url}/cdn/hls/cam.m3u8`)).mediaSequenceBase!;
    expect(a).toBeLessThan(healthy);
    expect(b).toBeLessThan(a);
  });

  it('slow_first_byte: answers start only after slowFirstByteMs (per output, or the simulator default)', async () => {
    const sim = await live({ slowFirstByteMs: 1000 });
    await put(sim, 'cam', { fault: 'slow_first_byte' });
    let t = performance.now();
    expect((await get(`${sim.url}/cdn/hls/cam.m3u8`)).status).toBe(200);
    expect(performance.now() - t).toBeGreaterThanOrEqual(990);
    await put(sim, 'cam', { slowFirstByteMs: 1500 });
    t = performance.now();
    const flv = await openFlv(`${sim.url}/cdn/flv/cam.flv`);
    expect(performance.now() - t).toBeGreaterThanOrEqual(1490);
    expect(flv.status).toBe(200);
    flv.close();
    await put(sim, 'cam', { fault: null });
    t = performance.now();
    await get(`${sim.url}/cdn/hls/cam.m3u8`);
    // Well under the 1 s a held answer waits, even on a loaded machine.
    expect(performance.now() - t).toBeLessThan(900);
  });

  it('header_only: the FLV header, then nothing while the connection stays open; HLS is unaffected', async () => {
    const sim = await live();
    await put(sim, 'cam', { fault: 'header_only' });
    const flv = await openFlv(`${sim.url}/cdn/flv/cam.flv`);
    await flv.waitFor(13);
    clock.advance(5000);
    await new Promise((r) => setTimeout(r, 300));
    expect(flv.bytes()).toEqual(Buffer.from('464c560105000000090000000000', 'hex').subarray(0, 13));
    expect(sim.flvConnections()).toBe(1);
    expect((await media(`${sim.url}/cdn/hls/cam.m3u8`)).segments).toHaveLength(5);
  });

  it('are the faults docs/simulator.md lists, each with what HLS and HTTP-FLV do', () => {
    const doc = readFileSync(new URL('../../docs/simulator.md', import.meta.url), 'utf8');
    const table = doc.slice(doc.indexOf('| fault | HLS | HTTP-FLV |'));
    const rows = [...table.slice(0, table.indexOf('\n\n')).matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
    expect(rows).toEqual([...OUTPUT_FAULTS, 'null']);
  });

  it('lists outputs with their faults, clears them, and refuses bad bodies with 400 {error}', async () => {
    const sim = await live();
    await put(sim, 'cam', { fault: 'stall' });
    await put(sim, 'cdn-only', { direct: true, fault: 'header_only', slowFirstByteMs: 10 });
    expect(await control(sim.url, 'GET', '/_sim/outputs')).toEqual({
      status: 200,
      json: {
        cam: { fault: 'stall', direct: false, slowFirstByteMs: null, live: true },
        'cdn-only': { fault: 'header_only', direct: true, slowFirstByteMs: 10, live: true },
      },
    });
    for (const [body, error] of [
      ['nope', /JSON/],
      ['[]', /object/],
      ['{"fault":"frozen"}', /fault must be one of stall, endlist, not_found, regression, slow_first_byte, header_only, or null/],
      ['{"direct":"yes"}', /direct must be true or false/],
      ['{"slowFirstByteMs":-1}', /slowFirstByteMs/],
      ['{"latency":5}', /unknown field: latency/],
    ] as const) {
      const r = await control(sim.url, 'PUT', '/_sim/outputs/cam', body);
      expect(r.status, body).toBe(400);
      expect((r.json as { error: string }).error).toMatch(error);
    }
    expect((await control(sim.url, 'PUT', '/_sim/outputs/bad.id', '{"direct":true}')).status).toBe(400);
    expect((await control(sim.url, 'POST', '/_sim/outputs', '{}')).status).toBe(405);
    expect(await control(sim.url, 'DELETE', '/_sim/outputs/cdn-only')).toEqual({ status: 200, json: { deleted: 'cdn-only' } });
    expect((await control(sim.url, 'DELETE', '/_sim/outputs/cdn-only')).status).toBe(404);
    expect(Object.keys(sim.outputs())).toEqual(['cam']);
  });
});

describe('simulator CDN: HTTP-FLV', () => {
  it('streams FLV per the spec: header, onMetaData, sequence headers, then a keyframe and audio and video tags with timestamps advancing with the clock', async () => {
    const sim = await live();
    const flv = await openFlv(`${sim.url}/cdn/flv/cam.flv?wsSecret=abc`);
    expect(flv.status).toBe(200);
    // The clock has not moved: the preamble and frame 0 (a keyframe) only.
    await flv.waitFor(24_000);
    const start = parseFlv(flv.bytes()).tags;
    expect(start[0]!.type).toBe(18);
    expect(start[0]!.data.subarray(3, 13).toString('latin1')).toBe('onMetaData');
    expect(start[1]!.type).toBe(9);
    expect(start[1]!.data.subarray(0, 2)).toEqual(Buffer.from([0x17, 0x00])); // AVC sequence header
    expect(start[2]!.data.subarray(0, 2)).toEqual(Buffer.from([0xaf, 0x00])); // AAC sequence header
    const firstFrame = start.slice(3).find((t) => t.type === 9)!;
    expect(firstFrame.data.subarray(0, 2)).toEqual(Buffer.from([0x17, 0x01]));

    clock.advance(4000);
    await until(() => parseFlv(flv.bytes()).tags.filter((t) => t.timestamp === 4000).length === 2);
    const { tags } = parseFlv(flv.bytes());
    const frames = tags.slice(3);
    const video = frames.filter((t) => t.type === 9);
    const audio = frames.filter((t) => t.type === 8);
    expect(video.at(-1)!.timestamp).toBe(4000);
    expect(audio.at(-1)!.timestamp).toBe(4000);
    for (let i = 1; i < video.length; i++) expect(video[i]!.timestamp).toBe(video[i - 1]!.timestamp + 40);
    const keyframes = video.filter((t) => t.data[0] === 0x17).map((t) => t.timestamp);
    expect(keyframes).toEqual([0, 2000, 4000]);
    expect(video.filter((t) => t.data[0] === 0x27)).toHaveLength(video.length - 3);
    // ~800 kbit/s: what the frames of [0, 4 s) weigh, tag headers and PreviousTagSizes included.
    const bits = frames.filter((t) => t.timestamp < 4000).reduce((n, t) => n + (15 + t.data.length) * 8, 0);
    expect(bits / 4).toBeGreaterThan(700_000);
    expect(bits / 4).toBeLessThan(900_000);
  });

  it('stall: an open connection gets no more tags while the relay is stuck, then goes on from now', async () => {
    const sim = await live();
    const flv = await openFlv(`${sim.url}/cdn/flv/cam.flv`);
    // Everything due before the clock moves: the preamble and frame 0 (its audio tag comes last).
    await until(() => parseFlv(flv.bytes()).tags.some((t) => t.type === 8 && t.data[1] === 0x01));
    await put(sim, 'cam', { fault: 'stall' });
    const held = flv.bytes().length;
    clock.advance(3000);
    await new Promise((r) => setTimeout(r, 300));
    expect(flv.bytes().length).toBe(held);
    await put(sim, 'cam', { fault: null });
    clock.advance(400);
    await flv.waitFor(held + 1);
    const last = parseFlv(flv.bytes()).tags.at(-1)!;
    expect(last.timestamp).toBeGreaterThanOrEqual(3000);
  });

  it('ends the connection when the feed stops or the output goes 404, and forgets a client that went away', async () => {
    const sim = await live();
    const a = await openFlv(`${sim.url}/cdn/flv/cam.flv`);
    await a.waitFor(13);
    sim.setStream('cam', { state: 'closed', createTime: 1, closeTime: 2 });
    await a.ended;
    await until(() => sim.flvConnections() === 0);

    sim.setStream('cam', { state: 'active', createTime: 3 });
    const b = await openFlv(`${sim.url}/cdn/flv/cam.flv`);
    await b.waitFor(13);
    await put(sim, 'cam', { fault: 'not_found' });
    await b.ended;
    await put(sim, 'cam', { fault: null });

    const clients = await Promise.all([1, 2, 3].map(() => openFlv(`${sim.url}/cdn/flv/cam.flv`)));
    await Promise.all(clients.map((c) => c.waitFor(13)));
    expect(sim.flvConnections()).toBe(3);
    for (const c of clients) c.close();
    await until(() => sim.flvConnections() === 0);
  });

  it('close() ends every open FLV connection and every held answer, and resolves', async () => {
    const sim = await live();
    await put(sim, 'slow', { direct: true, fault: 'slow_first_byte', slowFirstByteMs: 60_000 });
    const flv = await openFlv(`${sim.url}/cdn/flv/cam.flv`);
    await flv.waitFor(13);
    const held = fetch(`${sim.url}/cdn/hls/slow.m3u8`).then(
      (r) => r.status,
      () => 'closed',
    );
    await new Promise((r) => setTimeout(r, 50));
    const t = performance.now();
    await sim.close();
    await flv.ended;
    expect(await held).toBe('closed');
    expect(performance.now() - t).toBeLessThan(2000);
    expect(sim.flvConnections()).toBe(0);
  });
});

describe('simulator callbacks carry the CDN URLs', () => {
  async function receiver(): Promise<{ url: string; next(event: string): Promise<Record<string, unknown>> }> {
    const bodies: Record<string, unknown>[] = [];
    const server: Server = createServer((req, res) => {
      let b = '';
      req.on('data', (c: Buffer) => (b += c.toString()));
      req.on('end', () => {
        bodies.push(JSON.parse(b) as Record<string, unknown>);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cb`,
      next: async (event) => {
        await until(() => bodies.some((b) => b['event'] === event));
        return bodies.find((b) => b['event'] === event)!;
      },
    };
  }

  it("stream_create's hls_url / hdl_url and mix_start's hls_urls / hdl_urls are the simulator's own CDN, and play", async () => {
    const rx = await receiver();
    const sim = await start({ callbacks: { url: rx.url, secret: 'cb', retryGapsMs: [] } });
    sim.setStream('cam', { state: 'active', createTime: Math.floor(clock.wall / 1000) });
    const create = await rx.next('stream_create');
    expect(create['hls_url']).toEqual([`${sim.url}/cdn/hls/cam.m3u8`]);
    expect(create['hdl_url']).toEqual([`${sim.url}/cdn/flv/cam.flv`]);
    expect((await get((create['hls_url'] as string[])[0]!)).status).toBe(200);

    sim.startMix('show', { inputs: ['cam'], outputs: ['show-out', 'show-low'] });
    const mix = await rx.next('mix_start');
    expect(mix['hls_urls']).toEqual([`${sim.url}/cdn/hls/show-out.m3u8`, `${sim.url}/cdn/hls/show-low.m3u8`]);
    expect(mix['hdl_urls']).toEqual([`${sim.url}/cdn/flv/show-out.flv`, `${sim.url}/cdn/flv/show-low.flv`]);
    expect(mix['hls_url']).toBe(`${sim.url}/cdn/hls/show-out.m3u8`);
    const flv = await openFlv((mix['hdl_urls'] as string[])[1]!);
    expect(flv.status).toBe(200);
    await flv.waitFor(13);
    flv.close();
  });
});
