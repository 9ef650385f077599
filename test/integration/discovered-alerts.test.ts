import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { eventually, ROOT, startExporter, stopAll, type ExporterProcess } from '../helpers/exporter-process.js';
import { startPrometheus, type PrometheusProcess } from '../helpers/prometheus.js';

const APP_ID = 135792468;
const SECRET = 'd15c0123456789abcdef0123456789ab';
const JOB = 'zego-stream-exporter';
const STREAM_ALERTS = 'ZegoKeyStreamDown|ZegoStreamDown';

type Alert = { labels: Record<string, string>; state: string };
type Sample = { metric: Record<string, string>; value: [number, string] };

/**
 * The issue's demo, end to end with the shipped rules unchanged: a room labelled severity:
 * critical, a guest and a host found in its stream list who stop publishing. Neither raises a
 * stream alert (not even pending: their severity is none, so the rules' condition never holds for
 * them), while ZegoKeyRoomEmpty fires for the emptied room, and a key stream from `streams:` that
 * goes down at the same moment does raise ZegoKeyStreamDown (the stream rules do run). The room's
 * emptiness is read from its list, whether the simulator answers an empty list or "room does not
 * exist" for it (the exporter reads both as no stream published).
 */
describe('streams found in a key room, with a real Prometheus and the shipped rules', () => {
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
      { env: { S: SECRET }, logLevel: 'info' },
    );
    prom = await startPrometheus({ target: exp.url.replace('http://', ''), job: JOB, ruleFiles: [join(ROOT, 'alerts/zego-alerts.yaml')] });
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    await stopAll();
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
