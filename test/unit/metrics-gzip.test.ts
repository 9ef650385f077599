import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpServer, type RunningServer } from '../../src/http/server.js';
import type { Format } from '../../src/metrics/exposition.js';
import { acceptsGzip, gzipChunks } from '../../src/metrics/gzip.js';

const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

/** Several chunks, as the render hands them out (its blocks), one of them empty. */
function body(format: Format): Buffer[] {
  const lines = Array.from({ length: 2000 }, (_, i) => `zego_stream_active{stream_id="s${i}",team="t${i % 7}"} ${i % 2}\n`);
  return [
    Buffer.from('# HELP up x\n# TYPE up gauge\nup 1\n'),
    Buffer.from(lines.slice(0, 1000).join('')),
    Buffer.alloc(0),
    Buffer.from(lines.slice(1000).join('')),
    Buffer.from(format === 'openmetrics' ? '# EOF\n' : ''),
  ];
}

let running: RunningServer | undefined;

afterEach(async () => {
  await running?.close(100);
  running = undefined;
});

async function start(): Promise<{ calls: Format[] }> {
  const calls: Format[] = [];
  running = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: 'silent' }),
    handlers: {
      metrics: async (format) => {
        calls.push(format);
        return body(format);
      },
      ready: () => ({ ready: true }),
      landingPage: () => '<html></html>',
    },
  });
  return { calls };
}

function call(headers: Record<string, string>, method = 'GET'): Promise<{ status: number; headers: IncomingHttpHeaders; raw: Buffer }> {
  const base = new URL(running!.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: base.hostname, port: base.port, path: '/metrics', method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, raw: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('acceptsGzip', () => {
  it.each([
    ['gzip', true],
    ['GZIP', true],
    ['x-gzip', true],
    ['gzip, deflate, br', true],
    ['deflate, gzip;q=0.5', true],
    ['br;q=1.0, gzip;q=0.8, *;q=0.1', true],
    ['*', true],
    ['identity, *;q=0.5', true],
    ['gzip;q=0', false],
    ['gzip; q=0.000', false],
    ['gzip;q=0, *', false],
    ['*;q=0', false],
    ['identity', false],
    ['deflate, br', false],
    ['', false],
    ['gzipx', false],
  ])('%j → %s', (header, want) => {
    expect(acceptsGzip(header)).toBe(want);
  });

  it('no header: no gzip', () => {
    expect(acceptsGzip(undefined)).toBe(false);
  });
});

describe('gzipChunks', () => {
  it('decodes to exactly the chunks concatenated, and compresses a chunk once while it lives', async () => {
    const chunks = body('text');
    const first = await gzipChunks(chunks);
    expect(gunzipSync(Buffer.concat(first)).equals(Buffer.concat(chunks))).toBe(true);
    // The empty chunk gets no member (a yield point of the render, never content).
    expect(first).toHaveLength(chunks.filter((c) => c.length > 0).length);
    const again = await gzipChunks(chunks);
    for (let i = 0; i < again.length; i++) expect(again[i]).toBe(first[i]);
    // A chunk with the same bytes but another identity (re-encoded) is compressed afresh.
    const copy = await gzipChunks([Buffer.from(chunks[1]!)]);
    expect(copy[0]).not.toBe(first[1]);
    expect(copy[0]!.equals(first[1]!)).toBe(true);
  });
});

describe('/metrics compression', () => {
  it('answers gzip when asked: the decoded body is exactly the plain one, with Vary and the gzip length', async () => {
    await start();
    const plain = await call({});
    const zipped = await call({ 'Accept-Encoding': 'gzip, deflate' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toBe('Accept-Encoding');
    expect(zipped.status).toBe(200);
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toBe('Accept-Encoding');
    expect(Number(zipped.headers['content-length'])).toBe(zipped.raw.length);
    expect(zipped.raw.length).toBeLessThan(plain.raw.length / 4);
    expect(gunzipSync(zipped.raw).equals(plain.raw)).toBe(true);
    expect(plain.raw.equals(Buffer.concat(body('text')))).toBe(true);
  });

  it('does not compress unless asked: no header, identity, gzip;q=0', async () => {
    await start();
    for (const headers of [
      {} as Record<string, string>,
      { 'Accept-Encoding': 'identity' },
      { 'Accept-Encoding': 'gzip;q=0, *;q=1' },
      { 'Accept-Encoding': 'br' },
    ]) {
      const r = await call(headers);
      expect(r.headers['content-encoding']).toBeUndefined();
      expect(r.raw.equals(Buffer.concat(body('text')))).toBe(true);
    }
  });

  it('OpenMetrics (as Prometheus asks for it) gzipped decodes to the OpenMetrics body', async () => {
    const { calls } = await start();
    const r = await call({ Accept: PROMETHEUS_ACCEPT, 'Accept-Encoding': 'gzip' });
    expect(calls).toEqual(['openmetrics']);
    expect(r.headers['content-type']).toMatch(/^application\/openmetrics-text/);
    expect(r.headers['content-encoding']).toBe('gzip');
    const text = gunzipSync(r.raw).toString('utf8');
    expect(text.endsWith('# EOF\n')).toBe(true);
    expect(Buffer.from(text).equals(Buffer.concat(body('openmetrics')))).toBe(true);
  });

  it('HEAD with gzip carries the headers a GET would, and no body', async () => {
    await start();
    const get = await call({ 'Accept-Encoding': 'gzip' });
    const head = await call({ 'Accept-Encoding': 'gzip' }, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.raw.length).toBe(0);
    expect(head.headers['content-encoding']).toBe('gzip');
    expect(head.headers.vary).toBe('Accept-Encoding');
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
    const plainHead = await call({}, 'HEAD');
    expect(plainHead.headers['content-encoding']).toBeUndefined();
    expect(Number(plainHead.headers['content-length'])).toBe(Buffer.concat(body('text')).length);
  });
});
