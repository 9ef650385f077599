import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CallbacksPart } from '../../src/callbacks/part.js';
import { callbackSignature } from '../../src/callbacks/verify.js';
import { Secret } from '../../src/config/secret.js';
import type { CallbacksConfig, Config } from '../../src/config/types.js';
import type { PartContext } from '../../src/parts/part.js';
import { StateStore } from '../../src/state/store.js';

const APP = 4321;
const CB_SECRET = 'cb-secret-value';

function config(streams: string[], callbacks: Partial<CallbacksConfig> | null): Config {
  return {
    zego: {
      appId: APP,
      serverSecret: new Secret('0123456789abcdef0123456789abcdef'),
      endpoint: 'http://127.0.0.1:9',
      isTest: false,
      rateLimit: 10,
      streamListRateLimit: 40,
      userNumRateLimit: 8,
      timeoutMs: 2000,
    },
    probe: { intervalMs: 15_000, maxRoomStreams: 1000 },
    streams: streams.map((id) => ({ id, intervalMs: 10_000, labels: {} })),
    ...(callbacks ? { callbacks: { secret: new Secret(CB_SECRET), path: '/zego/callback', ...callbacks } } : {}),
  };
}

interface Harness {
  part: CallbacksPart;
  store: StateStore;
  logs: { msg: string; [k: string]: unknown }[];
  changes: () => number;
}

const parts: CallbacksPart[] = [];
const servers: ReturnType<typeof createServer>[] = [];

afterEach(async () => {
  for (const p of parts.splice(0)) await p.stop(0);
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** The part with the context the Exporter would give it: the watched set follows watchAdded/watchRemoved/watchedChanged. */
function harness(cfg: Config): Harness {
  const logs: Harness['logs'] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Harness['logs'][number]) });
  const store = new StateStore({ logger, now: Date.now });
  let changes = 0;
  // Called only once `part` exists (the part calls back after its construction).
  const watch = (): void => store.setStreams([...cfg.streams, ...part.watched()]);
  const ctx: PartContext = {
    logger,
    now: Date.now,
    store,
    recordCallback: () => undefined,
    recordApiCall: () => undefined,
    roomApi: {
      describeSimpleStreamList: () => Promise.reject(new Error('the callbacks part calls no room API')),
      describeUserNum: () => Promise.reject(new Error('the callbacks part calls no room API')),
    },
    watchAdded: (w) => {
      changes++;
      store.add(w);
    },
    watchRemoved: (id) => {
      changes++;
      store.remove(id);
    },
    watchedChanged: () => {
      changes++;
      watch();
    },
    rateChanged: () => undefined,
  };
  const part = new CallbacksPart(cfg, ctx);
  parts.push(part);
  watch();
  return { part, store, logs, changes: () => changes };
}

function streamCreate(id: string): string {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = String(Math.floor(Math.random() * 1e12));
  const fields = {
    appid: String(APP),
    event: 'stream_create',
    stream_id: id,
    stream_seq: '1',
    create_time_ms: String(Date.now()),
    timestamp,
    nonce,
    signature: callbackSignature(CB_SECRET, timestamp, nonce),
  };
  return new URLSearchParams(fields).toString();
}

function post(url: string, body: string): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
}

/** Enough of a request for the route to decide that it is not the callbacks' (it touches nothing else then). */
const probeReq = (url: string): IncomingMessage => ({ url }) as IncomingMessage;

describe('CallbacksPart', () => {
  it('serves callbacks on its own listener only, and a discovered stream joins the watched set at the probe interval', async () => {
    const h = harness(
      config(['listed'], { listenAddress: '127.0.0.1:0', discover: { patterns: ['cam-*'], maxStreams: 5, forgetAfterMs: 600_000, streamsSeverity: 'none' } }),
    );
    await h.part.start();
    const url = h.logs.find((l) => l.msg === 'callbacks listening')?.['address'] as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // Not on the main listener: the own listener exists.
    expect(h.part.route(probeReq('/zego/callback'), {} as ServerResponse)).toBe(false);
    expect(h.part.landing()).toBe(`Callbacks: /zego/callback on their own listener ${url}; 0 streams discovered.`);

    expect((await post(`${url}/zego/callback`, streamCreate('cam-9'))).status).toBe(200);
    expect(h.changes()).toBe(1);
    expect([...h.part.watched()]).toEqual([{ id: 'cam-9', intervalMs: 15_000, labels: { severity: 'none' }, origin: 'callback' }]);
    expect(h.store.get('cam-9')?.active).toBe(true);
    expect(h.part.gauges[0]!.read()).toBe(1);
    // Nothing else is served there.
    expect((await fetch(`${url}/metrics`)).status).toBe(404);
  });

  it('on the main listener: a stream the reloaded config lists stops being discovered; callbacks turned off leave nothing watched or routed', async () => {
    const discover = { patterns: ['cam-*'], maxStreams: 5, forgetAfterMs: 600_000, streamsSeverity: 'none' };
    const h = harness(config([], { discover }));
    await h.part.start();
    const main = createServer((req, res) => {
      if (!h.part.route(req, res)) res.writeHead(404).end();
    });
    servers.push(main);
    await new Promise<void>((r) => main.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(main.address() as AddressInfo).port}/zego/callback`;
    expect(h.part.landing()).toBe('Callbacks: /zego/callback on this listener; 0 streams discovered.');

    expect((await post(url, streamCreate('cam-1'))).status).toBe(200);
    expect([...h.part.watched()].map((w) => w.id)).toEqual(['cam-1']);
    h.part.applyConfig(config(['cam-1'], { discover }));
    expect([...h.part.watched()]).toEqual([]);
    expect(h.part.gauges[0]!.read()).toBe(0);

    expect((await post(url, streamCreate('cam-2'))).status).toBe(200);
    expect([...h.part.watched()].map((w) => w.id)).toEqual(['cam-2']);
    h.part.applyConfig(config([], { discover, secretFile: 'cb-secret-file' }));
    expect(h.part.files()).toEqual(['cb-secret-file']);
    h.part.applyConfig(config([], null));
    expect(h.part.files()).toEqual([]);
    expect([...h.part.watched()]).toEqual([]);
    expect(h.part.landing()).toBeNull();
    expect((await post(url, streamCreate('cam-3'))).status).toBe(404);
  });

  it('discover.streams_severity opts discovered streams in: they carry that severity, and a reload changes it', async () => {
    const discover = { patterns: ['cam-*'], maxStreams: 5, forgetAfterMs: 600_000, streamsSeverity: 'warning' };
    const h = harness(config([], { listenAddress: '127.0.0.1:0', discover }));
    await h.part.start();
    const url = h.logs.find((l) => l.msg === 'callbacks listening')?.['address'] as string;
    expect((await post(`${url}/zego/callback`, streamCreate('cam-1'))).status).toBe(200);
    expect(h.store.get('cam-1')).toMatchObject({ labels: { severity: 'warning' }, origin: 'callback' });
    h.part.applyConfig(config([], { listenAddress: '127.0.0.1:0', discover: { ...discover, streamsSeverity: 'none' } }));
    expect([...h.part.watched()]).toEqual([{ id: 'cam-1', intervalMs: 15_000, labels: { severity: 'none' }, origin: 'callback' }]);
  });

  it('a taken listen_address: start() logs why and rejects', async () => {
    const busy = createServer();
    servers.push(busy);
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const address = `127.0.0.1:${(busy.address() as AddressInfo).port}`;
    const h = harness(config([], { listenAddress: address }));
    await expect(h.part.start()).rejects.toThrow(/EADDRINUSE/);
    expect(h.logs.find((l) => l.msg === 'cannot listen for callbacks')?.['address']).toBe(address);
  });
});
