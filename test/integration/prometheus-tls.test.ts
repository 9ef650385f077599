import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { makePki, removePkis, type Pki } from '../helpers/certs.js';
import { eventually, startExporter, stopAll, type ExporterProcess } from '../helpers/exporter-process.js';
import { startPrometheus, type PrometheusProcess } from '../helpers/prometheus.js';

const APP_ID = 246813579;
const SECRET = 'e2e0123456789abcdef0123456789abc';
const JOB = 'zego-stream-exporter';

/**
 * What docs/web-config.md tells an operator to do, done by a real Prometheus: scheme https, the CA
 * in tls_config, basic_auth with a password file, against the exporter started with
 * --web.config.file. `up` is 1 only if TLS verified and the password passed.
 */
describe('a real Prometheus scrapes the exporter over TLS with basic auth', () => {
  let sim: Simulator;
  let pki: Pki;
  let exp: ExporterProcess;
  let prom: PrometheusProcess;

  beforeAll(async () => {
    sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
    sim.setStream('stage-main', { state: 'active', createTime: Math.floor(Date.now() / 1000) - 60 });
    pki = makePki();
    pki.issue('server', 'server');
    const webFile = join(pki.dir, 'web.yml');
    writeFileSync(
      webFile,
      `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: ${bcrypt.hashSync('scrape-pw', 10).replace(/^\$2b\$/, '$2y$')}\n`,
    );
    const passwordFile = join(pki.dir, 'password');
    writeFileSync(passwordFile, 'scrape-pw');
    exp = await startExporter(
      `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  rate_limit: 10\nprobe:\n  interval: 2s\nstreams:\n  - stage-main\n`,
      { env: { S: SECRET }, args: [`--web.config.file=${webFile}`], logLevel: 'info' },
    );
    prom = await startPrometheus({
      target: exp.url.replace('https://', ''),
      job: JOB,
      ruleFiles: [],
      scrapeExtra:
        `    scheme: https\n    tls_config:\n      ca_file: ${JSON.stringify(pki.ca.cert)}\n` +
        `    basic_auth:\n      username: prometheus\n      password_file: ${JSON.stringify(passwordFile)}\n`,
    });
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    await stopAll();
    await sim?.close();
    removePkis();
  });

  it('up == 1 and the per-stream series arrive', async () => {
    const up = await eventually(
      () => prom.query(`up{job="${JOB}"}`),
      (r) => r.data.result.length === 1 && (r.data.result[0] as { value: [number, string] }).value[1] === '1',
      20_000,
      250,
    );
    expect((up.data.result[0] as { value: [number, string] }).value[1]).toBe('1');
    const active = await eventually(
      () => prom.query(`zego_stream_active{job="${JOB}",stream_id="stage-main"}`),
      (r) => r.data.result.length === 1,
      20_000,
      250,
    );
    expect((active.data.result[0] as { value: [number, string] }).value[1]).toBe('1');
  });
});
