import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallbackSender, startSimulator, type Simulator } from '../../simulator/index.js';
import { dashboardQueries } from '../helpers/dashboard-queries.js';
import { eventually, ROOT, startExporter, stopAll, type ExporterProcess } from '../helpers/exporter-process.js';
import { startPrometheus, type PrometheusProcess } from '../helpers/prometheus.js';
import { promtool } from '../helpers/promtool.js';

const APP_ID = 246813579;
const SECRET = 'e2e0123456789abcdef0123456789abc';
const CALLBACK_SECRET = 'e2e-callback-secret';
const JOB = 'zego-stream-exporter';

/**
 * The whole chain as an operator runs it: simulator → exporter → a real Prometheus with the
 * shipped rules. A key stream goes down: ZegoKeyStreamDown goes pending, then firing (its `for` is
 * 1m), and resolves when the stream returns. Every dashboard query and the Grafana-managed alert's
 * query are evaluated against that Prometheus and must return data.
 */
describe('end to end with a real Prometheus', () => {
  let sim: Simulator;
  let exp: ExporterProcess;
  let prom: PrometheusProcess;
  const now = Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
    sim.setStream('stage-main', { state: 'active', createTime: now - 300 });
    sim.setStream('stage-backup', { state: 'active', createTime: now - 200 });
    sim.setStream('side-room', { state: 'closed', createTime: now - 900, closeTime: now - 100 });
    // A watched room (no stream in it, three users) gives the dashboard's Rooms row its data.
    sim.setRoomCounts('show', { userCount: 3, adminUserCount: 1 });
    exp = await startExporter(
      `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  rate_limit: 10\ncallbacks:\n  secret: \${CB}\n  listen_address: 127.0.0.1:0\nprobe:\n  interval: 2s\nstreams:\n` +
        `  - id: stage-main\n    interval: 1s\n    labels: { severity: critical, team: broadcast }\n` +
        `  - id: stage-backup\n    labels: { severity: critical, team: broadcast }\n  - side-room\n  - never-there\n` +
        `rooms:\n  - { id: show, interval: 10s }\n`,
      { env: { S: SECRET, CB: CALLBACK_SECRET }, logLevel: 'info' },
    );
    prom = await startPrometheus({ target: exp.url.replace('http://', ''), job: JOB, ruleFiles: [join(ROOT, 'alerts/zego-alerts.yaml')] });
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    await stopAll();
    await sim?.close();
  });

  it('scrapes the exporter, whose /metrics passes promtool check metrics', async () => {
    await eventually(
      () => prom.query(`up{job="${JOB}"}`),
      (r) => r.data.result.length === 1 && (r.data.result[0] as { value: [number, string] }).value[1] === '1',
      20_000,
      250,
    );
    const text = await (await fetch(`${exp.url}/metrics`)).text();
    const check = promtool(['check', 'metrics'], { input: text });
    expect(check.output).toBe('');
    expect(check.status).toBe(0);
  });

  it('fires ZegoKeyStreamDown (pending, then firing) for a key stream that goes down, and clears its condition when it is back', async () => {
    await eventually(
      () => prom.query('zego_stream_active{stream_id="stage-main"}'),
      (r) => r.data.result.length === 1 && (r.data.result[0] as { value: [number, string] }).value[1] === '1',
      20_000,
      250,
    );
    sim.setStream('stage-main', { state: 'closed', createTime: now - 300, closeTime: Math.floor(Date.now() / 1000) });
    const down = Date.now();
    const keyAlert = (alerts: { labels: Record<string, string>; state: string; keepFiringSince?: string }[]) =>
      alerts.find((a) => a.labels['alertname'] === 'ZegoKeyStreamDown' && a.labels['stream_id'] === 'stage-main');
    await eventually(prom.alerts, (a) => keyAlert(a)?.state === 'pending', 20_000, 250);
    const firing = await eventually(prom.alerts, (a) => keyAlert(a)?.state === 'firing', 90_000, 500);
    expect(Date.now() - down).toBeGreaterThanOrEqual(55_000); // the rule's for: 1m, not a single probe
    expect(keyAlert(firing)!.labels).toMatchObject({ severity: 'critical', team: 'broadcast', job: JOB });
    // The other key stream stayed up: no alert for it.
    expect(firing.some((a) => a.labels['alertname'] === 'ZegoKeyStreamDown' && a.labels['stream_id'] === 'stage-backup')).toBe(false);

    // ZEGO's stream_close callback for side-room says why it closed (the close-reason panel).
    const sender = new CallbackSender({ url: `${await exp.callbackUrl()}/zego/callback`, appId: APP_ID, secret: CALLBACK_SECRET });
    expect(await sender.send(sender.closeEvent('side-room', (now - 900) * 1000, (now - 100) * 1000, 1))).toBe(200);
    sender.close();
    await eventually(
      () => prom.query('zego_stream_last_close_reason{stream_id="side-room"}'),
      (r) => r.data.result.length === 1,
      10_000,
      250,
    );

    // While it is down, every dashboard query answers (the down-streams table included).
    const queries = dashboardQueries(join(ROOT, 'grafana/dashboards/zego-streams.json'));
    expect(queries.length).toBeGreaterThan(20);
    const empty: string[] = [];
    for (const q of queries) {
      const r = await prom.query(q.expr);
      expect(r.status, `${q.panel}: ${q.expr} → ${r.error ?? ''}`).toBe('success');
      if (r.data.result.length === 0 && !q.allowEmpty) empty.push(`${q.panel}: ${q.expr}`);
    }
    expect(empty).toEqual([]);
    // The Grafana-managed alert's query sees the down key stream too.
    const grafana = parse(readFileSync(join(ROOT, 'grafana/provisioning/alerting/zego-alerts.yaml'), 'utf8')) as {
      groups: { rules: { data: { datasourceUid: string; model: { expr?: string } }[] }[] }[];
    };
    const exprs = grafana.groups.flatMap((g) => g.rules.flatMap((r) => r.data.filter((d) => d.datasourceUid === 'prometheus').map((d) => d.model.expr!)));
    expect(exprs.length).toBeGreaterThan(0);
    for (const e of exprs) {
      const r = await prom.query(e);
      const values = (r.data.result as { metric: Record<string, string>; value: [number, string] }[]).filter((x) => x.metric['stream_id'] === 'stage-main');
      expect(values.map((v) => v.value[1])).toEqual(['0']);
    }

    // Back up: the rule's condition clears at once (Prometheus marks keepFiringSince), and
    // keep_firing_for (5m) holds the alert a while longer, so a flap does not page again.
    sim.setStream('stage-main', { state: 'active', createTime: Math.floor(Date.now() / 1000) });
    const held = await eventually(prom.alerts, (a) => keyAlert(a)?.keepFiringSince !== undefined, 20_000, 250);
    expect(keyAlert(held)?.state).toBe('firing');
  }, 150_000);
});
