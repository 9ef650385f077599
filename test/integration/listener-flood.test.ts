import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { callbackSignature } from '../../src/callbacks/verify.js';
import { parseMetrics, startExporter, stopAll } from '../helpers/exporter-process.js';

const APP_ID = 3131;
const SECRET = '0123456789abcdef0123456789abcdef';
const CB_SECRET = 'flood-cb-secret';
const KB = 1024;

const sockets = new Set<Socket>();
let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
});
afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await stopAll();
});
afterAll(async () => {
  await sim.close();
});

function config(streams: string[]): string {
  return `zego:
  app_id: ${APP_ID}
  server_secret: ${SECRET}
  endpoint: ${sim.url}
  rate_limit: 10
  timeout: 1s
probe:
  interval: 1s
streams:
${streams.map((s) => `  - ${s}`).join('\n')}
callbacks:
  secret: ${CB_SECRET}
  listen_address: "127.0.0.1:0"
`;
}

/** An HTTP request from a chosen loopback source address. */
function send(url: string, opts: { method?: string; path: string; from: string; body?: string }): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: opts.path,
        method: opts.method ?? 'GET',
        localAddress: opts.from,
        agent: false,
        headers: opts.body === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.setTimeout(5000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

function signedCallback(stream: string, nonce: string): string {
  const ts = String(Math.floor(Date.now() / 1000));
  return JSON.stringify({
    event: 'stream_create',
    appid: String(APP_ID),
    stream_id: stream,
    stream_seq: nonce.replace(/\D/g, ''),
    create_time_ms: String(Date.now()),
    timestamp: ts,
    nonce,
    signature: callbackSignature(CB_SECRET, ts, nonce),
  });
}

/** Opens a raw connection from `from` and resolves once it is connected (or closed at once). */
function open(url: string, from: string): Promise<Socket> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = connect({ host: u.hostname, port: Number(u.port), localAddress: from });
    sockets.add(s);
    s.on('error', () => undefined);
    s.once('connect', () => resolve(s));
    s.once('close', () => {
      sockets.delete(s);
      resolve(s);
    });
  });
}

describe('the callback listener under a flood (real process)', () => {
  it('256 slow 64 KiB uploads from one address: signed callbacks from another are still answered 200, and the slow ones are cut with 408', async () => {
    const exp = await startExporter(config(['flood-1']), { logLevel: 'info' });
    const cb = await exp.callbackUrl();
    const u = new URL(cb);
    // The issue's attack: 256 connections declaring 64 KiB bodies, sending a byte a second.
    const answers: string[] = [];
    const slow = await Promise.all(
      Array.from({ length: 256 }, async (_, i) => {
        const s = await open(cb, '127.0.0.2');
        let got = '';
        s.on('data', (d: Buffer) => {
          got += d.toString('latin1');
          answers[i] = got;
        });
        s.write(`POST /zego/callback HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nContent-Length: ${64 * KB}\r\n\r\n{`);
        return s;
      }),
    );
    const drip = setInterval(() => {
      for (const s of slow) if (!s.destroyed) s.write(' ');
    }, 1000);
    try {
      // ZEGO's callbacks come from elsewhere while the uploads hold what they can.
      const t0 = performance.now();
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++)
        statuses.push((await send(cb, { method: 'POST', path: '/zego/callback', from: '127.0.0.3', body: signedCallback('flood-1', `n${i}`) })).status);
      const sentWithinMs = performance.now() - t0;
      expect(statuses).toEqual(Array<number>(30).fill(200));
      // The flood's address got its share (2 MiB: 32 bodies) and no more; the rest were refused at once.
      const refused = answers.filter((a) => a?.startsWith('HTTP/1.1 503')).length;
      expect(refused).toBe(256 - 32);
      // The 32 that were let in trickle at a byte a second: cut 2 s + ~1 s after they began.
      const until = performance.now() + 6000;
      while (answers.filter((a) => a?.startsWith('HTTP/1.1 408')).length < 32 && performance.now() < until) await new Promise((r) => setTimeout(r, 100));
      expect(answers.filter((a) => a?.startsWith('HTTP/1.1 408')).length).toBe(32);
      const m = parseMetrics(await (await fetch(`${exp.url}/metrics`)).text());
      expect(m.get('zego_exporter_callbacks_total{event="other",result="too_slow"}')).toBe(32);
      expect(m.get('zego_exporter_callbacks_total{event="other",result="overloaded"}')).toBe(224);
      expect(m.get('zego_exporter_callbacks_total{event="stream_create",result="accepted"}')).toBeGreaterThanOrEqual(1);
      console.log(`30 signed callbacks during the flood: all 200 in ${Math.round(sentWithinMs)} ms; flood: 32 held then 408, 224 refused 503`);
    } finally {
      clearInterval(drip);
    }
  }, 30_000);

  it('idle connections from many loopback addresses over the fd limit: every /metrics scrape succeeds, probing continues, a reload works', async () => {
    // 512 descriptors: each listener may hold 204 connections; the flood opens 1200 over both.
    const exp = await startExporter(config(['fd-1', 'fd-2', 'fd-3']), { logLevel: 'info', nofile: 512 });
    const cb = await exp.callbackUrl();
    const apiCalls = async (): Promise<{ all: number; network: number }> => {
      const m = parseMetrics((await send(exp.url, { path: '/metrics', from: '127.0.0.1' })).text);
      let all = 0;
      let network = 0;
      for (const [k, v] of m) {
        if (!k.startsWith('zego_exporter_api_requests_total{')) continue;
        all += v;
        if (k.includes('code="network"')) network += v;
      }
      return { all, network };
    };
    await new Promise((r) => setTimeout(r, 1500));
    const before = await apiCalls();
    const t0 = performance.now();
    for (let a = 0; a < 24; a++) {
      const from = `127.0.${10 + a}.${1 + a}`;
      await Promise.all(Array.from({ length: 25 }, () => Promise.all([open(exp.url, from), open(cb, from)])));
    }
    const floodMs = performance.now() - t0;
    let ok = 0;
    const failures: string[] = [];
    for (let i = 0; i < 16; i++) {
      try {
        const r = await send(exp.url, { path: '/metrics', from: '127.0.0.1' });
        if (r.status === 200 && r.text.includes('zego_stream_active')) ok++;
        else failures.push(String(r.status));
      } catch (err) {
        failures.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const orFailed = (p: Promise<{ status: number }>): Promise<{ status: number | string }> => p.catch((err: unknown) => ({ status: (err as Error).message }));
    const ready = await orFailed(send(exp.url, { path: '/-/ready', from: '127.0.0.1' }));
    const reload = await orFailed(send(exp.url, { method: 'POST', path: '/-/reload', from: '127.0.0.1' }));
    const after = await apiCalls().catch(() => ({ all: NaN, network: NaN }));
    const stillOpen = [...sockets].filter((s) => !s.destroyed && s.readyState === 'open').length;
    console.log(
      `flood of 1200 idle connections from 24 addresses opened in ${Math.round(floodMs)} ms; ${stillOpen} of them still open (the cap closed the rest); scrapes ${ok}/16 (${failures.join(', ')}); ready ${ready.status}; reload ${reload.status}; API calls during it ${after.all - before.all}, network errors ${after.network - before.network}`,
    );
    expect(failures).toEqual([]);
    expect(ok).toBe(16);
    expect(ready.status).toBe(200);
    expect(reload.status).toBe(200);
    expect(after.all - before.all).toBeGreaterThanOrEqual(3);
    expect(after.network).toBe(before.network);
    expect(exp.logs().some((l) => l.msg.startsWith('listener at its connection cap'))).toBe(true);
    const shed = parseMetrics((await send(exp.url, { path: '/metrics', from: '127.0.0.1' })).text);
    // 600 per listener against a cap of 204: about 400 each closed to make room (the scrapes' too).
    expect(shed.get('zego_exporter_http_connections_shed_total{listener="main",reason="idle_at_cap"}')).toBeGreaterThanOrEqual(390);
    expect(shed.get('zego_exporter_http_connections_shed_total{listener="callbacks",reason="idle_at_cap"}')).toBeGreaterThanOrEqual(390);
    expect(shed.get('zego_exporter_http_connections_shed_total{listener="main",reason="refused_at_cap"}')).toBe(0);
    expect(exp.stderr()).not.toMatch(/EMFILE/);
  }, 40_000);
});
