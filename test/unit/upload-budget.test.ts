import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { callbackRoute, CallbackReceiver, type ReceiverOptions } from '../../src/callbacks/receiver.js';
import { clientKey, parseTrustedProxies } from '../../src/http/client-key.js';
import { CallbackVerifier } from '../../src/callbacks/verify.js';
import { Secret } from '../../src/config/secret.js';
import { BodyBudget } from '../../src/http/body-budget.js';
import { startHttpServer, type RunningServer } from '../../src/http/server.js';

const KB = 1024;
let running: RunningServer | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await running?.close(100);
  running = undefined;
});

/** The main server with the callback path routed to a receiver whose body budget is `budgetBytes`. */
async function start(
  budgetBytes: number,
  extra: Pick<ReceiverOptions, 'clientKey' | 'minUpload'> & { perClientBytes?: number } = {},
): Promise<{ budget: BodyBudget; counts: Map<string, number> }> {
  const budget = new BodyBudget(budgetBytes, extra.perClientBytes ?? budgetBytes);
  const counts = new Map<string, number>();
  const receiver = new CallbackReceiver({
    verifier: new CallbackVerifier({ secret: new Secret('cb-secret') }),
    appId: () => 1,
    apply: () => 'unwatched',
    record: (event, result) => counts.set(`${event}/${result}`, (counts.get(`${event}/${result}`) ?? 0) + 1),
    logger: pino({ level: 'silent' }),
    bodyBudget: budget,
    ...(extra.clientKey ? { clientKey: extra.clientKey } : {}),
    ...(extra.minUpload ? { minUpload: extra.minUpload } : {}),
  });
  running = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    logger: pino({ level: 'silent' }),
    handlers: {
      metrics: async () => 'up 1\n',
      ready: () => ({ ready: true }),
      landingPage: () => '<html></html>',
      extra: callbackRoute(
        () => '/zego/callback',
        () => receiver,
      ),
    },
  });
  return { budget, counts };
}

/** Sends headers and `sent` bytes of a `declared`-byte body (chunked when declared is null), then stalls. */
function stalledUpload(declared: number | null, sent: number, extraHeaders = ''): { sock: Socket; got: () => string; closed: Promise<void> } {
  const url = new URL(running!.url);
  const sock = connect(Number(url.port), url.hostname);
  sockets.push(sock);
  let got = '';
  sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
  sock.on('error', () => undefined);
  const closed = new Promise<void>((r) => sock.on('close', () => r()));
  const length = declared === null ? 'Transfer-Encoding: chunked' : `Content-Length: ${declared}`;
  sock.write(`POST /zego/callback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${extraHeaders}${length}\r\n\r\n`);
  const body = 'x'.repeat(sent);
  sock.write(declared === null ? `${sent.toString(16)}\r\n${body}\r\n` : body);
  return { sock, got: () => got, closed };
}

function get(path: string, method = 'GET', body?: string): Promise<{ status: number; text: string; ms: number }> {
  const url = new URL(running!.url);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path, method, agent: false, headers: body ? { 'content-type': 'application/json' } : {} },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, ms: performance.now() - t0 }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('in-flight request body budget', () => {
  it('stalled uploads hold at most the budget; a further callback is refused at once with 503; /metrics keeps answering; all is released on close', async () => {
    const { budget, counts } = await start(4 * 64 * KB);
    const uploads = Array.from({ length: 12 }, () => stalledUpload(64 * KB, 60 * KB));
    // Four fit (reserved by their declared length); the other eight are answered 503 and closed.
    await until(() => uploads.filter((u) => u.got().startsWith('HTTP/1.1 503')).length === 8);
    expect(budget.held).toBe(4 * 64 * KB);
    expect(budget.held).toBeLessThanOrEqual(budget.limitBytes);
    const refused = uploads.find((u) => u.got().startsWith('HTTP/1.1 503'))!;
    expect(refused.got()).toMatch(/Retry-After: 1/i);
    await refused.closed;

    const late = await get('/zego/callback', 'POST', '{"event":"stream_create"}');
    expect(late.status).toBe(503);
    expect(late.ms).toBeLessThan(1000);
    expect(counts.get('other/overloaded')).toBe(9);

    const metrics = await get('/metrics');
    expect(metrics).toMatchObject({ status: 200, text: 'up 1\n' });
    expect((await get('/-/healthy')).status).toBe(200);

    for (const u of uploads) u.sock.destroy();
    await until(() => budget.held === 0);
    // With the budget free again, a callback is read and judged on its merits (here: unsigned).
    expect((await get('/zego/callback', 'POST', '{"event":"stream_create"}')).status).toBe(400);
    expect(budget.held).toBe(0);
  });

  it('a body without a declared length is counted chunk by chunk against the same budget', async () => {
    const { budget } = await start(100 * KB);
    const a = stalledUpload(null, 60 * KB);
    await until(() => budget.held === 60 * KB);
    const b = stalledUpload(null, 60 * KB);
    await until(() => b.got().startsWith('HTTP/1.1 503'));
    expect(budget.held).toBe(60 * KB);
    a.sock.destroy();
    await until(() => budget.held === 0);
  });

  it('a finished callback releases its bytes (nothing leaks per request)', async () => {
    const { budget } = await start(64 * KB);
    for (let i = 0; i < 20; i++) expect((await get('/zego/callback', 'POST', `{"n":"${'y'.repeat(30 * KB)}"}`)).status).toBe(400);
    expect(budget.held).toBe(0);
  });

  it('a chunked body of 1-byte chunks costs memory near its size, not a buffer object per byte', async () => {
    const { budget } = await start(16 * 1024 * KB);
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage().heapUsed;
    const url = new URL(running!.url);
    for (let i = 0; i < 3; i++) {
      const sock = connect(Number(url.port), url.hostname);
      sockets.push(sock);
      sock.on('error', () => undefined);
      sock.write('POST /zego/callback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
      sock.write('1\r\nx\r\n'.repeat(60_000));
    }
    await until(() => budget.held >= 3 * 60_000, 20_000);
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // 180 000 bytes of bodies; one Buffer kept per chunk was ~100 bytes of heap for each.
    expect(grown).toBeLessThan(4 * 1024 * KB);
    expect(budget.held).toBeLessThanOrEqual(3 * 64 * KB);
  }, 30_000);

  it("one client may hold only its share of the budget; another client's callbacks still fit, and behind a trusted proxy the client is the forwarded address", async () => {
    const proxies = parseTrustedProxies(['127.0.0.1']);
    if (!proxies.ok) throw new Error(proxies.message);
    const { budget, counts } = await start(8 * 64 * KB, { perClientBytes: 2 * 64 * KB, clientKey: (req) => clientKey(req, proxies.value) });
    const from = (ip: string): string => `X-Forwarded-For: ${ip}\r\n`;
    const a = [stalledUpload(64 * KB, 1, from('203.0.113.1')), stalledUpload(64 * KB, 1, from('203.0.113.1'))];
    await until(() => budget.heldBy('203.0.113.1') === 2 * 64 * KB);
    const third = stalledUpload(64 * KB, 1, from('203.0.113.1'));
    await until(() => third.got().startsWith('HTTP/1.1 503'));
    expect(third.got()).toContain('over its 131072-byte share');
    // The same proxy, another client: its own share.
    const b = stalledUpload(64 * KB, 1, from('198.51.100.9'));
    await until(() => budget.heldBy('198.51.100.9') === 64 * KB);
    expect(budget.held).toBe(3 * 64 * KB);
    expect(counts.get('other/overloaded')).toBe(1);
    for (const u of [...a, b]) u.sock.destroy();
    await until(() => budget.held === 0 && budget.heldBy('203.0.113.1') === 0);
  });

  it('a body slower than the minimum upload rate is answered 408 after the grace period and its reservation freed at once', async () => {
    const { budget, counts } = await start(8 * 64 * KB, { minUpload: { bytesPerSecond: 1000, graceMs: 200 } });
    const slow = stalledUpload(64 * KB, 10);
    await until(() => budget.held === 64 * KB);
    const t0 = performance.now();
    await until(() => slow.got().startsWith('HTTP/1.1 408'), 3000);
    expect(performance.now() - t0).toBeLessThan(2500);
    expect(budget.held).toBe(0);
    expect(counts.get('other/too_slow')).toBe(1);
    await slow.closed;
    // A body that arrives at once is not touched by the rule.
    expect((await get('/zego/callback', 'POST', '{"event":"stream_create"}')).status).toBe(400);
  });
});
