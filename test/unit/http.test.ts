import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { renderLanding, type LandingView } from '../../src/http/landing.js';
import { startHttpServer, type HttpHandlers, type RunningServer } from '../../src/http/server.js';
import type { Format } from '../../src/metrics/exposition.js';

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

let running: RunningServer | undefined;

afterEach(async () => {
  await running?.close(100);
  running = undefined;
});

function capture(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines };
}

function landingView(id: string): LandingView {
  return {
    version: '1.2.3',
    startedAt: new Date(1_700_000_000_000),
    endpoint: 'https://rtc-api.zego.im',
    appId: 12345,
    isTest: false,
    rateLimit: 40,
    achievableRefreshSec: 10,
    rows: [{ id, state: 'active', uptimeSec: 75, probe: 'ok', lastProbeAgoSec: 2, labels: { team: '<b>' }, lastError: null, source: 'config' }],
    totalStreams: 1,
  };
}

function handlers(over: Partial<HttpHandlers> = {}): HttpHandlers & { formats: Format[] } {
  const formats: Format[] = [];
  return {
    formats,
    metrics: async (format) => {
      formats.push(format);
      return format === 'openmetrics' ? 'up 1\n# EOF\n' : 'up 1\n';
    },
    ready: () => ({ ready: true }),
    landingPage: () => renderLanding(landingView('<script>alert(1)</script>')),
    ...over,
  };
}

async function start(h: HttpHandlers, logger: Logger = capture().logger): Promise<RunningServer> {
  running = await startHttpServer({ host: '127.0.0.1', port: 0, handlers: h, logger });
  return running;
}

function call(path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const base = new URL(running!.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: base.hostname, port: base.port, path, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Writes raw bytes and resolves with what the server answered before closing or `waitMs`. */
function raw(data: string, waitMs = 1000): Promise<string> {
  const base = new URL(running!.url);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(base.port), base.hostname);
    let got = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(got);
    }, waitMs);
    sock.on('data', (d: Buffer) => (got += d.toString('utf8')));
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    sock.on('error', reject);
    sock.write(data);
  });
}

describe('startHttpServer', () => {
  it('listens on 127.0.0.1 and reports its URL', async () => {
    const s = await start(handlers());
    expect(s.address.address).toBe('127.0.0.1');
    expect(s.address.port).toBeGreaterThan(0);
    expect(s.url).toBe(`http://127.0.0.1:${s.address.port}`);
  });

  it('GET /metrics answers 200 in the text format by default', async () => {
    const h = handlers();
    await start(h);
    const r = await call('/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(r.body).toBe('up 1\n');
    expect(h.formats).toEqual(['text']);
    expect(r.headers['cache-control']).toBe('no-store');
  });

  it("GET /metrics with Prometheus' Accept header answers OpenMetrics", async () => {
    const h = handlers();
    await start(h);
    const r = await call('/metrics?x=1', { headers: { accept: PROMETHEUS_ACCEPT } });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(r.body).toBe('up 1\n# EOF\n');
    expect(h.formats).toEqual(['openmetrics']);
  });

  it('HEAD /metrics answers the headers without a body', async () => {
    await start(handlers());
    const r = await call('/metrics', { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(r.headers['content-length']).toBe(String(Buffer.byteLength('up 1\n')));
    expect(r.body).toBe('');
  });

  it('POST /metrics is 405 with Allow', async () => {
    const h = handlers();
    await start(h);
    const r = await call('/metrics', { method: 'POST' });
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET, HEAD');
    expect(h.formats).toEqual([]);
  });

  it('/-/healthy is 200', async () => {
    await start(handlers());
    const r = await call('/-/healthy');
    expect(r.status).toBe(200);
    expect(r.body).toBe('Healthy\n');
  });

  it('/-/ready is 200 when ready and 503 with the reason when not', async () => {
    let ready: ReturnType<HttpHandlers['ready']> = { ready: false, reason: 'no probe has completed yet' };
    await start(handlers({ ready: () => ready }));
    const notReady = await call('/-/ready');
    expect(notReady.status).toBe(503);
    expect(notReady.body).toContain('no probe has completed yet');
    ready = { ready: true };
    const ok = await call('/-/ready');
    expect(ok.status).toBe(200);
    expect(ok.body).toBe('Ready\n');
  });

  it('/-/reload is 404 without a reload handler', async () => {
    await start(handlers());
    expect((await call('/-/reload', { method: 'POST' })).status).toBe(404);
    expect((await call('/-/reload')).status).toBe(404);
  });

  it('/-/reload: GET is 405, POST ok is 200, failure is 500 with the error', async () => {
    let result: { ok: true } | { ok: false; error: string } = { ok: true };
    let calls = 0;
    await start(
      handlers({
        reload: async () => {
          calls++;
          return result;
        },
      }),
    );
    const get = await call('/-/reload');
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST, PUT');
    expect(calls).toBe(0);
    const ok = await call('/-/reload', { method: 'POST' });
    expect(ok.status).toBe(200);
    expect(calls).toBe(1);
    result = { ok: false, error: 'streams[3].id: invalid characters' };
    const bad = await call('/-/reload', { method: 'POST' });
    expect(bad.status).toBe(500);
    expect(bad.body).toContain('streams[3].id: invalid characters');
    expect(calls).toBe(2);
  });

  it('/ is the landing page, HTML with stream ids and labels escaped', async () => {
    await start(handlers());
    const r = await call('/');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.body).toContain('<h1>ZEGOCLOUD Stream Exporter</h1>');
    expect(r.body).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(r.body).not.toContain('<script>');
    expect(r.body).toContain('team=&#60;b&#62;');
    expect(r.body).not.toContain('<b>');
  });

  it('an unknown path is 404', async () => {
    await start(handlers());
    expect((await call('/nope')).status).toBe(404);
    expect((await call('/metrics/extra')).status).toBe(404);
  });

  it('a handler that throws gives 500, is logged, and the server keeps serving', async () => {
    const { logger, lines } = capture();
    let fail = true;
    await start(
      handlers({
        metrics: async () => {
          if (fail) throw new Error('render exploded');
          return 'ok 1\n';
        },
      }),
      logger,
    );
    const r = await call('/metrics');
    expect(r.status).toBe(500);
    expect(r.body).not.toContain('render exploded');
    expect(lines.some((l) => l.level === 50 && l.msg === 'HTTP handler failed')).toBe(true);
    expect((await call('/-/healthy')).status).toBe(200);
    fail = false;
    const again = await call('/metrics');
    expect(again.status).toBe(200);
    expect(again.body).toBe('ok 1\n');
  });

  it('a synchronous throw in ready() is a 500 too', async () => {
    await start(
      handlers({
        ready: () => {
          throw new Error('boom');
        },
      }),
    );
    expect((await call('/-/ready')).status).toBe(500);
    expect((await call('/-/healthy')).status).toBe(200);
  });

  it('answers a malformed request line with 400', async () => {
    await start(handlers());
    const answer = await raw('THIS IS NOT HTTP\r\n\r\n');
    expect(answer.startsWith('HTTP/1.1 400')).toBe(true);
    expect((await call('/-/healthy')).status).toBe(200);
  });

  it('extra routes come first and can pass', async () => {
    await start(
      handlers({
        extra: (req, res) => {
          if (req.url !== '/callback') return false;
          res.writeHead(204).end();
          return true;
        },
      }),
    );
    expect((await call('/callback', { method: 'POST' })).status).toBe(204);
    expect((await call('/-/healthy')).status).toBe(200);
  });

  it('close() resolves promptly with an idle keep-alive connection open', async () => {
    const s = await start(handlers());
    const base = new URL(s.url);
    const sock = connect(Number(base.port), base.hostname);
    const gotResponse = new Promise<string>((resolve) => {
      let got = '';
      sock.on('data', (d: Buffer) => {
        got += d.toString('utf8');
        if (got.includes('Healthy\n')) resolve(got);
      });
    });
    const closedByServer = new Promise<void>((resolve) => sock.on('close', () => resolve()));
    sock.on('error', () => undefined);
    sock.write('GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    const head = await gotResponse;
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    expect(head.toLowerCase()).toContain('connection: keep-alive');
    const t0 = performance.now();
    await s.close(10_000);
    running = undefined;
    expect(performance.now() - t0).toBeLessThan(1000);
    await closedByServer;
    expect(s.server.listening).toBe(false);
  });

  it('close() cuts a busy connection after the grace period', async () => {
    let release: (() => void) | undefined;
    const s = await start(
      handlers({
        metrics: () =>
          new Promise<string>((resolve) => {
            release = () => resolve('late 1\n');
          }),
      }),
    );
    const pending = call('/metrics').catch((err: unknown) => err);
    while (release === undefined) await new Promise((r) => setTimeout(r, 5));
    const t0 = performance.now();
    await s.close(200);
    running = undefined;
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(150);
    expect(took).toBeLessThan(2000);
    expect(await pending).toBeInstanceOf(Error);
    release();
  });
});
