import { createServer } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { pino } from 'pino';
import bcrypt from 'bcryptjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CallbacksPart } from '../../src/callbacks/part.js';
import { callbackSignature } from '../../src/callbacks/verify.js';
import { Secret } from '../../src/config/secret.js';
import type { CallbacksConfig, Config } from '../../src/config/types.js';
import { parseWebConfig } from '../../src/http/web-config.js';
import { WebSecurity } from '../../src/http/web-security.js';
import type { StateStore, WatchedStream } from '../../src/state/store.js';
import { discovering } from '../helpers/discovery.js';
import { fakePartContext } from '../helpers/part-context.js';
import { MixEvents, type MixCallbackEvent } from '../../src/state/mix-events.js';
import { makePki, removePkis, type Pki } from '../helpers/certs.js';
import { httpsRequest, plainHttpGet } from '../helpers/https.js';

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
      mixTaskInfoRateLimit: 8,
      timeoutMs: 2000,
    },
    probe: { intervalMs: 15_000, maxRoomStreams: 1000, roomStreamsForgetAfterMs: 3_600_000 },
    streams: streams.map((id) => ({ id, intervalMs: 10_000, labels: {} })),
    ...(callbacks
      ? {
          callbacks: {
            secret: new Secret(CB_SECRET),
            path: '/zego/callback',
            listenAddress: '127.0.0.1:0',
            listenAddressDefault: false,
            tls: 'off',
            fanoutAcceptUnsigned: false,
            ...callbacks,
          },
        }
      : {}),
  };
}

interface Harness {
  part: CallbacksPart;
  store: StateStore;
  logs: { msg: string; [k: string]: unknown }[];
  /** Streams that started being watched through discovery, one by one. */
  changes: () => number;
  /** What discovery watches (the part's callback-discovered streams). */
  watched: () => WatchedStream[];
  /** A reload as the Exporter does it: discovery takes the config, then the part, then the watched set. */
  reload: (cfg: Config) => void;
}

const parts: CallbacksPart[] = [];
const servers: ReturnType<typeof createServer>[] = [];

afterEach(async () => {
  for (const p of parts.splice(0)) await p.stop(0);
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** The part with the context the Exporter would give it: the real discovery service over the store. */
function harness(cfg: Config, web?: WebSecurity, mix?: MixEvents): Harness {
  const logs: Harness['logs'] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Harness['logs'][number]) });
  const d = discovering(cfg, logger);
  let changes = 0;
  const ctx = fakePartContext({
    logger,
    ...d.ctx,
    discover: (id, labels, source) => {
      const r = d.ctx.discover(id, labels, source);
      if (r === 'added') changes++;
      return r;
    },
    ...(web ? { web } : {}),
    ...(mix ? { mix } : {}),
  });
  const part = new CallbacksPart(cfg, ctx);
  parts.push(part);
  return { part, store: d.store, logs, changes: () => changes, watched: d.watched, reload: (c) => d.reload(c, () => part.applyConfig(c)) };
}

function streamCreate(id: string, secret = CB_SECRET): string {
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
    signature: callbackSignature(secret, timestamp, nonce),
  };
  return new URLSearchParams(fields).toString();
}

function post(url: string, body: string): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
}

/** A stand-in main listener: the part's route first, then 404 (as the exporter's router does for unknown paths). */
async function mainListener(part: CallbacksPart): Promise<string> {
  const main = createServer((req, res) => {
    if (!part.route(req, res)) res.writeHead(404).end();
  });
  servers.push(main);
  await new Promise<void>((r) => main.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(main.address() as AddressInfo).port}`;
}

describe('CallbacksPart', () => {
  it('mix_start / mix_stop on the same path and secret, told apart by event: verified, replay-checked and handed to the core hand-off', async () => {
    const mix = new MixEvents();
    const got: MixCallbackEvent[] = [];
    mix.handle((e) => {
      got.push(e);
      return e.rawTaskId === `${APP}:show` ? 'accepted' : 'unwatched';
    });
    const h = harness(config(['listed'], {}), undefined, mix);
    await h.part.start();
    const url = `${h.logs.find((l) => l.msg === 'callbacks listening')?.['address'] as string}/zego/callback`;
    const timestamp = String(Math.floor(Date.now() / 1000));
    const body = (event: string, taskId: string, nonce: string, extra: Record<string, unknown> = {}, secret = CB_SECRET): string =>
      JSON.stringify({
        appid: APP,
        event,
        task_id: taskId,
        seq: 7,
        channel_id: 'stage',
        timestamp,
        nonce,
        signature: callbackSignature(secret, timestamp, nonce),
        ...extra,
      });
    const start = body('mix_start', `${APP}:show`, 'n1', { mix_stream_alias: 'show-out', hls_urls: ['https://cdn.example/show.m3u8'] });
    expect((await post(url, start)).status).toBe(200);
    expect(got).toEqual([
      {
        rawTaskId: `${APP}:show`,
        callback: {
          event: 'mix_start',
          seq: 7,
          atMs: Number(timestamp) * 1000,
          roomId: 'stage',
          output: { streamId: 'show-out', playUrls: { rtmp: [], hls: ['https://cdn.example/show.m3u8'], hdl: [] } },
        },
      },
    ]);
    // The same nonce again is a duplicate (not applied twice); a bad signature and a malformed body are refused.
    expect((await post(url, start)).status).toBe(200);
    expect((await post(url, body('mix_stop', `${APP}:show`, 'n2', {}, 'wrong-secret'))).status).toBe(401);
    expect((await post(url, body('mix_stop', '', 'n3'))).status).toBe(400);
    expect(got).toHaveLength(1);
    expect((await post(url, body('mix_stop', `${APP}:show`, 'n4'))).status).toBe(200);
    expect((await post(url, body('mix_stop', 'other', 'n5'))).status).toBe(200);
    expect(got.map((e) => e.callback.event)).toEqual(['mix_start', 'mix_stop', 'mix_stop']);
    const text = h.part.metrics('text');
    expect(text).toContain('zego_exporter_callbacks_total{event="mix_start",result="accepted"} 1');
    expect(text).toContain('zego_exporter_callbacks_total{event="mix_start",result="duplicate"} 1');
    expect(text).toContain('zego_exporter_callbacks_total{event="mix_stop",result="accepted"} 1');
    expect(text).toContain('zego_exporter_callbacks_total{event="mix_stop",result="unwatched"} 1');
    expect(text).toContain('zego_exporter_callbacks_total{event="mix_stop",result="bad_signature"} 1');
    expect(text).toContain('zego_exporter_callbacks_total{event="mix_stop",result="malformed"} 1');
  });

  it('serves callbacks on its own listener only (404 for anything else), and a discovered stream joins the watched set at the probe interval', async () => {
    const h = harness(config(['listed'], { discover: { patterns: ['cam-*'], maxStreams: 5, forgetAfterMs: 600_000, streamsSeverity: 'none' } }));
    await h.part.start();
    const url = h.logs.find((l) => l.msg === 'callbacks listening')?.['address'] as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(h.part.landing()).toBe(`Callbacks: /zego/callback on their own listener ${url} (TLS: off), not on this one; 0 streams discovered.`);

    expect((await post(`${url}/zego/callback`, streamCreate('cam-9'))).status).toBe(200);
    expect(h.changes()).toBe(1);
    expect(h.watched()).toEqual([{ id: 'cam-9', intervalMs: 15_000, labels: { severity: 'none' }, origin: 'callback' }]);
    expect(h.store.get('cam-9')?.active).toBe(true);
    expect(h.part.gauges[0]!.read()).toBe(1);
    // Nothing else is served there: not the exporter's own paths, not a landing page.
    for (const path of ['/metrics', '/-/healthy', '/-/ready', '/', '/zego/callback/x']) expect((await fetch(`${url}${path}`)).status, path).toBe(404);
    expect((await fetch(`${url}/-/reload`, { method: 'POST' })).status).toBe(404);
  });

  it("ZEGO's default JSON body is applied whatever Content-Type it comes with (the header is undocumented): 200, never 400", async () => {
    const h = harness(config(['a', 'b', 'c'], {}));
    await h.part.start();
    const url = h.logs.find((l) => l.msg === 'callbacks listening')?.['address'] as string;
    const json = (id: string): string =>
      JSON.stringify({ ...Object.fromEntries(new URLSearchParams(streamCreate(id))), stream_seq: 1, hls_url: ['https://cdn.example/x.m3u8'] });
    for (const [id, type] of [
      ['a', 'application/x-www-form-urlencoded'],
      ['b', 'text/plain'],
      ['c', 'application/json'],
    ] as const) {
      const r = await fetch(`${url}/zego/callback`, { method: 'POST', headers: { 'content-type': type }, body: json(id) });
      expect(r.status, type).toBe(200);
      expect(h.store.get(id)?.active, type).toBe(true);
    }
  });

  it('counts every callback it answers in zego_exporter_callbacks_total, as the self-metrics rendered it (HELP, series, order, both formats)', async () => {
    const help =
      "ZEGO stream callbacks received, by event and what became of them: accepted (state changed), duplicate, stale (older than what is known), unwatched, ignored (other events), bad_signature, expired (timestamp outside the window), replayed (nonce reused with another body), wrong_app, malformed, too_large, too_slow (408: the body arrived slower than the minimum upload rate), overloaded (refused with 503: request bodies in flight over the process budget or one client's share of it, or the replay memory full).";
    const family = (name: string, samples: string): string => `# HELP ${name} ${help}\n# TYPE ${name} counter\n${samples}`;
    const zeros = ['stream_create', 'stream_close'].flatMap((event) =>
      ['accepted', 'stale', 'bad_signature'].map((result) => [`{event="${event}",result="${result}"}`, 0] as [string, number]),
    );
    const samples = (values: [string, number][]): string => values.map(([labels, v]) => `zego_exporter_callbacks_total${labels} ${v}\n`).join('');

    // Off, the family is there all the same, at 0: dashboards divide by it.
    expect(harness(config(['listed'], null)).part.metrics('text')).toContain(family('zego_exporter_callbacks_total', samples(zeros)));

    const h = harness(config(['listed'], {}));
    await h.part.start();
    const url = h.logs.find((l) => l.msg === 'callbacks listening')?.['address'] as string;
    expect((await post(`${url}/zego/callback`, streamCreate('listed'))).status).toBe(200);
    expect((await post(`${url}/zego/callback`, streamCreate('listed', 'another-secret'))).status).toBe(401);
    expect((await post(`${url}/zego/callback`, 'x'.repeat(65 * 1024))).status).toBe(413);
    const want = [...zeros, ['{event="other",result="too_large"}', 1] as [string, number]];
    want[0]![1] = 1;
    want[2]![1] = 1;
    const text = h.part.metrics('text');
    expect(text.startsWith(family('zego_exporter_callbacks_total', samples(want)))).toBe(true);
    expect(h.part.metrics('openmetrics').startsWith(family('zego_exporter_callbacks', samples(want)))).toBe(true);
  });

  it('callbacks.trusted_proxies: behind a trusted proxy each forwarded client has its own share of the body budget; a reload that drops the list charges the proxy again', async () => {
    const h = harness(config(['listed'], { trustedProxies: ['127.0.0.1'] }));
    await h.part.start();
    const url = new URL(h.logs.find((l) => l.msg === 'callbacks listening')?.['address'] as string);
    const stalled: Socket[] = [];
    const upload = (xff: string): Promise<string> =>
      new Promise((resolve) => {
        const s = connect(Number(url.port), url.hostname);
        stalled.push(s);
        let got = '';
        s.on('error', () => undefined);
        s.on('data', (d: Buffer) => (got += d.toString()));
        s.write(`POST /zego/callback HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: ${xff}\r\nContent-Length: ${64 * 1024}\r\n\r\n{`);
        // Held (nothing comes back) or refused at once.
        setTimeout(() => resolve(got), 150);
      });
    const fwd = (xff: string, body: string): Promise<Response> =>
      fetch(`${url.origin}/zego/callback`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': xff }, body });
    try {
      // 2 MiB share: 32 uploads of 64 KiB from one forwarded client are held, the 33rd is refused.
      const held = await Promise.all(Array.from({ length: 32 }, () => upload('203.0.113.1')));
      expect(held.every((g) => g === '')).toBe(true);
      expect(await upload('203.0.113.1')).toMatch(/^HTTP\/1.1 503/);
      // Another caller behind the same proxy is not held back, nor is the flooding one once a reload drops the list.
      expect((await fwd('198.51.100.1', streamCreate('listed'))).status).toBe(200);
      expect((await fwd('203.0.113.1', streamCreate('listed'))).status).toBe(503);
      h.reload(config(['listed'], {}));
      expect((await fwd('203.0.113.1', streamCreate('listed'))).status).toBe(200);
    } finally {
      for (const s of stalled) s.destroy();
    }
  });

  it('the main listener answers the callback path 410 with the port callbacks moved to, counts each, warns once; nothing else is claimed', async () => {
    const h = harness(config([], {}));
    await h.part.start();
    const cbPort = new URL(h.logs.find((l) => l.msg === 'callbacks listening')?.['address'] as string).port;
    const main = await mainListener(h.part);
    for (let i = 0; i < 3; i++) {
      const r = await post(`${main}/zego/callback?x=1`, streamCreate('cam-1'));
      expect(r.status).toBe(410);
      expect(await r.text()).toBe(
        `callbacks are served on their own listener (port ${cbPort}, callbacks.listen_address), not on this one: point ZEGO's callback URL there\n`,
      );
    }
    expect((await fetch(`${main}/other`)).status).toBe(404);
    expect(h.part.metrics('text')).toContain('zego_exporter_callbacks_misdirected_total 3\n');
    expect(h.part.metrics('openmetrics')).toContain('# TYPE zego_exporter_callbacks_misdirected counter\nzego_exporter_callbacks_misdirected_total 3\n');
    const warned = h.logs.filter((l) => String(l.msg).startsWith('a request to the callback path reached the main listener'));
    expect(warned).toHaveLength(1);
    expect(warned[0]?.['callback_listener']).toBe(`port ${cbPort}`);
    // Nothing was applied from there.
    expect(h.store.get('cam-1')).toBeUndefined();
  });

  it('a reloaded config moves discovery and path on the callback listener at once; callbacks turned off leave nothing watched or routed', async () => {
    const discover = { patterns: ['cam-*'], maxStreams: 5, forgetAfterMs: 600_000, streamsSeverity: 'none' };
    const h = harness(config([], { discover }));
    await h.part.start();
    const url = `${h.logs.find((l) => l.msg === 'callbacks listening')?.['address'] as string}/zego/callback`;
    const main = await mainListener(h.part);

    expect((await post(url, streamCreate('cam-1'))).status).toBe(200);
    expect(h.watched().map((w) => w.id)).toEqual(['cam-1']);
    h.reload(config(['cam-1'], { discover }));
    expect(h.watched()).toEqual([]);
    expect(h.part.gauges[0]!.read()).toBe(0);

    expect((await post(url, streamCreate('cam-2'))).status).toBe(200);
    expect(h.watched().map((w) => w.id)).toEqual(['cam-2']);
    h.reload(config([], { discover, secretFile: 'cb-secret-file' }));
    expect(h.part.files()).toEqual(['cb-secret-file']);
    // While rotating, a change of the previous secret's file reloads too.
    h.reload(config([], { discover, secretFile: 'cb-secret-file', previousSecret: new Secret('old'), previousSecretFile: 'cb-previous-file' }));
    expect(h.part.files()).toEqual(['cb-secret-file', 'cb-previous-file']);
    h.reload(config([], null));
    expect(h.part.files()).toEqual([]);
    expect(h.watched()).toEqual([]);
    expect(h.part.landing()).toBeNull();
    expect((await post(url, streamCreate('cam-3'))).status).toBe(404);
    // Callbacks off: the path is nobody's on the main listener either.
    expect((await post(`${main}/zego/callback`, streamCreate('cam-3'))).status).toBe(404);
  });

  it('with listen_address left to its default, the start-up line names address, path and TLS mode and carries the migration note', async () => {
    const h = harness(config([], { listenAddressDefault: true }));
    await h.part.start();
    const line = h.logs.find((l) => l.msg === 'callbacks listening');
    expect(line).toMatchObject({ path: '/zego/callback', tls: 'off' });
    expect(String(line?.['note'])).toMatch(/default :9793.*no longer on the main listener.*410/);
    expect(h.logs.filter((l) => l.msg === 'callbacks listening')).toHaveLength(1);
  });

  it('while rotating, a callback signed with the previous secret passes; a third secret does not', async () => {
    const h = harness(config(['cam-1', 'cam-2'], { secret: new Secret('the-new-secret'), previousSecret: new Secret(CB_SECRET) }));
    await h.part.start();
    const url = `${h.logs.find((l) => l.msg === 'callbacks listening')?.['address'] as string}/zego/callback`;
    expect((await post(url, streamCreate('cam-1'))).status).toBe(200);
    expect((await post(url, streamCreate('cam-2', 'the-new-secret'))).status).toBe(200);
    expect((await post(url, streamCreate('cam-2', 'a-third-secret'))).status).toBe(401);
    h.reload(config(['cam-1', 'cam-2'], { secret: new Secret('the-new-secret') }));
    expect((await post(url, streamCreate('cam-1'))).status).toBe(401);
  });

  it('discover.streams_severity opts discovered streams in: they carry that severity, and a reload changes it', async () => {
    const discover = { patterns: ['cam-*'], maxStreams: 5, forgetAfterMs: 600_000, streamsSeverity: 'warning' };
    const h = harness(config([], { listenAddress: '127.0.0.1:0', discover }));
    await h.part.start();
    const url = h.logs.find((l) => l.msg === 'callbacks listening')?.['address'] as string;
    expect((await post(`${url}/zego/callback`, streamCreate('cam-1'))).status).toBe(200);
    expect(h.store.get('cam-1')).toMatchObject({ labels: { severity: 'warning' }, origin: 'callback' });
    h.reload(config([], { listenAddress: '127.0.0.1:0', discover: { ...discover, streamsSeverity: 'none' } }));
    expect(h.watched()).toEqual([{ id: 'cam-1', intervalMs: 15_000, labels: { severity: 'none' }, origin: 'callback' }]);
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

describe("the callback listener's TLS, chosen apart from the main listener's", () => {
  let pki: Pki;
  const log = pino({ level: 'silent' });
  beforeAll(() => {
    pki = makePki();
    pki.issue('server', 'server');
  });
  afterAll(removePkis);

  /** A web config with TLS and a basic-auth user: what the main listener would get. */
  const tlsAndAuth = (): WebSecurity => {
    const r = parseWebConfig(`tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  admin: ${bcrypt.hashSync('pw', 4)}\n`, {
      baseDir: pki.dir,
    });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    return new WebSecurity(r.config, log);
  };

  it('tls: off is plain HTTP even when --web.config.file has TLS, and asks for no password', async () => {
    const h = harness(config(['cam-1'], { tls: 'off' }), tlsAndAuth());
    await h.part.start();
    const url = h.logs.find((l) => l.msg === 'callbacks listening')?.['address'] as string;
    expect(url).toMatch(/^http:\/\//);
    expect((await post(`${url}/zego/callback`, streamCreate('cam-1'))).status).toBe(200);
  });

  it("tls: web_config serves the web config's certificate, and never its basic auth (the signature is the authentication)", async () => {
    const h = harness(config(['cam-1'], { tls: 'web_config' }), tlsAndAuth());
    await h.part.start();
    const url = h.logs.find((l) => l.msg === 'callbacks listening')?.['address'] as string;
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:/);
    expect(h.logs.find((l) => l.msg === 'callbacks listening')?.['tls']).toBe('web_config');
    const body = streamCreate('cam-1');
    const r = await httpsRequest(`${url}/zego/callback`, {
      ca: pki.ca.pem,
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    expect(r.status).toBe(200);
    expect(h.store.get('cam-1')?.active).toBe(true);
    // Still only the callback path, with or without credentials.
    expect((await httpsRequest(`${url}/metrics`, { ca: pki.ca.pem, auth: ['admin', 'pw'] })).status).toBe(404);
    await expect(plainHttpGet(`${url.replace('https://', 'http://')}/zego/callback`)).rejects.toThrow();
  });

  it('tls: web_config without TLS in the web config (or without one): start() says why and rejects', async () => {
    const noTls = parseWebConfig(`basic_auth_users:\n  admin: ${bcrypt.hashSync('pw', 4)}\n`, { baseDir: pki.dir });
    if (!noTls.ok) throw new Error(JSON.stringify(noTls.errors));
    const a = harness(config([], { tls: 'web_config' }), new WebSecurity(noTls.config, log));
    await expect(a.part.start()).rejects.toThrow('callbacks.tls is web_config, but --web.config.file has no tls_server_config');
    expect(a.logs.find((l) => l.msg === 'cannot listen for callbacks')?.['tls']).toBe('web_config');
    const b = harness(config([], { tls: 'web_config' }));
    await expect(b.part.start()).rejects.toThrow('callbacks.tls is web_config, but no --web.config.file is given');
  });
});
