import type { Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallbackSender, startSimulator, type Simulator } from '../../simulator/index.js';
import { dashboardQueries } from '../helpers/dashboard-queries.js';
import { eventually, ROOT, startExporter, type ExporterProcess } from '../helpers/exporter-process.js';
import { alertmanagerStandIn, fastRules, type Posted } from '../helpers/alerting.js';
import { startPrometheus, type PrometheusProcess } from '../helpers/prometheus.js';
import { promtool } from '../helpers/promtool.js';

/**
 * The shipped alert rules in a real Prometheus, three suites: the whole chain (a key stream down
 * pages after the rules' `for: 1m`), streams found in a key room (ZegoKeyRoomEmpty after its
 * `for: 1m`), and three replicas (one page through a replacement, on shortened durations). Each
 * spends most of its time waiting for alert durations to pass and none measures a rate, so they
 * run side by side (describe.concurrent): about as long as the longest instead of the sum. Each
 * has its own simulator, exporters and Prometheus, and stops only its own processes.
 */
const JOB = 'zego-stream-exporter';
/** Five exporters and three Prometheus start at once here: more than the usual 10 s to be up. */
const START_MS = 30_000;

type Alert = { labels: Record<string, string>; state: string };
type Sample = { metric: Record<string, string>; value: [number, string] };

const hostOf = (e: ExporterProcess): string => e.url.replace('http://', '');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const nowSec = (): number => Math.floor(Date.now() / 1000);

/**
 * The whole chain as an operator runs it: simulator → exporter → a real Prometheus with the
 * shipped rules. A key stream goes down: ZegoKeyStreamDown goes pending, then firing (its `for` is
 * 1m), and resolves when the stream returns. Every dashboard query and the Grafana-managed alert's
 * query are evaluated against that Prometheus and must return data.
 */
describe.concurrent('end to end with a real Prometheus', () => {
  const APP_ID = 246813579;
  const SECRET = 'e2e0123456789abcdef0123456789abc';
  const CALLBACK_SECRET = 'e2e-callback-secret';
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
    // A watched mix task that runs (its input stays up) gives the dashboard's Mix tasks row its data.
    sim.startMix('show-mix', { inputs: ['stage-backup'], roomId: 'show' });
    exp = await startExporter(
      `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  rate_limit: 10\ncallbacks:\n  secret: \${CB}\n  listen_address: 127.0.0.1:0\nprobe:\n  interval: 2s\nstreams:\n` +
        `  - id: stage-main\n    interval: 1s\n    labels: { severity: critical, team: broadcast }\n` +
        `  - id: stage-backup\n    labels: { severity: critical, team: broadcast }\n  - side-room\n  - never-there\n` +
        `rooms:\n  - { id: show, interval: 10s }\nmix_tasks:\n  - { id: show-mix, interval: 5s }\n` +
        // The dashboard's Outputs row reads a watched output (the simulator's CDN serves the active stream).
        `outputs:\n  - { url: ${sim.url}/cdn/hls/stage-backup.m3u8, stream_id: stage-backup, interval: 5s, labels: { severity: critical } }\n`,
      { env: { S: SECRET, CB: CALLBACK_SECRET }, logLevel: 'info', timeoutMs: START_MS },
    );
    prom = await startPrometheus({ target: exp.url.replace('http://', ''), job: JOB, ruleFiles: [join(ROOT, 'alerts/zego-alerts.yaml')] });
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    await exp?.stop('SIGKILL');
    await sim?.close();
  });

  it.sequential('scrapes the exporter, whose /metrics passes promtool check metrics', async () => {
    await eventually(
      () => prom.query(`up{job="${JOB}"}`),
      (r) => r.data.result.length === 1 && (r.data.result[0] as { value: [number, string] }).value[1] === '1',
      20_000,
      250,
    );
    const text = await (await fetch(`${exp.url}/metrics`)).text();
    const check = promtool(['check', 'metrics'], { input: text });
    // One lint finding is the outputs issue's contract: the metric is named
    // zego_output_bitrate_bits_per_second (bits, as video bitrates are read), where promtool's
    // convention prefers bytes (docs/outputs.md). Anything else it says fails; a parse error too (status 1).
    const findings = check.output.split('\n').filter((l) => l.trim() !== '');
    expect(findings.filter((l) => !l.startsWith('zego_output_bitrate_bits_per_second use base unit "bytes"'))).toEqual([]);
    expect(check.status).toBe(findings.length === 0 ? 0 : 3);
  });

  it.sequential(
    'fires ZegoKeyStreamDown (pending, then firing) for a key stream that goes down, and clears its condition when it is back',
    async () => {
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
    },
    150_000,
  );
});

/**
 * The issue's demo, end to end with the shipped rules unchanged: a room labelled severity:
 * critical, a guest and a host found in its stream list who stop publishing. Neither raises a
 * stream alert (not even pending: their severity is none, so the rules' condition never holds for
 * them), while ZegoKeyRoomEmpty fires for the emptied room, and a key stream from `streams:` that
 * goes down at the same moment does raise ZegoKeyStreamDown (the stream rules do run). The room's
 * emptiness is read from its list, whether the simulator answers an empty list or "room does not
 * exist" for it (the exporter reads both as no stream published).
 */
describe.concurrent('streams found in a key room, with a real Prometheus and the shipped rules', () => {
  const APP_ID = 135792468;
  const SECRET = 'd15c0123456789abcdef0123456789ab';
  const STREAM_ALERTS = 'ZegoKeyStreamDown|ZegoStreamDown';
  let sim: Simulator;
  let exp: ExporterProcess;
  let prom: PrometheusProcess;

  beforeAll(async () => {
    sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
    sim.publishInRoom('show', 'host');
    sim.publishInRoom('show', 'guest');
    sim.setRoomCounts('show', { userCount: 4 });
    sim.setStream('key-cam', { state: 'active', createTime: Math.floor(Date.now() / 1000) - 60 });
    exp = await startExporter(
      `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  rate_limit: 5\nprobe:\n  interval: 2s\n` +
        `streams:\n  - id: key-cam\n    labels: { severity: critical }\n` +
        `rooms:\n  - id: show\n    interval: 10s\n    labels: { severity: critical, team: live }\n`,
      { env: { S: SECRET }, logLevel: 'info', timeoutMs: START_MS },
    );
    prom = await startPrometheus({ target: exp.url.replace('http://', ''), job: JOB, ruleFiles: [join(ROOT, 'alerts/zego-alerts.yaml')] });
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    await exp?.stop('SIGKILL');
    await sim?.close();
  });

  const value = async (expr: string): Promise<string[]> => ((await prom.query(expr)).data.result as Sample[]).map((s) => s.value[1]);
  const streamAlerts = (alerts: Alert[], id: string): Alert[] =>
    alerts.filter((a) => new RegExp(`^(${STREAM_ALERTS})$`).test(a.labels['alertname'] ?? '') && a.labels['stream_id'] === id);

  it('a guest and the host who leave raise no stream alert; ZegoKeyRoomEmpty fires for the empty room; a key stream from streams: still pages', async () => {
    // Found in the room: the room's labels but severity none, their origin the room.
    await eventually(
      () => prom.query('zego_stream_active{stream_id=~"host|guest"} * on (stream_id) group_left zego_stream_source_info{source="room"}'),
      (r) => (r.data.result as Sample[]).filter((s) => s.metric['severity'] === 'none' && s.metric['team'] === 'live' && s.value[1] === '1').length === 2,
      30_000,
      250,
    );
    const page = await (await fetch(`${exp.url}/`)).text();
    expect(page).toMatch(/<td>guest<\/td>(<td>[^<]*<\/td>){4}<td>room<\/td>/);
    expect(page).toMatch(/<td>key-cam<\/td>(<td>[^<]*<\/td>){4}<td>config<\/td>/);
    expect(page).toContain('<h2>Rooms (1)</h2>');
    expect(page).toMatch(/<tr><td>show<\/td><td>severity=critical, team=live<\/td><td>2<\/td><td>4<\/td>/);

    const start = Date.now();
    sim.unpublishFromRoom('show', 'guest');
    await eventually(
      () => value('zego_stream_active{stream_id="guest"}'),
      (v) => v[0] === '0',
      30_000,
      250,
    );
    sim.unpublishFromRoom('show', 'host');
    sim.setStream('key-cam', { state: 'closed', createTime: Math.floor(Date.now() / 1000) - 120, closeTime: Math.floor(Date.now() / 1000) });
    await eventually(
      () => value('zego_room_streams{room_id="show"}'),
      (v) => v[0] === '0',
      30_000,
      250,
    );
    await eventually(
      () => value('zego_stream_active{stream_id="host"}'),
      (v) => v[0] === '0',
      30_000,
      250,
    );

    const room = (alerts: Alert[]): Alert | undefined => alerts.find((a) => a.labels['alertname'] === 'ZegoKeyRoomEmpty' && a.labels['room_id'] === 'show');
    const seen: Alert[] = [];
    const firing = await eventually(
      async () => {
        const a = await prom.alerts();
        seen.push(...streamAlerts(a, 'guest'), ...streamAlerts(a, 'host'));
        return a;
      },
      (a) => room(a)?.state === 'firing',
      100_000,
      500,
    );
    expect(room(firing)!.labels).toMatchObject({ severity: 'critical', team: 'live', job: JOB });
    // The control: the listed key stream that went down at the same moment pages.
    expect(streamAlerts(firing, 'key-cam').map((a) => a.labels['alertname'])).toEqual(['ZegoKeyStreamDown']);
    expect(seen).toEqual([]);
    // Prometheus records every pending or firing alert as an ALERTS series: none ever existed for them.
    const window = `${Math.ceil((Date.now() - start) / 1000) + 30}s`;
    expect(await value(`count_over_time(ALERTS{alertname=~"${STREAM_ALERTS}",stream_id=~"guest|host"}[${window}])`)).toEqual([]);
    expect(await value(`count_over_time(ALERTS{alertname="ZegoKeyStreamDown",stream_id="key-cam"}[${window}])`)).not.toEqual([]);
  }, 180_000);
});

/**
 * The default deployment as a new user runs it: three exporters (sidecars of three replicas)
 * watching the same streams, scraped as one job by a real Prometheus that loads the repo's rules.
 * One key stream down is one page, not three; a replica replaced by a new one on another address
 * neither resolves it nor raises another; the stream back up resolves it, once.
 */
describe.concurrent('alert rules with three replicas (real Prometheus, three exporters, one simulator)', () => {
  const APP_ID = 135792468;
  const SECRET = 'replicas0123456789abcdef01234567';
  const STREAM = 'stage-main';
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
  const start = (): Promise<ExporterProcess> => startExporter(config.replace('URL', sim.url), { env: { S: SECRET }, logLevel: 'info', timeoutMs: START_MS });

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
    await Promise.all(exporters.map((e) => e.stop('SIGKILL')));
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
