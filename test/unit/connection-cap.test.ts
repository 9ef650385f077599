import { EventEmitter } from 'node:events';
import { request } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseWebConfig } from '../../src/http/web-config.js';
import { WebSecurity } from '../../src/http/web-security.js';
import { makePki, removePkis } from '../helpers/certs.js';
import { httpsRequest } from '../helpers/https.js';
import { ConnectionCap, defaultListenerConnections, fdSoftLimit, LISTENER_FD_SHARE } from '../../src/http/connection-cap.js';
import { PeerLimit } from '../../src/http/peer-limit.js';
import { listen, type RunningServer } from '../../src/http/server.js';

afterAll(removePkis);

let running: RunningServer | undefined;
let raw: Server | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await running?.close(100);
  running = undefined;
  await new Promise<void>((r) => (raw ? raw.close(() => r()) : r()));
  raw = undefined;
});

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Client {
  sock: Socket;
  closed: () => boolean;
}

async function open(port: number, first = ''): Promise<Client> {
  const sock = connect(port, '127.0.0.1');
  sockets.push(sock);
  let closed = false;
  sock.on('error', () => undefined);
  sock.on('close', () => (closed = true));
  await new Promise<void>((r) => sock.once('connect', () => r()));
  if (first) sock.write(first);
  // Let the server accept it before the next one, so "oldest" is well defined.
  await new Promise((r) => setTimeout(r, 30));
  return { sock, closed: () => closed };
}

function get(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A listener whose POSTs wait for their whole body (so an unfinished upload is a request in progress). */
async function start(maxConnections: number): Promise<number> {
  running = await listen(
    (req, res) => {
      req.resume();
      req.on('end', () => res.end('ok\n'));
    },
    { host: '127.0.0.1', port: 0, maxConnections },
  );
  return running.address.port;
}

describe('the per-listener connection cap', () => {
  it('is a share of the fd soft limit read at start', () => {
    expect(fdSoftLimit()).toBeGreaterThan(0);
    expect(defaultListenerConnections()).toBe(Math.max(16, Math.floor(fdSoftLimit() * LISTENER_FD_SHARE)));
  });

  it('at the cap, a new connection displaces the longest-idle one: a scrape gets in during a flood of idle connections', async () => {
    const port = await start(4);
    const idle: Client[] = [];
    for (let i = 0; i < 4; i++) idle.push(await open(port));
    expect(await get(port)).toBe(200);
    await until(() => idle[0]!.closed());
    expect(idle.slice(1).map((c) => c.closed())).toEqual([false, false, false]);
    // A keep-alive that was answered is the newest idle one: the next to go is one idle since longer.
    idle[1]!.sock.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
    idle.push(await open(port));
    expect(await get(port)).toBe(200);
    await until(() => idle[2]!.closed());
    expect(idle[3]!.closed()).toBe(false);
    expect(idle[1]!.closed()).toBe(false);
  });

  it('connections in the middle of a request are left to their deadlines; only then is the newcomer refused', async () => {
    const port = await start(3);
    const busy: Client[] = [];
    for (let i = 0; i < 3; i++) busy.push(await open(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n1'));
    const late = await open(port);
    await until(() => late.closed());
    expect(busy.map((c) => c.closed())).toEqual([false, false, false]);
    busy[0]!.sock.write('234567890');
    let answer = '';
    busy[0]!.sock.on('data', (d: Buffer) => (answer += d.toString()));
    await until(() => answer.includes('ok'));
    // Answered, it is idle: the next newcomer displaces it.
    const next = await open(port);
    await until(() => busy[0]!.closed());
    expect(next.closed()).toBe(false);
  });

  it('TLS handshakes in progress are bounded apart: the oldest gives way', async () => {
    const cap = new ConnectionCap(100, 2);
    raw = createServer((s) => cap.admit(s, true));
    await new Promise<void>((r) => raw!.listen(0, '127.0.0.1', () => r()));
    const port = (raw.address() as { port: number }).port;
    const a = await open(port);
    const b = await open(port);
    expect(cap.handshakes).toBe(2);
    const c = await open(port);
    await until(() => a.closed());
    expect([b.closed(), c.closed()]).toEqual([false, false]);
    expect(cap.handshakes).toBe(2);
    expect(cap.evicted).toBe(1);
  });

  it('over TLS: a request gets in past half-open handshakes and past idle TLS connections, the oldest closed first', async () => {
    const pki = makePki();
    pki.issue('server', 'server');
    const r = parseWebConfig('tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n', { baseDir: pki.dir });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    running = await listen((_req, res) => res.end('ok\n'), {
      host: '127.0.0.1',
      port: 0,
      maxConnections: 3,
      maxHandshakes: 2,
      web: new WebSecurity(r.config, pino({ level: 'silent' })),
    });
    const port = running.address.port;
    const half = [await open(port), await open(port)];
    expect((await httpsRequest(`${running.url}/`, { ca: pki.ca.pem })).status).toBe(200);
    await until(() => half[0]!.closed());
    expect(half[1]!.closed()).toBe(false);
    half[1]!.sock.destroy();
    // Three finished handshakes, kept open and idle: the cap is full of TLS connections.
    const secured: Client[] = [];
    for (let i = 0; i < 3; i++) {
      const sock = tlsConnect({ host: '127.0.0.1', port, ca: pki.ca.pem, servername: 'localhost' });
      sockets.push(sock);
      let closed = false;
      sock.on('error', () => undefined);
      sock.on('close', () => (closed = true));
      await new Promise<void>((res) => sock.once('secureConnect', () => res()));
      await new Promise((res) => setTimeout(res, 30));
      secured.push({ sock, closed: () => closed });
    }
    expect((await httpsRequest(`${running.url}/`, { ca: pki.ca.pem })).status).toBe(200);
    await until(() => secured[0]!.closed());
    expect([secured[1]!.closed(), secured[2]!.closed()]).toEqual([false, false]);
  });

  it('the per-address limit counts an IPv6 /64 as one address', () => {
    const fake = (remoteAddress: string): Socket & { destroyed: boolean } => {
      const s = Object.assign(new EventEmitter(), {
        remoteAddress,
        destroyed: false,
        destroy() {
          s.destroyed = true;
          s.emit('close');
        },
      });
      return s as unknown as Socket & { destroyed: boolean };
    };
    const peers = new PeerLimit(2);
    const same = ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:ffff::3'].map(fake);
    for (const s of same) peers.admit(s);
    expect(same.map((s) => s.destroyed)).toEqual([false, false, true]);
    const other = fake('2001:db8:1:3::1');
    peers.admit(other);
    expect(other.destroyed).toBe(false);
    expect(peers.openFrom('2001:db8:1:2::9')).toBe(2);
  });
});
