import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A CDN written for the probe tests: routes by path on 127.0.0.1 at a random port, every request
 * logged (path, query, Range), and closed with every socket it accepted.
 */
export type Route = (req: IncomingMessage, res: ServerResponse) => void;

export interface TestCdn {
  url: string;
  origin: string;
  port: number;
  routes: Map<string, Route>;
  requests: { path: string; query: string; range: string | undefined }[];
  /** Requests whose connection closed, by path (an FLV window closing its stream). */
  closedAt: Map<string, number>;
  close(): Promise<void>;
}

function closeAll(server: Server | NetServer, sockets: Set<Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function startCdn(opts: { tls?: { cert: Buffer; key: Buffer } } = {}): Promise<TestCdn> {
  const routes = new Map<string, Route>();
  const requests: TestCdn['requests'] = [];
  const closedAt = new Map<string, number>();
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const u = new URL(req.url ?? '/', 'http://x');
    requests.push({ path: u.pathname, query: u.search, range: req.headers.range });
    res.on('close', () => closedAt.set(u.pathname, performance.now()));
    const route = routes.get(u.pathname);
    if (route) route(req, res);
    else res.writeHead(404).end('no such output');
  };
  const server = opts.tls ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, handler) : createServer(handler);
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const origin = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  return { url: origin, origin, port, routes, requests, closedAt, close: () => closeAll(server, sockets) };
}

/** A TCP server that answers each connection with `onConnect` (raw bytes, or nothing at all). */
export async function startRaw(onConnect: (s: Socket) => void): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    onConnect(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, close: () => closeAll(server, sockets) };
}

/** A live media playlist: `count` segments from `seq`, each `dur` s, named <seq>.ts. */
export function mediaPlaylist(seq: number, count = 5, opts: { target?: number; dur?: number; endlist?: boolean; segQuery?: string } = {}): string {
  const target = opts.target ?? 2;
  const dur = opts.dur ?? target;
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3', `#EXT-X-TARGETDURATION:${target}`, `#EXT-X-MEDIA-SEQUENCE:${seq}`];
  for (let i = 0; i < count; i++) lines.push(`#EXTINF:${dur.toFixed(3)},`, `seg/${seq + i}.ts${opts.segQuery ?? ''}`);
  if (opts.endlist) lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

/** `n` bytes of MPEG-TS: 188-byte packets starting 0x47. */
export function tsBytes(n: number): Buffer {
  const b = Buffer.alloc(n, 0xff);
  for (let i = 0; i < n; i += 188) b[i] = 0x47;
  return b;
}

/** Serves `body` with Range honoured (206 + Content-Range), as a CDN serves a segment. */
export function ranged(body: Buffer): Route {
  return (req, res) => {
    const m = /^bytes=(\d+)-(\d+)?$/.exec(req.headers.range ?? '');
    if (!m) {
      res.writeHead(200, { 'content-length': body.length }).end(body);
      return;
    }
    const start = Number(m[1]);
    const end = Math.min(m[2] !== undefined ? Number(m[2]) : body.length - 1, body.length - 1);
    res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${body.length}`, 'content-length': end - start + 1 }).end(body.subarray(start, end + 1));
  };
}

export function text(body: string, status = 200): Route {
  return (_req, res) => void res.writeHead(status, { 'content-type': 'application/vnd.apple.mpegurl' }).end(body);
}

// --- FLV ---

export function flvHeader(audio = true, video = true): Buffer {
  const b = Buffer.alloc(13);
  b.write('FLV', 0, 'latin1');
  b[3] = 1;
  b[4] = (audio ? 0x04 : 0) | (video ? 0x01 : 0);
  b.writeUInt32BE(9, 5);
  b.writeUInt32BE(0, 9); // PreviousTagSize0
  return b;
}

/** One tag and the PreviousTagSize after it. */
export function flvTag(type: 8 | 9 | 18, timestampMs: number, data: Buffer): Buffer {
  const b = Buffer.alloc(11 + data.length + 4);
  b[0] = type;
  b.writeUIntBE(data.length, 1, 3);
  b.writeUIntBE(timestampMs & 0xffffff, 4, 3);
  b[7] = (timestampMs >>> 24) & 0xff;
  data.copy(b, 11);
  b.writeUInt32BE(11 + data.length, 11 + data.length);
  return b;
}

export function videoTag(ts: number, keyframe: boolean, size = 2000): Buffer {
  const d = Buffer.alloc(size, 0);
  d[0] = (keyframe ? 0x10 : 0x20) | 7; // frame type, AVC
  return flvTag(9, ts, d);
}

export function audioTag(ts: number, size = 200): Buffer {
  const d = Buffer.alloc(size, 0);
  d[0] = 0xaf; // AAC
  return flvTag(8, ts, d);
}

/** A valid stream's first `ms` of media: audio every 23 ms, video every 40 ms, keyframe every 2 s. */
export function flvStream(ms: number, opts: { audio?: boolean; video?: boolean; keyframes?: boolean; frozen?: boolean } = {}): Buffer {
  const audio = opts.audio ?? true;
  const video = opts.video ?? true;
  const parts: Buffer[] = [flvHeader(audio, video), flvTag(18, 0, Buffer.from('onMetaData'))];
  for (let t = 0; t < ms; t += 20) {
    const ts = opts.frozen ? 0 : t;
    if (video && t % 40 === 0) parts.push(videoTag(ts, (opts.keyframes ?? true) && t % 2000 === 0));
    if (audio && t % 20 === 0) parts.push(audioTag(ts));
  }
  return Buffer.concat(parts);
}

/**
 * A live FLV route: the header, then tags paced in real time (every 20 ms) until the client goes.
 * Each request's start is counted.
 */
export function liveFlv(opts: { audio?: boolean; video?: boolean; keyframes?: boolean; frozen?: boolean } = {}): Route {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'video/x-flv' });
    res.write(flvHeader(opts.audio ?? true, opts.video ?? true));
    let t = 0;
    const timer = setInterval(() => {
      const ts = opts.frozen ? 0 : t;
      if ((opts.video ?? true) && t % 40 === 0) res.write(videoTag(ts, (opts.keyframes ?? true) && t % 2000 === 0));
      if (opts.audio ?? true) res.write(audioTag(ts));
      t += 20;
    }, 20);
    res.on('close', () => clearInterval(timer));
  };
}
