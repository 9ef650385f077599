import type { Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { eventually, ROOT, startExporter, type ExporterProcess } from '../helpers/exporter-process.js';
import { alertmanagerStandIn, type Posted } from '../helpers/alerting.js';
import { startPrometheus, type PrometheusProcess } from '../helpers/prometheus.js';

const JOB = 'zego-stream-exporter';
const START_MS = 30_000;

/**
 * The shipped rules, unmodified (ZegoKeyMixTaskDown's real `for: 1m`), in a real Prometheus that
 * scrapes and evaluates every second, over three exporters watching one key mix task. The
 * simulator crashes the task (no mix_stop, inputs live): one page, not one per replica.
 */
describe('ZegoKeyMixTaskDown with three replicas (real Prometheus, shipped rules)', () => {
  const APP_ID = 135792470;
  const SECRET = 'mixpage0123456789abcdef012345678';
  const TASK = 'gala-mix';
  let sim: Simulator;
  let prom: PrometheusProcess;
  let am: { server: Server; url: string };
  const exporters: ExporterProcess[] = [];
  const posted: Posted[] = [];

  beforeAll(async () => {
    sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
    sim.startMix(TASK, { inputs: ['host'] });
    const config =
      `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  mix_task_info_rate_limit: 5\n` +
      `mix_tasks:\n  - { id: ${TASK}, interval: 2s, labels: { severity: critical, team: broadcast } }\n  - { id: side-mix, interval: 2s }\n`;
    const start = (): Promise<ExporterProcess> => startExporter(config, { env: { S: SECRET }, logLevel: 'info', timeoutMs: START_MS });
    exporters.push(...(await Promise.all([start(), start(), start()])));
    am = await alertmanagerStandIn(posted);
    prom = await startPrometheus({
      targets: exporters.map((e) => e.url.replace('http://', '')),
      job: JOB,
      ruleFiles: [join(ROOT, 'alerts/zego-alerts.yaml')],
      alertmanager: am.url,
    });
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    await Promise.all(exporters.map((e) => e.stop('SIGKILL')));
    await sim?.close();
    if (am) await new Promise((r) => am.server.close(r));
  });

  it('a crashed key task watched by 3 exporters raises ZegoKeyMixTaskDown exactly once, after its for: 1m', async () => {
    type Alert = Awaited<ReturnType<PrometheusProcess['alerts']>>[number];
    const mixDown = (alerts: Alert[]): Alert[] => alerts.filter((a) => a.labels['alertname'] === 'ZegoKeyMixTaskDown');
    await eventually(
      () => prom.query(`zego_mix_task_active{task_id="${TASK}"} == 1`),
      (r) => r.data.result.length === 3,
      30_000,
      250,
    );
    // The unlisted-severity task never pages, running or not (it was never started: not running).
    expect(mixDown(await prom.alerts())).toEqual([]);

    sim.crashMix(TASK);
    const crashedAt = Date.now();
    await eventually(
      () => prom.query(`zego_mix_task_active{task_id="${TASK}"} == 0`),
      (r) => r.data.result.length === 3,
      15_000,
      250,
    );
    const pending = await eventually(prom.alerts, (a) => mixDown(a).length > 0, 15_000, 250);
    expect(mixDown(pending).map((a) => a.state)).toEqual(['pending']);
    const firing = await eventually(prom.alerts, (a) => mixDown(a).some((x) => x.state === 'firing'), 90_000, 500);
    expect(Date.now() - crashedAt).toBeGreaterThanOrEqual(55_000); // the rule's for: 1m
    expect(mixDown(firing)).toHaveLength(1);
    expect(mixDown(firing)[0]!.labels).toEqual({ alertname: 'ZegoKeyMixTaskDown', job: JOB, task_id: TASK, severity: 'critical', team: 'broadcast' });

    // What Alertmanager is told: one alert, one label set, one start, however many replicas.
    await eventually(
      async () => posted.filter((p) => p.labels['alertname'] === 'ZegoKeyMixTaskDown'),
      (p) => p.length >= 2,
      10_000,
      250,
    );
    const sent = posted.filter((p) => p.labels['alertname'] === 'ZegoKeyMixTaskDown');
    expect(new Set(sent.map((p) => JSON.stringify(p.labels))).size).toBe(1);
    expect(new Set(sent.map((p) => p.startsAt)).size).toBe(1);
    expect(posted.filter((p) => p.labels['task_id'] === 'side-mix')).toEqual([]);
  }, 150_000);
});
