import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { CallbackSender } from '../../simulator/callbacks.js';
import { callbackSignature } from '../../src/callbacks/verify.js';
import { makePki, removePkis, type Pki } from '../helpers/certs.js';
import { eventually, parseMetrics, ROOT, runCli, startExporter, stopAll, writeTemp, type ExporterProcess } from '../helpers/exporter-process.js';
import { httpsRequest, plainHttpGet } from '../helpers/https.js';

const APP_ID = 246813579;
const SECRET = 'tls0123456789abcdef0123456789abc';
const CB_SECRET = 'callback-secret-for-tls-test';
// htpasswd -B writes $2y$; bcryptjs writes $2b$ (the same algorithm): the file carries what htpasswd would.
const HASH = bcrypt.hashSync('s3cret', 4).replace(/^\$2b\$/, '$2y$');

const exporterConfig = (endpoint: string): string =>
  `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${endpoint}\n  rate_limit: 10\nprobe:\n  interval: 60s\n` +
  `callbacks:\n  secret: \${CB}\n  listen_address: 127.0.0.1:0\nstreams:\n  - cb-1\n`;

/** Atomic, as cert-manager's Secret update is: readers see the old file or the new one, never half. */
function replace(file: string, content: string | Buffer): void {
  writeFileSync(`${file}.tmp`, content);
  renameSync(`${file}.tmp`, file);
}

describe('--web.config.file: TLS and basic auth on the exporter (real process)', () => {
  let sim: Simulator;
  let pki: Pki;
  let exp: ExporterProcess;
  let webFile: string;
  let server: ReturnType<Pki['issue']>;
  const auth: [string, string] = ['prometheus', 's3cret'];

  beforeAll(async () => {
    sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
    sim.setStream('cb-1', { state: 'closed', createTime: Math.floor(Date.now() / 1000) - 60, closeTime: Math.floor(Date.now() / 1000) - 30 });
    pki = makePki();
    server = pki.issue('server', 'server');
    webFile = join(pki.dir, 'web.yml');
    // Relative paths: they resolve against the web config's folder, not the working directory.
    writeFileSync(
      webFile,
      `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: ${HASH}\n` +
        `http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n`,
    );
    exp = await startExporter(exporterConfig(sim.url), { env: { S: SECRET, CB: CB_SECRET }, args: [`--web.config.file=${webFile}`], logLevel: 'info' });
  }, 30_000);

  afterAll(async () => {
    await stopAll();
    await sim?.close();
    removePkis();
  });

  it('serves https; a client that trusts the CA gets /metrics with the right credentials, and the configured header', async () => {
    expect(exp.url.startsWith('https://127.0.0.1:')).toBe(true);
    const r = await httpsRequest(`${exp.url}/metrics`, { ca: pki.ca.pem, auth });
    expect(r.status).toBe(200);
    expect(r.fingerprint).toBe(server.fingerprint);
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(parseMetrics(r.body).get('zego_exporter_web_config_last_reload_successful')).toBe(1);
    const landing = await httpsRequest(`${exp.url}/`, { ca: pki.ca.pem, auth });
    expect(landing.body).toContain('Web config: TLS (client certificates: NoClientCert), basic auth for 1 user.');
  });

  it('no credentials → 401 with WWW-Authenticate: Basic; a wrong password or an unknown user → 401', async () => {
    for (const a of [undefined, ['prometheus', 'wrong'] as [string, string], ['nobody', 's3cret'] as [string, string]]) {
      const r = await httpsRequest(`${exp.url}/metrics`, { ca: pki.ca.pem, ...(a ? { auth: a } : {}) });
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Basic');
      expect(r.body).not.toContain('zego_');
    }
    // The landing page and /-/reload are covered too; the health paths are left open for probes.
    expect((await httpsRequest(`${exp.url}/`, { ca: pki.ca.pem })).status).toBe(401);
    expect((await httpsRequest(`${exp.url}/-/reload`, { ca: pki.ca.pem, method: 'POST' })).status).toBe(401);
    expect((await httpsRequest(`${exp.url}/-/healthy`, { ca: pki.ca.pem })).status).toBe(200);
  });

  it('refuses plain HTTP on the TLS port', async () => {
    await expect(plainHttpGet(`${exp.url.replace('https://', 'http://')}/metrics`)).rejects.toThrow();
    // The process is unharmed.
    expect((await httpsRequest(`${exp.url}/-/healthy`, { ca: pki.ca.pem })).status).toBe(200);
  });

  it('callbacks.tls: off keeps the callback listener plain HTTP beside the TLS main listener; the main one answers the callback path 410 without asking for credentials', async () => {
    const sender = new CallbackSender({ url: 'unused', appId: APP_ID, secret: CB_SECRET });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = String(randomInt(1, 2 ** 47));
    const body = JSON.stringify({ ...sender.createEvent('cb-1', Date.now()), timestamp, nonce, signature: callbackSignature(CB_SECRET, timestamp, nonce) });
    const cbUrl = await exp.callbackUrl();
    expect(cbUrl.startsWith('http://127.0.0.1:')).toBe(true);
    const r = await fetch(`${cbUrl}/zego/callback`, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
    expect(r.status).toBe(200);
    const old = await httpsRequest(`${exp.url}/zego/callback`, { ca: pki.ca.pem, method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
    expect(old.status).toBe(410);
    expect(old.body).toContain(`port ${new URL(cbUrl).port}`);
    const m = parseMetrics((await httpsRequest(`${exp.url}/metrics`, { ca: pki.ca.pem, auth })).body);
    expect(m.get('zego_exporter_callbacks_total{event="stream_create",result="accepted"}')).toBe(1);
    sender.close();
  });

  it('serves a certificate replaced on disk to the next connection, without a restart', async () => {
    const next = pki.issue('server-next', 'server');
    expect(next.fingerprint).not.toBe(server.fingerprint);
    // Key first, then certificate, as a rotation that is not atomic across both files would: the mismatched moment is refused and the old pair kept.
    replace(join(pki.dir, 'server.key'), next.keyPem);
    replace(join(pki.dir, 'server.crt'), next.certPem);
    const r = await eventually(
      () => httpsRequest(`${exp.url}/metrics`, { ca: pki.ca.pem, auth }),
      (x) => x.fingerprint === next.fingerprint,
      10_000,
      100,
    );
    expect(r.status).toBe(200);
    expect(exp.logs().some((l) => l.msg === 'web config reloaded')).toBe(true);
  });

  it('keeps the running web config when a new one is bad, and says so (metric and log line)', async () => {
    const good = `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: ${HASH}\n`;
    replace(webFile, `${good}  other: not-a-hash\n`);
    await eventually(
      async () =>
        parseMetrics((await httpsRequest(`${exp.url}/metrics`, { ca: pki.ca.pem, auth })).body).get('zego_exporter_web_config_last_reload_successful'),
      (v) => v === 0,
    );
    const line = exp.logs().find((l) => l.msg.startsWith('web config reload failed'));
    expect(line?.msg).toContain('basic_auth_users.other');
    expect(line?.msg).toMatch(/web\.yml:6:/);
    expect(exp.stderr()).not.toContain(HASH);
    // The old users still work; a fixed file is taken and the metric returns to 1.
    replace(webFile, `${good}  grafana: ${HASH}\n`);
    await eventually(
      () => httpsRequest(`${exp.url}/metrics`, { ca: pki.ca.pem, auth: ['grafana', 's3cret'] }),
      (x) => x.status === 200,
    );
    const m = parseMetrics((await httpsRequest(`${exp.url}/metrics`, { ca: pki.ca.pem, auth })).body);
    expect(m.get('zego_exporter_web_config_last_reload_successful')).toBe(1);
  });
});

describe('--web.config.file: client certificates (RequireAndVerifyClientCert), and --config.check', () => {
  let sim: Simulator;
  let pki: Pki;
  let exp: ExporterProcess;

  beforeAll(async () => {
    sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
    pki = makePki();
    pki.issue('server', 'server');
    const webFile = join(pki.dir, 'web.yml');
    writeFileSync(
      webFile,
      `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  min_version: TLS13\n`,
    );
    exp = await startExporter(exporterConfig(sim.url), { env: { S: SECRET, CB: CB_SECRET }, args: [`--web.config.file=${webFile}`], logLevel: 'info' });
  }, 30_000);

  afterAll(async () => {
    await stopAll();
    await sim?.close();
    removePkis();
  });

  it('serves a client with a certificate from the client CA, and refuses one without or with a foreign one', async () => {
    const client = pki.issue('client', 'client');
    const ok = await httpsRequest(`${exp.url}/metrics`, { ca: pki.ca.pem, cert: client.certPem, key: client.keyPem });
    expect(ok.status).toBe(200);
    await expect(httpsRequest(`${exp.url}/metrics`, { ca: pki.ca.pem })).rejects.toThrow();
    const other = makePki().issue('intruder', 'client');
    await expect(httpsRequest(`${exp.url}/metrics`, { ca: pki.ca.pem, cert: other.certPem, key: other.keyPem })).rejects.toThrow();
  });
});

describe('--web.config.file on the callback listener (callbacks.tls: web_config) and the image healthcheck', () => {
  let sim: Simulator;
  let pki: Pki;
  let exp: ExporterProcess;
  let callbackUrl: string;

  beforeAll(async () => {
    sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
    pki = makePki();
    pki.issue('server', 'server');
    const webFile = join(pki.dir, 'web.yml');
    writeFileSync(webFile, `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: ${HASH}\n`);
    exp = await startExporter(exporterConfig(sim.url).replace('callbacks:\n', 'callbacks:\n  tls: web_config\n'), {
      env: { S: SECRET, CB: CB_SECRET },
      args: [`--web.config.file=${webFile}`],
      logLevel: 'info',
    });
    callbackUrl = (await eventually(
      async () => exp.logs().find((l) => l.msg === 'callbacks listening')?.['address'] as string | undefined,
      (a) => a !== undefined,
    )) as string;
  }, 30_000);

  afterAll(async () => {
    await stopAll();
    await sim?.close();
    removePkis();
  });

  it('serves the signed callback over TLS without basic auth, serves nothing else (404, never a password prompt), refuses plain HTTP', async () => {
    expect(callbackUrl.startsWith('https://127.0.0.1:')).toBe(true);
    const sender = new CallbackSender({ url: 'unused', appId: APP_ID, secret: CB_SECRET });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = String(randomInt(1, 2 ** 47));
    const body = JSON.stringify({ ...sender.createEvent('cb-1', Date.now()), timestamp, nonce, signature: callbackSignature(CB_SECRET, timestamp, nonce) });
    const r = await httpsRequest(`${callbackUrl}/zego/callback`, { ca: pki.ca.pem, method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
    expect(r.status).toBe(200);
    sender.close();
    for (const path of ['/elsewhere', '/metrics', '/-/healthy', '/']) {
      const other = await httpsRequest(`${callbackUrl}${path}`, { ca: pki.ca.pem, auth: ['prometheus', 's3cret'] });
      expect(other.status, path).toBe(404);
      expect(other.headers['www-authenticate']).toBeUndefined();
    }
    await expect(plainHttpGet(`${callbackUrl.replace('https://', 'http://')}/zego/callback`)).rejects.toThrow();
  });

  it('the image HEALTHCHECK passes over https to the loopback address, with basic auth on', async () => {
    const run = (url: string): Promise<number | null> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [join(ROOT, 'dist/src/healthcheck.js')], {
          env: { PATH: process.env['PATH'] ?? '', ZEGO_EXPORTER_HEALTHCHECK_URL: url },
          stdio: 'ignore',
        });
        child.on('exit', (code) => resolve(code));
      });
    expect(await run(`${exp.url}/-/healthy`)).toBe(0);
    // Proof that it asks: the same check against the plain-HTTP URL fails on the TLS port.
    expect(await run(`${exp.url.replace('https://', 'http://')}/-/healthy`)).toBe(1);
  });
});

describe('--config.check with --web.config.file', () => {
  afterAll(removePkis);

  it('checks the web config too: a good one is summarised, a bad one exits 1 with file:line:col and no hash', async () => {
    const pki = makePki();
    pki.issue('server', 'server');
    const config = writeTemp('config.yaml', `zego:\n  app_id: 1234567890\n  server_secret: x\nstreams: [a]\n`);
    const good = join(pki.dir, 'web.yml');
    writeFileSync(good, `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: ${HASH}\n`);
    const ok = await runCli(['--config.check', `--config.file=${config}`, `--web.config.file=${good}`]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`${good}: OK (TLS TLSv1.2–TLSv1.3, client certificates: NoClientCert; 1 basic auth user; 0 extra headers)`);

    const bad = join(pki.dir, 'bad.yml');
    writeFileSync(bad, `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS9\nbasic_auth_users:\n  prometheus: ${HASH}x\n`);
    const r = await runCli(['--config.check', `--config.file=${config}`, `--web.config.file=${bad}`]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${bad}:4:16: tls_server_config.min_version: must be one of TLS10, TLS11, TLS12, TLS13, got "TLS9"`);
    expect(r.stdout).toContain(`${bad}:6:15: basic_auth_users.prometheus: is not a bcrypt hash`);
    expect(r.stdout + r.stderr).not.toContain(HASH);
  });

  it('refuses to start on an invalid web config, exit 1 with the error in the log', async () => {
    const config = writeTemp('config.yaml', `zego:\n  app_id: 1234567890\n  server_secret: x\nstreams: [a]\n`);
    const web = writeTemp('web.yml', `tls_server_config:\n  cert_file: nowhere.crt\n  key_file: nowhere.key\n`);
    const r = await runCli([`--config.file=${config}`, `--web.config.file=${web}`, '--web.listen-address=127.0.0.1:0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('tls_server_config.cert_file: cannot read');
    expect(r.stderr).toContain('invalid web config, not starting');
  });
});
