import { randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallbackSender } from '../../simulator/callbacks.js';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { callbackSignature } from '../../src/callbacks/verify.js';
import { makePki, removePkis, type Pki } from '../helpers/certs.js';
import { eventually, parseMetrics, startExporter, stopAll, type ExporterProcess } from '../helpers/exporter-process.js';
import { httpsRequest } from '../helpers/https.js';
import { startNginx, type NginxProcess } from '../helpers/nginx.js';

const APP_ID = 135792468;
const SECRET = 'nginx0123456789abcdef0123456789a';
const CB_SECRET = 'callback-secret-behind-nginx';
const AUTH: [string, string] = ['prometheus', 's3cret'];

/**
 * The layout of the shipped Ingress, with a real TLS-terminating reverse proxy (Debian's nginx):
 * ZEGO posts over HTTPS to the proxy, which forwards plain HTTP to the callback listener. The
 * exporter runs with --web.config.file TLS and basic auth on its main listener at the same time,
 * so the two listeners' TLS is proven to be decided apart (before, the callback listener took the
 * main one's TLS and the proxy's plain-HTTP posts were closed on).
 */
describe('a signed callback through nginx terminating TLS (real processes)', () => {
  let sim: Simulator;
  let pki: Pki;
  let exp: ExporterProcess;
  let nginx: NginxProcess;

  beforeAll(async () => {
    sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
    const now = Math.floor(Date.now() / 1000);
    sim.setStream('edge-1', { state: 'closed', createTime: now - 600, closeTime: now - 300 });
    pki = makePki();
    pki.issue('exporter', 'server');
    const proxyCert = pki.issue('proxy', 'server');
    const webFile = join(pki.dir, 'web.yml');
    writeFileSync(
      webFile,
      `tls_server_config:\n  cert_file: exporter.crt\n  key_file: exporter.key\nbasic_auth_users:\n  prometheus: ${bcrypt.hashSync(AUTH[1], 4)}\n`,
    );
    // callbacks.tls left to its default (off): what works behind the shipped Ingress.
    exp = await startExporter(
      `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  rate_limit: 10\nprobe:\n  interval: 60s\n` +
        `callbacks:\n  secret: \${CB}\n  listen_address: 127.0.0.1:0\nstreams:\n  - edge-1\n`,
      { env: { S: SECRET, CB: CB_SECRET }, args: [`--web.config.file=${webFile}`], logLevel: 'info' },
    );
    const cb = new URL(await exp.callbackUrl());
    const main = new URL(exp.url);
    nginx = await startNginx({
      cert: proxyCert.cert,
      key: proxyCert.key,
      locations: `
    location = /zego/callback { proxy_pass http://127.0.0.1:${cb.port}; proxy_set_header X-Forwarded-Proto https; }
    # What an Ingress pointed at the main (TLS) port gets: plain HTTP to a TLS listener.
    location = /via-main/zego/callback { proxy_pass http://127.0.0.1:${main.port}/zego/callback; }
    location / { return 404; }`,
    });
  }, 60_000);

  afterAll(async () => {
    await nginx?.stop();
    await stopAll();
    await sim?.close();
    removePkis();
  });

  const signedBody = (): string => {
    const sender = new CallbackSender({ url: 'unused', appId: APP_ID, secret: CB_SECRET });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = String(randomInt(1, 2 ** 47));
    const body = JSON.stringify({ ...sender.createEvent('edge-1', Date.now()), timestamp, nonce, signature: callbackSignature(CB_SECRET, timestamp, nonce) });
    sender.close();
    return body;
  };
  const metrics = async (): Promise<Map<string, number>> => parseMetrics((await httpsRequest(`${exp.url}/metrics`, { ca: pki.ca.pem, auth: AUTH })).body);

  it('reaches the exporter behind the proxy and changes zego_stream_active, while the main listener keeps TLS and basic auth', async () => {
    expect(exp.url.startsWith('https://')).toBe(true);
    expect((await exp.callbackUrl()).startsWith('http://')).toBe(true);
    await eventually(metrics, (m) => m.get('zego_stream_active{stream_id="edge-1"}') === 0, 10_000);

    const r = await httpsRequest(`${nginx.url}/zego/callback`, {
      ca: pki.ca.pem,
      method: 'POST',
      body: signedBody(),
      headers: { 'Content-Type': 'application/json' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toBe('accepted\n');
    const m = await eventually(metrics, (x) => x.get('zego_stream_active{stream_id="edge-1"}') === 1, 2000, 20);
    expect(m.get('zego_stream_state_source{stream_id="edge-1",source="callback"}')).toBe(1);
    expect(m.get('zego_exporter_callbacks_total{event="stream_create",result="accepted"}')).toBe(1);
    expect(nginx.accessLog()).toMatch(/"POST \/zego\/callback HTTP\/1\.1" 200 /);
    // The main listener is as --web.config.file says: no password, no metrics.
    expect((await httpsRequest(`${exp.url}/metrics`, { ca: pki.ca.pem })).status).toBe(401);
  });

  it('the proxy reaches nothing else of the exporter through the callback listener', async () => {
    // A proxy that forwarded everything to the callback port would still expose only the callback path.
    const cb = await exp.callbackUrl();
    for (const path of ['/metrics', '/-/reload', '/'])
      expect((await fetch(`${cb}${path}`, { method: path === '/-/reload' ? 'POST' : 'GET' })).status).toBe(404);
    expect((await httpsRequest(`${nginx.url}/metrics`, { ca: pki.ca.pem })).status).toBe(404);
  });

  it('pointed at the TLS main port instead, the same proxy fails (502): the breakage the separate listener removes', async () => {
    const r = await httpsRequest(`${nginx.url}/via-main/zego/callback`, {
      ca: pki.ca.pem,
      method: 'POST',
      body: signedBody(),
      headers: { 'Content-Type': 'application/json' },
    });
    expect(r.status).toBe(502);
    expect(nginx.errorLog()).toMatch(/upstream prematurely closed|Connection reset|recv\(\) failed/);
  });
});
