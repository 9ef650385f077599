import type { Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { eventually, startExporter, type ExporterProcess } from '../helpers/exporter-process.js';
import { alertmanagerStandIn, fastRules, type Posted } from '../helpers/alerting.js';
import { startPrometheus, type PrometheusProcess } from '../helpers/prometheus.js';

/**
 * ZegoKeyOutputDown end to end: three real exporters probe one key output on the simulator's CDN, a
 * real Prometheus evaluates the shipped rules (durations shortened, expressions untouched) and sends
 * to an Alertmanager stand-in. The delivery stalls under a healthy stream: one page, not one per
 * replica, whose description names the delivery layer and whose labels carry no token.
 */
const JOB = 'zego-stream-exporter';
/** Five exporters and three Prometheus start at once here: more than the usual 10 s to be up. */
const START_MS = 30_000;

const hostOf = (e: ExporterProcess): string => e.url.replace('http://', '');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const nowSec = (): number => Math.floor(Date.now() / 1000);
describe('ZegoKeyOutputDown with three real exporters (real Prometheus, shipped rules)', () => {
  const APP_ID = 97531;
  const SECRET = 'outputs0123456789abcdef012345678';
  let sim: Simulator;
  let prom: PrometheusProcess;
  let am: { server: Server; url: string };
  let dir: string;
  const exporters: ExporterProcess[] = [];
  const posted: Posted[] = [];
  const config = () =>
    `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  rate_limit: 5\nprobe:\n  interval: 2s\nstreams:\n  - { id: cam, labels: { severity: none } }\n` +
    `outputs:\n  - { url: ${sim.url}/cdn/hls/cam.m3u8?token=t, stream_id: cam, interval: 5s, labels: { severity: critical } }\n`;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zego-out-'));
    sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }], hlsTargetDurationS: 1 });
    sim.setStream('cam', { state: 'active', createTime: nowSec() - 60 });
    const start = () => startExporter(config(), { env: { S: SECRET }, logLevel: 'info', timeoutMs: START_MS });
    exporters.push(...(await Promise.all([start(), start(), start()])));
    am = await alertmanagerStandIn(posted);
    prom = await startPrometheus({ targets: exporters.map(hostOf), job: JOB, ruleFiles: [fastRules(dir)], alertmanager: am.url });
  }, 60_000);
  afterAll(async () => {
    await prom?.stop();
    await Promise.all(exporters.map((e) => e.stop('SIGKILL')));
    await sim?.close();
    if (am) await new Promise((r) => am.server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });
  it('a stalled delivery under a live stream pages once, naming the delivery layer, with no token', async () => {
    await eventually(
      () => prom.query('zego_output_up == 1'),
      (r) => r.data.result.length === 3,
      30_000,
      250,
    );
    sim.setOutput('cam', { fault: 'stall' });
    const firing = await eventually(prom.alerts, (a) => a.some((x) => x.labels['alertname'] === 'ZegoKeyOutputDown' && x.state === 'firing'), 60_000, 250);
    const mine = firing.filter((x) => x.labels['alertname'] === 'ZegoKeyOutputDown');
    expect(mine).toHaveLength(1);
    expect(mine[0]!.labels['output']).toBe(`${sim.url}/cdn/hls/cam.m3u8`);
    await sleep(8000);
    const sent = posted.filter((p) => p.labels['alertname'] === 'ZegoKeyOutputDown');
    expect(new Set(sent.map((p) => JSON.stringify(p.labels))).size).toBe(1);
    expect(new Set(sent.map((p) => p.startsAt)).size).toBe(1);
    expect(sent.at(-1)?.annotations?.['description']).toMatch(/First failing layer:\s*delivery/);
    expect(JSON.stringify(sent)).not.toContain('token=');
  }, 120_000);
});
