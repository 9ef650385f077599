import { connect, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpServer, type RunningServer } from '../../src/http/server.js';

let running: RunningServer | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await running?.close(100);
  running = undefined;
});

async function start(timeouts?: { headersMs?: number; requestMs?: number; checkIntervalMs?: number }, connectionsPerPeer?: number): Promise<RunningServer> {
  running = await startHttpServer({
    ...(connectionsPerPeer ? { connectionsPerPeer } : {}),
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: 'silent' }),
    handlers: { metrics: async () => 'up 1\n', ready: () => ({ ready: true }), landingPage: () => '<html></html>', reload: async () => ({ ok: true }) },
    ...(timeouts ? { timeouts } : {}),
  });
  return running;
}

/** A raw connection that records everything the server sends and when it closed. */
function open(localAddress?: string): { sock: Socket; got: () => string; closedAt: Promise<number> } {
  const url = new URL(running!.url);
  const sock = connect({ port: Number(url.port), host: url.hostname, ...(localAddress ? { localAddress } : {}) });
  sockets.push(sock);
  let got = '';
  sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
  sock.on('error', () => undefined); // a reset after the server gives up is expected
  const closedAt = new Promise<number>((r) => sock.on('close', () => r(performance.now())));
  return { sock, got: () => got, closedAt };
}

async function status(path: string, method = 'GET'): Promise<number> {
  const res = await fetch(`${running!.url}${path}`, { method });
  await res.arrayBuffer();
  return res.status;
}

describe('HTTP hardening', () => {
  it('one address holding its cap of idle connections is refused more, while another address is served', async () => {
    await start({ headersMs: 10_000, checkIntervalMs: 1000 }, 5);
    // 127.0.0.2 is loopback too: the flood comes from another address than the scrape (127.0.0.1).
    const held = Array.from({ length: 5 }, () => open('127.0.0.2'));
    await Promise.all(held.map((c) => new Promise((r) => c.sock.once('connect', r))));
    const extra = open('127.0.0.2');
    const closed = await Promise.race([extra.closedAt, new Promise<number>((r) => setTimeout(() => r(Number.NaN), 2000))]);
    expect(Number.isNaN(closed)).toBe(false); // without a cap it would be held until the 10 s headers deadline
    expect(extra.got()).toBe('');
    expect(await status('/metrics')).toBe(200);
    for (const c of held) c.sock.destroy();
    await Promise.all(held.map((c) => c.closedAt));
    await new Promise((r) => setTimeout(r, 50));
    // Closed connections give their places back.
    const again = open('127.0.0.2');
    again.sock.write('GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await again.closedAt;
    expect(again.got()).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('cuts a slow-loris client that dribbles headers, and keeps serving others', async () => {
    await start({ headersMs: 600, requestMs: 2000, checkIntervalMs: 100 });
    const c = open();
    const t0 = performance.now();
    c.sock.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
    const dribble = setInterval(() => {
      if (!c.sock.destroyed) c.sock.write(`X-Slow-${Math.floor(performance.now())}: y\r\n`);
    }, 100);
    try {
      const closed = await Promise.race([c.closedAt, new Promise<number>((r) => setTimeout(() => r(Number.NaN), 5000))]);
      expect(Number.isNaN(closed)).toBe(false); // without a headers timeout it would dribble on forever
      expect(closed - t0).toBeLessThan(2500);
      expect(c.got()).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(dribble);
    }
    expect(await status('/-/healthy')).toBe(200);
  });

  it('a timed-out client that never closes its side does not keep its socket: the server lets go within a second or so', async () => {
    const server = await start({ headersMs: 300, requestMs: 1000, checkIntervalMs: 50 });
    const url = new URL(server.url);
    // Never reads (so never sees the server's FIN) and never closes: the socket stays half-open.
    const sock = connect(Number(url.port), url.hostname, () => sock.write('GET /metrics HTTP/1.1\r\n'));
    sockets.push(sock);
    sock.pause();
    sock.on('error', () => undefined);
    const connections = (): Promise<number> => new Promise((r, j) => server.server.getConnections((e, n) => (e ? j(e) : r(n))));
    await new Promise((r) => setTimeout(r, 100));
    expect(await connections()).toBe(1);
    await new Promise((r) => setTimeout(r, 2500));
    expect(await connections()).toBe(0);
  });

  it('the production defaults are 10 s for headers and 30 s per request', async () => {
    const s = await start();
    expect(s.server.headersTimeout).toBe(10_000);
    expect(s.server.requestTimeout).toBe(30_000);
  });

  it('answers oversized headers with 4xx and closes, without affecting the next request', async () => {
    await start();
    const c = open();
    c.sock.write(`GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    await c.closedAt;
    expect(c.got()).toMatch(/^HTTP\/1\.1 4\d\d/);
    expect(await status('/metrics')).toBe(200);
  });

  it('too many headers are refused too', async () => {
    await start();
    const c = open();
    const many = Array.from({ length: 2000 }, (_, i) => `X-H${i}: v`).join('\r\n');
    c.sock.write(`GET /metrics HTTP/1.1\r\nHost: x\r\n${many}\r\n\r\n`);
    await Promise.race([c.closedAt, new Promise((r) => setTimeout(r, 500))]);
    // Node keeps the first maxHeadersCount (100) and answers normally; it must not crash or hang.
    expect(c.got()).toMatch(/^HTTP\/1\.1 (200|4\d\d)/);
    expect(await status('/-/healthy')).toBe(200);
  });

  it('a large body to /-/reload is drained, answered, and costs nothing', async () => {
    await start();
    const res = await fetch(`${running!.url}/-/reload`, { method: 'POST', body: 'x'.repeat(8 * 1024 * 1024) });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('reloaded\n');
    expect(await status('/metrics')).toBe(200);
  });

  it('unknown paths are 404, known paths with other methods 405, unknown methods 400', async () => {
    await start();
    for (const p of ['/nope', '/metrics/extra', '/../../etc/passwd', '/-/', '/%00']) expect(await status(p)).toBe(404);
    for (const m of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) expect(await status('/metrics', m)).toBe(405);
    expect(await status('/-/reload', 'GET')).toBe(405);
    const c = open();
    c.sock.write('BREW /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.closedAt;
    expect(c.got()).toMatch(/^HTTP\/1\.1 400/);
    expect(await status('/metrics')).toBe(200);
  });
});

describe('the callback listener shares the hardened listener', () => {
  it('answers a malformed request with 400, serves only its route, and closes cleanly', async () => {
    const { startCallbackListener } = await import('../../src/callbacks/receiver.js');
    const listener = await startCallbackListener('127.0.0.1', 0, (req, res) => {
      if (req.url !== '/zego/callback') return false;
      res.end('ok');
      return true;
    });
    try {
      expect(listener.server.maxHeadersCount).toBe(100);
      expect(listener.server.headersTimeout).toBe(10_000);
      const url = new URL(listener.url);
      const raw = connect(Number(url.port), url.hostname);
      let got = '';
      raw.on('data', (d: Buffer) => (got += d.toString('latin1')));
      raw.on('error', () => undefined);
      raw.write('NOT A REQUEST\r\n\r\n');
      await new Promise<void>((r) => raw.on('close', () => r()));
      expect(got).toMatch(/^HTTP\/1\.1 400 /);
      expect((await fetch(`${listener.url}/zego/callback`, { method: 'POST' })).status).toBe(200);
      expect((await fetch(`${listener.url}/metrics`)).status).toBe(404);
    } finally {
      await listener.close();
    }
  });
});
