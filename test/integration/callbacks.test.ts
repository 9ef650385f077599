import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { activeValue, APP_ID, CALLBACK_SECRET, measureCallbackLatency, startHarness, type Harness } from '../../bench/callbacks.js';
import { callbackSignature } from '../../src/callbacks/verify.js';
import { eventually, scrape } from '../helpers/exporter-process.js';

let h: Harness | null = null;
afterEach(async () => {
  await h?.stop();
  h = null;
});

const nowSec = (): number => Math.floor(Date.now() / 1000);

describe('callbacks over HTTP (simulator sender → exporter receiver → /metrics)', () => {
  it('a signed callback shows on /metrics within a second, long before the next probe', async () => {
    h = await startHarness(['cb-1'], { intervalMs: 60_000 });
    h.sim.setStream('cb-1', { state: 'closed', createTime: nowSec() - 10, closeTime: nowSec() - 5 });
    await eventually(
      () => activeValue(h!.http.url, 'cb-1'),
      (v) => v === 0,
    );
    const state = { state: 'active', createTime: nowSec() } as const;
    h.sim.setStream('cb-1', state);
    const t0 = Date.now();
    expect(await h.sender.onStream('cb-1', state)).toBe(200);
    await eventually(
      () => activeValue(h!.http.url, 'cb-1'),
      (v) => v === 1,
      1000,
      10,
    );
    expect(Date.now() - t0).toBeLessThan(1000);
    const m = await scrape(h.http.url);
    expect(m.get('zego_stream_state_source{stream_id="cb-1",source="callback"}')).toBe(1);
    expect(m.get('zego_exporter_callbacks_total{event="stream_create",result="accepted"}')).toBe(1);
  });

  it('forged and replayed callbacks change nothing and get 4xx', async () => {
    h = await startHarness(['cb-1']);
    await eventually(
      () => activeValue(h!.http.url, 'cb-1'),
      (v) => v === 0,
    );
    const ts = String(nowSec());
    const post = (body: Record<string, string>): Promise<Response> =>
      fetch(`${h!.cbUrl}/zego/callback`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const ev = { event: 'stream_create', stream_id: 'cb-1', stream_seq: '1', create_time_ms: String(Date.now()) };
    const forged = await post({ ...ev, timestamp: ts, nonce: '1', signature: callbackSignature('guess', ts, '1') });
    expect(forged.status).toBe(401);
    const big = await fetch(`${h.cbUrl}/zego/callback`, { method: 'POST', body: 'x'.repeat(100_000) });
    expect(big.status).toBe(413);
    const m = await scrape(h.http.url);
    expect(m.get('zego_stream_active{stream_id="cb-1"}')).toBe(0);
    expect(m.get('zego_exporter_callbacks_total{event="stream_create",result="bad_signature"}')).toBe(1);
    expect(m.get('zego_exporter_callbacks_total{event="other",result="too_large"}')).toBe(1);
  });

  it('a lost callback is repaired by the next probe', async () => {
    h = await startHarness(['cb-1'], { intervalMs: 1000 });
    const up = { state: 'active', createTime: nowSec() } as const;
    h.sim.setStream('cb-1', up);
    expect(await h.sender.onStream('cb-1', up)).toBe(200);
    await eventually(
      () => activeValue(h!.http.url, 'cb-1'),
      (v) => v === 1,
      5000,
    );
    h.sender.setDropRate(1);
    const closed = { state: 'closed', createTime: nowSec() - 1, closeTime: nowSec() } as const;
    h.sim.setStream('cb-1', closed);
    expect(await h.sender.onStream('cb-1', closed)).toBeNull(); // lost
    expect(h.sender.stats.dropped).toBe(1);
    await eventually(
      () => activeValue(h!.http.url, 'cb-1'),
      (v) => v === 0,
      5000,
    );
    const m = await scrape(h.http.url);
    expect(m.get('zego_stream_state_source{stream_id="cb-1",source="probe"}')).toBe(1);
  });

  it('a probe in flight when a callback arrives cannot undo it', async () => {
    h = await startHarness(['cb-1'], { intervalMs: 1000 });
    h.sim.setStream('cb-1', { state: 'closed', createTime: nowSec() - 10, closeTime: nowSec() - 5 });
    await eventually(
      () => activeValue(h!.http.url, 'cb-1'),
      (v) => v === 0,
      5000,
    );
    // Every answer now takes 600 ms and reflects the table when the request arrived.
    h.sim.setFaults({ latencyMs: 600 });
    h.sim.resetStats();
    await eventually(
      async () => h!.sim.stats().arrivals,
      (n) => n >= 1,
      3000,
      5,
    );
    const up = { state: 'active', createTime: nowSec() } as const;
    h.sim.setStream('cb-1', up);
    expect(await h.sender.onStream('cb-1', up)).toBe(200);
    expect(await activeValue(h.http.url, 'cb-1')).toBe(1);
    // The in-flight probe answers "closed" now; the stream must stay up throughout.
    const until = Date.now() + 900;
    while (Date.now() < until) {
      expect(await activeValue(h.http.url, 'cb-1')).toBe(1);
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  it('retries with the injected schedule until the receiver accepts', async () => {
    h = await startHarness(['cb-1'], { retryGapsMs: [50, 50, 50, 50, 50] });
    // The exporter refuses a callback it cannot verify; once it can (here: a signature made with
    // the right secret), ZEGO's retry gets through. Use a wrong app id first to force a 403.
    const { CallbackSender } = await import('../../simulator/callbacks.js');
    const wrong = new CallbackSender({ url: `${h.cbUrl}/zego/callback`, appId: 1, secret: 'bench-callback-secret', retryGapsMs: [20, 20] });
    expect(await wrong.send(wrong.createEvent('cb-1', Date.now()))).toBe(403);
    await eventually(
      async () => wrong.stats,
      (s) => s.gaveUp === 1,
      2000,
      10,
    );
    expect(wrong.stats).toMatchObject({ sent: 3, retried: 2, delivered: 0, gaveUp: 1 });
    wrong.close();
  });

  it('a delivery that fails is retried on the schedule until the receiver gets it, and the state arrives', async () => {
    h = await startHarness(['cb-1']);
    await eventually(
      () => activeValue(h!.http.url, 'cb-1'),
      (v) => v === 0,
    );
    // A relay in front of the receiver that is "down" (503) for the first two attempts.
    let refused = 0;
    const relay = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        if (refused < 2) {
          refused++;
          res.writeHead(503).end();
          return;
        }
        fetch(`${h!.cbUrl}/zego/callback`, { method: 'POST', headers: { 'Content-Type': req.headers['content-type'] ?? '' }, body: Buffer.concat(parts) })
          .then(async (r) => res.writeHead(r.status).end(await r.text()))
          .catch(() => res.writeHead(502).end());
      });
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const { CallbackSender } = await import('../../simulator/callbacks.js');
    const sender = new CallbackSender({
      url: `http://127.0.0.1:${(relay.address() as AddressInfo).port}/zego/callback`,
      appId: APP_ID,
      secret: CALLBACK_SECRET,
      retryGapsMs: [30, 30, 30],
    });
    try {
      expect(await sender.onStream('cb-1', { state: 'active', createTime: nowSec() })).toBe(503);
      await eventually(
        async () => sender.stats,
        (s) => s.delivered === 1,
        3000,
        10,
      );
      expect(sender.stats).toMatchObject({ sent: 3, retried: 2, delivered: 1, gaveUp: 0 });
      const m = await scrape(h.http.url);
      expect(m.get('zego_exporter_callbacks_total{event="stream_create",result="accepted"}')).toBe(1);
      expect(m.get('zego_stream_state_source{stream_id="cb-1",source="callback"}')).toBe(1);
    } finally {
      sender.close();
      await new Promise((r) => relay.close(r));
    }
  });

  it('measures callback-to-/metrics latency', async () => {
    const r = await measureCallbackLatency(12);
    console.log(`callback → /metrics: p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms (n=${r.n})`);
    expect(r.n).toBe(12);
    expect(r.p99Ms).toBeLessThan(1000);
  });
});

describe('callbacks in the real process', () => {
  it('serves callbacks only on their own listener; the main listener answers their path 410 naming the port, counts it and warns once', async () => {
    const { startSimulator, CallbackSender } = await import('../../simulator/index.js');
    const { startExporter, stopAll } = await import('../helpers/exporter-process.js');
    const sim = await startSimulator({ apps: [{ appId: 777, secret: 'srv-secret' }] });
    try {
      const exp = await startExporter(
        `zego:\n  app_id: 777\n  server_secret: \${S}\n  endpoint: ${sim.url}\ncallbacks:\n  secret: \${CB}\n  listen_address: "127.0.0.1:0"\nprobe:\n  interval: 60s\nstreams: [p-1]\n`,
        { env: { S: 'srv-secret', CB: 'cb-secret' } },
      );
      const cbUrl = await exp.callbackUrl();
      const started = exp.logs().find((l) => l.msg === 'callbacks listening');
      expect(started).toMatchObject({ path: '/zego/callback', tls: 'off' });
      // listen_address was set: no migration note.
      expect(started?.['note']).toBeUndefined();
      // The callback listener answers the callback path and nothing else.
      for (const path of ['/metrics', '/-/reload', '/-/healthy', '/-/ready', '/']) {
        expect((await fetch(`${cbUrl}${path}`, { method: path === '/-/reload' ? 'POST' : 'GET' })).status, path).toBe(404);
      }
      const port = new URL(cbUrl).port;
      for (let i = 0; i < 3; i++) {
        const old = await fetch(`${exp.url}/zego/callback`, { method: 'POST', body: 'x' });
        expect(old.status).toBe(410);
        expect(await old.text()).toContain(`port ${port}`);
      }
      const sender = new CallbackSender({ url: `${cbUrl}/zego/callback`, appId: 777, secret: 'cb-secret', encoding: 'json' });
      expect(await sender.onStream('p-1', { state: 'active', createTime: nowSec() })).toBe(200);
      const m = await scrape(exp.url);
      expect(m.get('zego_stream_active{stream_id="p-1"}')).toBe(1);
      expect(m.get('zego_exporter_callbacks_misdirected_total')).toBe(3);
      expect(exp.logs().filter((l) => String(l.msg).startsWith('a request to the callback path reached the main listener'))).toHaveLength(1);
      expect(exp.stderr()).not.toContain('cb-secret');
      sender.close();
    } finally {
      await stopAll();
      await sim.close();
    }
  });
});
