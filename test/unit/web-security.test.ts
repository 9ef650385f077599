import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import bcrypt from 'bcryptjs';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseBasic } from '../../src/http/basic-auth.js';
import { startHttpServer, type RunningServer } from '../../src/http/server.js';
import { parseWebConfig, type WebConfig } from '../../src/http/web-config.js';
import { subjectAltNames, WebSecurity } from '../../src/http/web-security.js';
import { makePki, removePkis, type Pki } from '../helpers/certs.js';
import { httpsRequest } from '../helpers/https.js';

const log = pino({ level: 'silent' });
const HASH = bcrypt.hashSync('pw', 4);
let pki: Pki;
let running: RunningServer | undefined;
const sockets: Socket[] = [];

beforeAll(() => {
  pki = makePki();
  pki.issue('server', 'server');
});
afterAll(removePkis);

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await running?.close(100);
  running = undefined;
});

function webConfig(text: string): WebConfig {
  const r = parseWebConfig(text, { baseDir: pki.dir });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.config;
}

const TLS = 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n';

async function start(web: WebSecurity, timeouts?: { headersMs?: number; requestMs?: number; checkIntervalMs?: number }): Promise<RunningServer> {
  running = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    logger: log,
    handlers: { metrics: async () => 'up 1\n', ready: () => ({ ready: true }), landingPage: () => '<html></html>' },
    web,
    authExempt: (path) => path === '/zego/callback',
    ...(timeouts ? { timeouts } : {}),
  });
  return running;
}

function port(): number {
  return Number(new URL(running!.url).port);
}

/** A raw TCP connection: when does the server close it? */
function rawTcp(): { sock: Socket; closedAt: Promise<number> } {
  const sock = netConnect(port(), '127.0.0.1');
  sockets.push(sock);
  sock.on('error', () => undefined);
  return { sock, closedAt: new Promise((r) => sock.on('close', () => r(performance.now()))) };
}

describe('TLS on the hardened listener', () => {
  it('cuts a client that connects and never finishes the handshake, within the headers deadline', async () => {
    await start(new WebSecurity(webConfig(TLS), log), { headersMs: 500, requestMs: 2000, checkIntervalMs: 100 });
    const t0 = performance.now();
    const c = rawTcp();
    const closed = await Promise.race([c.closedAt, new Promise<number>((r) => setTimeout(() => r(Number.NaN), 5000))]);
    expect(Number.isNaN(closed)).toBe(false); // Node's own default would hold it 120 s
    expect(closed - t0).toBeLessThan(2500);
  });

  it('cuts a slow-loris client that dribbles headers after the handshake (408), as over plain HTTP', async () => {
    await start(new WebSecurity(webConfig(TLS), log), { headersMs: 600, requestMs: 2000, checkIntervalMs: 100 });
    const sock: TLSSocket = tlsConnect({ port: port(), host: '127.0.0.1', ca: pki.ca.pem, servername: 'localhost' });
    sockets.push(sock);
    sock.on('error', () => undefined);
    let got = '';
    sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
    const closedAt = new Promise<number>((r) => sock.on('close', () => r(performance.now())));
    await new Promise<void>((r) => sock.once('secureConnect', () => r()));
    const t0 = performance.now();
    sock.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
    const dribble = setInterval(() => {
      if (!sock.destroyed) sock.write(`X-Slow-${Math.floor(performance.now())}: y\r\n`);
    }, 100);
    try {
      const closed = await Promise.race([closedAt, new Promise<number>((r) => setTimeout(() => r(Number.NaN), 5000))]);
      expect(Number.isNaN(closed)).toBe(false);
      expect(closed - t0).toBeLessThan(2500);
      expect(got).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(dribble);
    }
  });

  it('closes a plain HTTP connection to the TLS port at once, with no HTTP answer', async () => {
    await start(new WebSecurity(webConfig(TLS), log), { headersMs: 5000 });
    const c = rawTcp();
    let got = '';
    c.sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
    const t0 = performance.now();
    c.sock.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    const closed = await Promise.race([c.closedAt, new Promise<number>((r) => setTimeout(() => r(Number.NaN), 4000))]);
    expect(closed - t0).toBeLessThan(1000);
    expect(got).not.toContain('HTTP/1.1');
    expect(got).not.toContain('up 1');
  });

  it('honours cipher_suites and max_version: the client gets the one suite allowed', async () => {
    await start(new WebSecurity(webConfig(`${TLS}  max_version: TLS12\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]\n`), log));
    const sock = tlsConnect({ port: port(), host: '127.0.0.1', ca: pki.ca.pem, servername: 'localhost' });
    sockets.push(sock);
    await new Promise<void>((r, j) => sock.once('secureConnect', () => r()).once('error', j));
    expect(sock.getProtocol()).toBe('TLSv1.2');
    expect(sock.getCipher().standardName).toBe('TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384');
  });

  it('RequireAnyClientCert: refuses a client without a certificate, accepts any certificate', async () => {
    await start(new WebSecurity(webConfig(`${TLS}  client_auth_type: RequireAnyClientCert\n`), log));
    await expect(httpsRequest(`${running!.url}/metrics`, { ca: pki.ca.pem })).rejects.toThrow();
    const foreign = makePki().issue('anyone', 'client');
    expect((await httpsRequest(`${running!.url}/metrics`, { ca: pki.ca.pem, cert: foreign.certPem, key: foreign.keyPem })).status).toBe(200);
  });

  it('VerifyClientCertIfGiven: serves a client without a certificate, refuses one the CA did not sign', async () => {
    await start(new WebSecurity(webConfig(`${TLS}  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.crt\n`), log));
    expect((await httpsRequest(`${running!.url}/metrics`, { ca: pki.ca.pem })).status).toBe(200);
    const mine = pki.issue('mine', 'client');
    expect((await httpsRequest(`${running!.url}/metrics`, { ca: pki.ca.pem, cert: mine.certPem, key: mine.keyPem })).status).toBe(200);
    const foreign = makePki().issue('intruder', 'client');
    await expect(httpsRequest(`${running!.url}/metrics`, { ca: pki.ca.pem, cert: foreign.certPem, key: foreign.keyPem })).rejects.toThrow();
  });

  it('client_allowed_sans: serves a client certificate naming an allowed SAN, refuses one from the same CA that does not', async () => {
    await start(
      new WebSecurity(
        webConfig(
          `${TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  client_allowed_sans: [prometheus.example, spiffe://cluster/ns/monitoring/sa/prometheus]\n`,
        ),
        log,
      ),
    );
    for (const sans of ['DNS:other.example,DNS:prometheus.example', 'URI:spiffe://cluster/ns/monitoring/sa/prometheus']) {
      const ok = pki.issue(`allowed-${sans.length}`, 'client', sans);
      expect((await httpsRequest(`${running!.url}/metrics`, { ca: pki.ca.pem, cert: ok.certPem, key: ok.keyPem })).status, sans).toBe(200);
    }
    const wrong = pki.issue('not-allowed', 'client', 'DNS:grafana.example,email:prometheus.example@x');
    await expect(httpsRequest(`${running!.url}/metrics`, { ca: pki.ca.pem, cert: wrong.certPem, key: wrong.keyPem })).rejects.toThrow();
    const none = pki.issue('no-sans', 'client');
    await expect(httpsRequest(`${running!.url}/metrics`, { ca: pki.ca.pem, cert: none.certPem, key: none.keyPem })).rejects.toThrow();
  });

  it('reads subjectAltName as Node prints it, quoted values included', () => {
    expect(subjectAltNames('DNS:a.example, IP Address:127.0.0.1, email:x@y, URI:spiffe://c/p')).toEqual(['a.example', '127.0.0.1', 'x@y', 'spiffe://c/p']);
    expect(subjectAltNames('DNS:"a, b", DNS:c')).toEqual(['a, b', 'c']);
    expect(subjectAltNames(undefined)).toEqual([]);
  });

  it('a reload that turns on RequireAndVerifyClientCert applies to the next connection', async () => {
    const web = new WebSecurity(webConfig(TLS), log);
    await start(web);
    expect((await httpsRequest(`${running!.url}/metrics`, { ca: pki.ca.pem })).status).toBe(200);
    expect(web.apply(webConfig(`${TLS}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n`))).toBeNull();
    await expect(httpsRequest(`${running!.url}/metrics`, { ca: pki.ca.pem })).rejects.toThrow();
    const mine = pki.issue('mine2', 'client');
    expect((await httpsRequest(`${running!.url}/metrics`, { ca: pki.ca.pem, cert: mine.certPem, key: mine.keyPem })).status).toBe(200);
  });

  it('turning TLS on by reload waits for a restart and says so; users apply at once', async () => {
    const web = new WebSecurity(webConfig(''), log);
    const msg = web.apply(webConfig(`${TLS}basic_auth_users:\n  u: ${HASH}\n`));
    expect(msg).toMatch(/restart/);
    expect(web.tlsOptions).toBeUndefined();
    expect(web.config.users.size).toBe(1);
  });
});

describe('basic auth', () => {
  it('leaves the callback path and the health paths open, guards the rest', async () => {
    await start(new WebSecurity(webConfig(`basic_auth_users:\n  u: ${HASH}\n`), log));
    const get = async (path: string, auth?: string): Promise<Response> => fetch(`${running!.url}${path}`, auth ? { headers: { Authorization: auth } } : {});
    const none = await get('/metrics');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Basic');
    expect((await get('/metrics', `Basic ${Buffer.from('u:pw').toString('base64')}`)).status).toBe(200);
    expect((await get('/metrics', `Basic ${Buffer.from('u:nope').toString('base64')}`)).status).toBe(401);
    expect((await get('/metrics', 'Bearer abc')).status).toBe(401);
    expect((await get('/-/healthy')).status).toBe(200);
    expect((await get('/-/ready')).status).toBe(200);
    expect((await get('/')).status).toBe(401);
    // Not a route on this test server (404), but not behind auth either.
    expect((await get('/zego/callback')).status).toBe(404);
  });

  it('answers an address over its failure limit 429 with Retry-After (no bcrypt), while a remembered password from it still passes', async () => {
    const web = new WebSecurity(webConfig(`basic_auth_users:\n  u: ${HASH}\n`), log);
    await start(web);
    const get = async (auth: string): Promise<Response> =>
      fetch(`${running!.url}/metrics`, { headers: { Authorization: `Basic ${Buffer.from(auth).toString('base64')}` } });
    expect((await get('u:pw')).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await get(`u:wrong${i}`)).status).toBe(401);
    const runs = web.bcryptRuns;
    const limited = await get('u:wrong-again');
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(50);
    expect(limited.headers.get('www-authenticate')).toBeNull();
    expect(web.bcryptRuns).toBe(runs);
    expect((await get('u:pw')).status).toBe(200);
    await web.close();
  });

  it('reads Basic credentials as RFC 7617 says: split at the first colon, anything else is none', () => {
    expect(parseBasic(`Basic ${Buffer.from('u:p:w').toString('base64')}`)).toEqual({ user: 'u', password: 'p:w' });
    expect(parseBasic(`basic ${Buffer.from('u:').toString('base64')}`)).toEqual({ user: 'u', password: '' });
    expect(parseBasic(`Basic ${Buffer.from('nocolon').toString('base64')}`)).toBeUndefined();
    expect(parseBasic('Basic !!!')).toBeUndefined();
    expect(parseBasic(undefined)).toBeUndefined();
  });
});
