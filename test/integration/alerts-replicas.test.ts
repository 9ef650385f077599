import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { eventually, ROOT, startExporter, stopAll, type ExporterProcess } from '../helpers/exporter-process.js';
import { startPrometheus, type PrometheusProcess } from '../helpers/prometheus.js';

const APP_ID = 135792468;
const SECRET = 'replicas0123456789abcdef01234567';
const JOB = 'zego-stream-exporter';
const STREAM = 'stage-main';

/** One alert as Prometheus posts it to Alertmanager's API v2, with when the stand-in received it. */
interface Posted {
  labels: Record<string, string>;
  startsAt: string;
  endsAt: string;
  receivedAtMs: number;
}

/**
 * The shipped rules with their durations shortened, so minutes of alerting pass in seconds: each
 * `for:` minute becomes 5 s, each `keep_firing_for:` minute 2 s. Expressions are untouched.
 */
function fastRules(dir: string): string {
  const text = readFileSync(join(ROOT, 'alerts/zego-alerts.yaml'), 'utf8')
    .replace(/^(\s+)for: (\d+)m$/gm, (_m, sp: string, n: string) => `${sp}for: ${Number(n) * 5}s`)
    .replace(/^(\s+)keep_firing_for: (\d+)m$/gm, (_m, sp: string, n: string) => `${sp}keep_firing_for: ${Number(n) * 2}s`);
  const file = join(dir, 'zego-alerts.yaml');
  writeFileSync(file, text);
  return file;
}

/** Stands in for Alertmanager: records every alert Prometheus sends (firing and resolved). */
async function alertmanagerStandIn(posted: Posted[]): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/api/v2/alerts') {
        const receivedAtMs = Date.now();
        for (const a of JSON.parse(body) as Omit<Posted, 'receivedAtMs'>[]) posted.push({ ...a, receivedAtMs });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const hostOf = (e: ExporterProcess): string => e.url.replace('http://', '');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const nowSec = (): number => Math.floor(Date.now() / 1000);

/**
 * The default deployment as a new user runs it: three exporters (sidecars of three replicas)
 * watching the same streams, scraped as one job by a real Prometheus that loads the repo's rules.
 * One key stream down is one page, not three; a replica replaced by a new one on another address
 * neither resolves it nor raises another; the stream back up resolves it, once.
 */
describe('alert rules with three replicas (real Prometheus, three exporters, one simulator)', () => {
  let sim: Simulator;
  let prom: PrometheusProcess;
  let am: { server: Server; url: string };
  let dir: string;
  const exporters: ExporterProcess[] = [];
  const posted: Posted[] = [];

  const config =
    `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: URL\n  rate_limit: 5\nprobe:\n  interval: 2s\nstreams:\n` +
    `  - id: ${STREAM}\n    interval: 1s\n    labels: { severity: critical, team: broadcast }\n` +
    `  - id: stage-backup\n    labels: { severity: critical, team: broadcast }\n  - side-room\n`;
  const start = (): Promise<ExporterProcess> => startExporter(config.replace('URL', sim.url), { env: { S: SECRET }, logLevel: 'info' });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'zego-replicas-'));
    sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
    for (const id of [STREAM, 'stage-backup', 'side-room']) sim.setStream(id, { state: 'active', createTime: nowSec() - 300 });
    exporters.push(...(await Promise.all([start(), start(), start()])));
    am = await alertmanagerStandIn(posted);
    prom = await startPrometheus({ targets: exporters.map(hostOf), job: JOB, ruleFiles: [fastRules(dir)], alertmanager: am.url });
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    await stopAll();
    await sim?.close();
    if (am) await new Promise((r) => am.server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('pages once for a key stream down, keeps that one page through a replica replacement, resolves it once', async () => {
    type Alert = Awaited<ReturnType<PrometheusProcess['alerts']>>[number];
    const keyDown = (alerts: Alert[]): Alert[] => alerts.filter((a) => a.labels['alertname'] === 'ZegoKeyStreamDown');
    const streamAlerts = (alerts: Alert[]): Alert[] => alerts.filter((a) => a.labels['stream_id'] !== undefined);

    // All three replicas report the stream up.
    await eventually(
      () => prom.query(`zego_stream_active{stream_id="${STREAM}"} == 1`),
      (r) => r.data.result.length === 3,
      20_000,
      250,
    );

    // Down: exactly one ZegoKeyStreamDown, naming the stream and no replica.
    const downAtSec = Date.now() / 1000;
    sim.setStream(STREAM, { state: 'closed', createTime: nowSec() - 300, closeTime: nowSec() });
    const firing = await eventually(prom.alerts, (a) => keyDown(a).some((x) => x.state === 'firing'), 30_000, 250);
    expect(keyDown(firing)).toHaveLength(1);
    const alert = keyDown(firing)[0]!;
    expect(alert.labels).toEqual({ alertname: 'ZegoKeyStreamDown', job: JOB, stream_id: STREAM, severity: 'critical', team: 'broadcast' });
    expect(streamAlerts(firing)).toHaveLength(1);
    const activeAt = alert.activeAt;

    // A rollout replaces replica c with d, a new process on another port.
    const [a, b, c] = exporters as [ExporterProcess, ExporterProcess, ExporterProcess];
    const d = await start();
    exporters.push(d);
    expect(hostOf(d)).not.toBe(hostOf(c));
    prom.setTargets([a, b, d].map(hostOf));
    await c.stop();
    const cHost = hostOf(c);
    const dHost = hostOf(d);
    // Watch until d's down report is scraped and c's series are gone, then for longer than the
    // rule's `for` (5 s here): a re-page would show as a second alert, pending or with a new activeAt.
    let settledAt = 0;
    const deadline = Date.now() + 45_000;
    while (settledAt === 0 || Date.now() - settledAt < 8000) {
      expect(Date.now(), 'replica d never reported, or c never went away').toBeLessThan(deadline);
      const alerts = streamAlerts(await prom.alerts());
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({ state: 'firing', activeAt, labels: alert.labels });
      if (settledAt === 0) {
        const series = (await prom.query(`zego_stream_active{stream_id="${STREAM}"}`)).data.result as {
          metric: Record<string, string>;
          value: [number, string];
        }[];
        const instances = series.map((s) => s.metric['instance']).sort();
        if (instances.join() === [hostOf(a), hostOf(b), dHost].sort().join() && series.every((s) => s.value[1] === '0')) settledAt = Date.now();
        expect(instances).not.toContain(undefined);
      }
      await sleep(250);
    }
    expect((await prom.query(`up{instance="${cHost}"}`)).data.result).toHaveLength(0);
    const replacedAtSec = Date.now() / 1000;

    // Up again: resolved (after keep_firing_for, 10 s here), and it stays resolved.
    sim.setStream(STREAM, { state: 'active', createTime: nowSec() });
    await eventually(prom.alerts, (x) => keyDown(x).length === 0, 40_000, 250);
    const resolvedAtSec = Date.now() / 1000;
    await sleep(3000);
    expect(streamAlerts(await prom.alerts())).toEqual([]);

    // Prometheus' own record: one firing series (no instance label), one unbroken run.
    const range = await prom.queryRange(`ALERTS{alertname="ZegoKeyStreamDown",alertstate="firing"}`, Math.floor(downAtSec), Math.ceil(resolvedAtSec) + 3, 1);
    expect(range.data.result).toHaveLength(1);
    const times = range.data.result[0]!.values.map((v) => v[0]);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!, `gap in the firing run at ${times[i - 1]}`).toBe(1);
    expect(times[0]!).toBeLessThan(replacedAtSec - 8);
    expect(times[times.length - 1]!).toBeGreaterThan(replacedAtSec);

    // What Alertmanager was told: one alert (one label set, one start); never RESOLVED while the
    // stream was down; RESOLVED after it came back.
    await eventually(
      async () => posted.filter((p) => p.labels['alertname'] === 'ZegoKeyStreamDown' && Date.parse(p.endsAt) <= p.receivedAtMs + 1000),
      (r) => r.length > 0,
      10_000,
      250,
    );
    const sent = posted.filter((p) => p.labels['alertname'] === 'ZegoKeyStreamDown');
    expect(new Set(sent.map((p) => JSON.stringify(p.labels))).size).toBe(1);
    expect(new Set(sent.map((p) => p.startsAt)).size).toBe(1);
    const resolvedNotices = sent.filter((p) => Date.parse(p.endsAt) <= p.receivedAtMs + 1000);
    expect(Math.min(...resolvedNotices.map((p) => p.receivedAtMs)) / 1000).toBeGreaterThan(replacedAtSec);
    expect(new Set(resolvedNotices.map((p) => p.endsAt)).size).toBe(1);
    // No other stream alert ever went out.
    expect(posted.filter((p) => p.labels['stream_id'] !== undefined && p.labels['alertname'] !== 'ZegoKeyStreamDown')).toEqual([]);
  }, 150_000);
});
