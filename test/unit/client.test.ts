import { getEventListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { action, type ActionRow, type CallResult } from '../../src/api/actions.js';
import { Secret } from '../../src/config/secret.js';
import { ZegoClient, type ZegoClientOptions } from '../../src/zego/client.js';
import { SequenceCounter } from '../../src/zego/sequence.js';
import { readEnvelope } from '../../src/zego/response.js';
import { signature } from '../../src/zego/sign.js';

const APP_ID = 123456789;
const SECRET = '9193cc662a4c0ec135ec71fb57194b38';
const ACTIVE = '{"Code":0,"Message":"ok","RequestId":"1","Data":{"create_time":"1673334117","close_time":""}}';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface FakeApi {
  url: string;
  requests: { url: URL; rawUrl: string; socket: Socket }[];
  connections: number;
  setHandler(h: Handler): void;
}

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function fakeApi(initial: Handler = (_req, res) => res.end(ACTIVE)): Promise<FakeApi> {
  let handler = initial;
  const sockets = new Set<Socket>();
  const api: FakeApi = {
    url: '',
    requests: [],
    connections: 0,
    setHandler: (h) => (handler = h),
  };
  const server: Server = createServer((req, res) => {
    api.requests.push({ url: new URL(req.url ?? '/', 'http://x'), rawUrl: req.url ?? '', socket: req.socket });
    handler(req, res);
  });
  server.on('connection', (s: Socket) => {
    api.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return api;
}

function client(endpoint: string, opts: Partial<ZegoClientOptions> = {}): ZegoClient {
  const c = new ZegoClient({
    appId: APP_ID,
    secret: new Secret(SECRET),
    endpoint,
    isTest: false,
    timeoutMs: 2000,
    sequence: new SequenceCounter(),
    ...opts,
  });
  cleanups.push(() => c.close());
  return c;
}

describe('ZegoClient request', () => {
  it('sends every common parameter, signed as sign.ts does', async () => {
    const api = await fakeApi();
    const c = client(api.url);
    const before = Date.now();
    const r = await c.describeStreamState('cam-1');
    expect(r.code).toBe('0');
    expect(r.outcome).toEqual({ kind: 'active', createTimeSec: 1673334117 });
    expect(api.requests).toHaveLength(1);
    const q = api.requests[0]!.url.searchParams;
    expect(q.get('Action')).toBe('DescribeRTCStreamState');
    expect(q.get('AppId')).toBe(String(APP_ID));
    const nonce = q.get('SignatureNonce')!;
    expect(nonce).toMatch(/^[0-9a-f]{16}$/);
    const ts = Number(q.get('Timestamp'));
    expect(q.get('Timestamp')).toMatch(/^\d{10}$/);
    expect(Math.abs(ts * 1000 - before)).toBeLessThan(2000);
    expect(q.get('Signature')).toBe(signature(APP_ID, nonce, SECRET, ts));
    expect(q.get('SignatureVersion')).toBe('2.0');
    expect(q.get('StreamId')).toBe('cam-1');
    expect(q.get('Sequence')).toMatch(/^\d+$/);
    // ZEGO requires it of projects created before 2021-11-16: production says so explicitly.
    expect(q.get('IsTest')).toBe('false');
    expect(api.requests[0]!.url.pathname).toBe('/');
  });

  it('uses a fresh nonce and an increasing Sequence on every call', async () => {
    const api = await fakeApi();
    const c = client(api.url);
    for (let i = 0; i < 5; i++) await c.describeStreamState('cam-1');
    const nonces = api.requests.map((r) => r.url.searchParams.get('SignatureNonce'));
    const seqs = api.requests.map((r) => BigInt(r.url.searchParams.get('Sequence')!));
    expect(new Set(nonces).size).toBe(5);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]! > seqs[i - 1]!).toBe(true);
  });

  it('shares the Sequence counter between clients', async () => {
    const api = await fakeApi();
    const sequence = new SequenceCounter(() => 1000);
    await client(api.url, { sequence }).describeStreamState('a');
    await client(api.url, { sequence }).describeStreamState('a');
    expect(api.requests.map((r) => r.url.searchParams.get('Sequence'))).toEqual(['1000', '1001']);
  });

  it('sends IsTest=true and the prefixed StreamId in the test environment', async () => {
    const api = await fakeApi();
    await client(api.url, { isTest: true }).describeStreamState('test');
    const q = api.requests[0]!.url.searchParams;
    expect(q.get('IsTest')).toBe('true');
    expect(q.get('StreamId')).toBe('zegotest-123456789-test');
  });

  it('never puts the server secret in the URL', async () => {
    const api = await fakeApi();
    const c = client(api.url, { isTest: true });
    for (let i = 0; i < 3; i++) await c.describeStreamState('s');
    for (const r of api.requests) {
      expect(r.rawUrl).not.toContain(SECRET);
      expect(decodeURIComponent(r.rawUrl)).not.toContain(SECRET);
    }
    expect(c.buildUrl('s', Date.now()).toString()).not.toContain(SECRET);
  });

  it.each([
    ['no trailing slash', '', '/'],
    ['trailing slash', '/', '/'],
    ['path prefix', '/zego/api', '/zego/api/'],
    ['path prefix with trailing slash', '/zego/api/', '/zego/api/'],
  ])('endpoint with %s', async (_name, suffix, expectedPath) => {
    const api = await fakeApi();
    const r = await client(`${api.url}${suffix}`).describeStreamState('cam');
    expect(r.code).toBe('0');
    expect(api.requests[0]!.url.pathname).toBe(expectedPath);
    expect(api.requests[0]!.url.searchParams.get('Action')).toBe('DescribeRTCStreamState');
  });
});

describe('ZegoClient connection handling', () => {
  it('reuses one keep-alive connection for sequential calls', async () => {
    const api = await fakeApi();
    const c = client(api.url);
    for (let i = 0; i < 5; i++) {
      expect((await c.describeStreamState(`s${i}`)).code).toBe('0');
      // Calls are spaced by the budget in production; undici hands a connection back to its pool
      // a tick after the body ends, so back-to-back calls in one tick may open a second one.
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(api.requests).toHaveLength(5);
    expect(new Set(api.requests.map((r) => r.socket)).size).toBe(1);
    expect(api.connections).toBe(1);
  });

  it('times out a hung call within about timeoutMs as a transient failure', async () => {
    const api = await fakeApi(() => undefined); // never answers
    const c = client(api.url, { timeoutMs: 300 });
    const t0 = performance.now();
    const r = await c.describeStreamState('s');
    const took = performance.now() - t0;
    expect(r.code).toBe('timeout');
    expect(r.outcome).toMatchObject({ kind: 'failed', reason: 'transient' });
    expect(took).toBeGreaterThanOrEqual(280);
    expect(took).toBeLessThan(1500);
    expect(r.durationMs).toBeGreaterThanOrEqual(280);
  });

  it('times out a body that stalls after the headers', async () => {
    const api = await fakeApi((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"Code":0,');
    });
    const r = await client(api.url, { timeoutMs: 300 }).describeStreamState('s');
    expect(r.code).toBe('timeout');
    expect(r.outcome).toMatchObject({ kind: 'failed', reason: 'transient' });
  });

  it('reports a connection reset as network', async () => {
    const api = await fakeApi((req) => req.socket.destroy());
    const r = await client(api.url).describeStreamState('s');
    expect(r.code).toBe('network');
    expect(r.outcome).toMatchObject({ kind: 'failed', reason: 'transient' });
  });

  it('reports a refused connection as network', async () => {
    const api = await fakeApi();
    const url = api.url;
    await cleanups.pop()!(); // close the server: nothing listens there now
    const r = await client(url).describeStreamState('s');
    expect(r.code).toBe('network');
    expect(r.outcome.kind).toBe('failed');
  });

  it('rejects a body over 64 KiB as bad_response', async () => {
    const api = await fakeApi((_req, res) => res.end(JSON.stringify({ Code: 0, Message: 'x'.repeat(70 * 1024), Data: {} })));
    const r = await client(api.url).describeStreamState('s');
    expect(r.code).toBe('bad_response');
    expect(r.outcome).toMatchObject({ kind: 'failed', reason: 'error' });
  });

  it('accepts a body just under 64 KiB', async () => {
    const body = JSON.stringify({ Code: 0, Message: '', Data: { create_time: '1673334117', pad: 'x'.repeat(60 * 1024) } });
    const api = await fakeApi((_req, res) => res.end(body));
    const r = await client(api.url).describeStreamState('s');
    expect(r.code).toBe('0');
  });

  it('maps HTTP 503 with an HTML page to http_5xx', async () => {
    const api = await fakeApi((_req, res) => {
      res.writeHead(503, { 'content-type': 'text/html' });
      res.end('<html>down</html>');
    });
    const r = await client(api.url).describeStreamState('s');
    expect(r.code).toBe('http_5xx');
    expect(r.outcome).toMatchObject({ kind: 'failed', reason: 'transient' });
  });

  it('learns the clock offset from the Date header of a 3002 and shifts the next Timestamp', async () => {
    const api = await fakeApi((_req, res) => {
      res.setHeader('Date', new Date(Date.now() + 900_000).toUTCString());
      res.end('{"Code":3002,"Message":"timestamp error","RequestId":"r","Data":{}}');
    });
    const c = client(api.url);
    const r = await c.describeStreamState('s');
    expect(r.outcome).toMatchObject({ kind: 'failed', reason: 'clock_skew' });
    expect(Math.abs(c.clockOffsetMs - 900_000)).toBeLessThanOrEqual(2000);

    api.setHandler((_req, res) => res.end(ACTIVE));
    const now = Date.now();
    expect((await c.describeStreamState('s')).code).toBe('0');
    const q = api.requests[1]!.url.searchParams;
    const ts = Number(q.get('Timestamp'));
    expect(Math.abs(ts * 1000 - (now + 900_000))).toBeLessThanOrEqual(2000);
    expect(q.get('Signature')).toBe(signature(APP_ID, q.get('SignatureNonce')!, SECRET, ts));
  });

  it('ignores (and logs once) a Date header days away: the offset stays bounded', async () => {
    let date = new Date(Date.UTC(2100, 0, 1)).toUTCString();
    const api = await fakeApi((_req, res) => {
      res.setHeader('Date', date);
      res.end('{"Code":3002,"Message":"timestamp error","RequestId":"r","Data":{}}');
    });
    const warnings: unknown[] = [];
    const c = client(api.url, { logger: { warn: (...args: unknown[]) => void warnings.push(args) } as never });
    await c.describeStreamState('s');
    await c.describeStreamState('s');
    expect(c.clockOffsetMs).toBe(0);
    expect(warnings).toHaveLength(1);
    const before = Date.now();
    await c.describeStreamState('s');
    const ts = Number(api.requests[2]!.url.searchParams.get('Timestamp'));
    expect(Math.abs(ts * 1000 - before)).toBeLessThanOrEqual(2000);
    // A real skew after that is still learned.
    date = new Date(Date.now() + 900_000).toUTCString();
    await c.describeStreamState('s');
    expect(Math.abs(c.clockOffsetMs - 900_000)).toBeLessThanOrEqual(2000);
    expect(client(api.url, { clockOffsetMs: 2.3e12 }).clockOffsetMs).toBe(0);
  });

  it('does not learn an offset from the Date header of other answers', async () => {
    const api = await fakeApi((_req, res) => {
      res.setHeader('Date', new Date(Date.now() + 900_000).toUTCString());
      res.end(ACTIVE);
    });
    const c = client(api.url);
    await c.describeStreamState('s');
    expect(c.clockOffsetMs).toBe(0);
  });

  it('an external AbortSignal aborts a hung call', async () => {
    const api = await fakeApi(() => undefined);
    const c = client(api.url, { timeoutMs: 10_000 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('stream removed')), 100);
    const t0 = performance.now();
    const r = await c.describeStreamState('s', ac.signal);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(r.outcome.kind).toBe('failed');
    expect(r.code).not.toBe('timeout');
  });

  it('an already aborted signal does not wait for the timeout', async () => {
    const api = await fakeApi(() => undefined);
    const c = client(api.url, { timeoutMs: 10_000 });
    const t0 = performance.now();
    const r = await c.describeStreamState('s', AbortSignal.abort(new Error('gone')));
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(r.outcome.kind).toBe('failed');
    expect(r.code).not.toBe('timeout');
  });

  it("removes its abort listener from the caller's signal after every call", async () => {
    const api = await fakeApi();
    const c = client(api.url);
    const outer = new AbortController();
    for (let i = 0; i < 30; i++) await c.describeStreamState('s', outer.signal);
    await Promise.all(Array.from({ length: 5 }, () => c.describeStreamState('s', outer.signal)));
    expect(getEventListeners(outer.signal, 'abort')).toEqual([]);
  });

  it('records sentAtMs and durationMs', async () => {
    const api = await fakeApi((_req, res) => setTimeout(() => res.end(ACTIVE), 50));
    const before = Date.now();
    const r = await client(api.url).describeStreamState('s');
    expect(r.sentAtMs).toBeGreaterThanOrEqual(before);
    expect(r.sentAtMs).toBeLessThanOrEqual(Date.now());
    expect(r.durationMs).toBeGreaterThanOrEqual(40);
  });
});

describe('ZegoClient.call: any row of the Actions table', () => {
  /** A made-up Action: the client learns everything it needs from the row. */
  const row = (over: Partial<ActionRow<string, CallResult>> = {}): ActionRow<string, CallResult> =>
    action<string, CallResult>({
      name: 'DescribeMadeUp',
      path: 'v2/',
      method: 'GET',
      limit: { production: 5, test: 1 },
      rate: { default: { production: 4, test: 1 } },
      sequence: false,
      maxBodyBytes: 100,
      codes: 'room',
      params: (id) => [['Thing', id]],
      parse: (status, body) => {
        const read = readEnvelope(status, body);
        return read.ok ? { code: String(read.envelope.code), outcome: { kind: 'ok' } } : read.failed;
      },
      result: (call) => call,
      ...over,
    });

  it("signs the row's Action on the row's path, adds a Sequence only when the row carries one, and caps the body at the row's size", async () => {
    const api = await fakeApi((_req, res) => res.end('{"Code":0,"Data":{}}'));
    const c = client(api.url, { sequence: new SequenceCounter(() => 5_000) });
    expect((await c.call(row(), 'x')).outcome).toEqual({ kind: 'ok' });
    const plain = api.requests[0]!.url;
    expect(plain.pathname).toBe('/v2/');
    expect([plain.searchParams.get('Action'), plain.searchParams.get('Thing'), plain.searchParams.has('Sequence')]).toEqual(['DescribeMadeUp', 'x', false]);
    const ts = Number(plain.searchParams.get('Timestamp'));
    expect(plain.searchParams.get('Signature')).toBe(signature(APP_ID, plain.searchParams.get('SignatureNonce')!, SECRET, ts));

    await c.call(row({ sequence: true }), 'y', undefined, 777_000);
    expect(api.requests[1]!.url.searchParams.get('Sequence')).toBe('777000');

    api.setHandler((_req, res) => res.end(`{"Code":0,"Data":{"Pad":"${'p'.repeat(100)}"}}`));
    expect(await c.call(row(), 'z')).toMatchObject({ code: 'bad_response', outcome: { kind: 'failed', message: 'response body over 100 bytes' } });
    expect((await c.call(row({ maxBodyBytes: 1000 }), 'z')).code).toBe('0');
  });

  it('rejects an input the row refuses before anything is sent or a Sequence spent', async () => {
    const api = await fakeApi();
    const sequence = new SequenceCounter(() => 5_000);
    const c = client(api.url, { sequence });
    await expect(c.describeUserNum([])).rejects.toThrow(RangeError);
    await expect(
      c.call(
        row({
          sequence: true,
          params: () => {
            throw new RangeError('bad thing');
          },
        }),
        'x',
      ),
    ).rejects.toThrow('bad thing');
    expect(api.requests).toHaveLength(0);
    expect(sequence.last).toBe(0);
  });
});
