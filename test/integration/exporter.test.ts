import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { eventually, scrape, startExporter, stopAll } from '../helpers/exporter-process.js';

const APP_ID = 1234567890;
const SECRET = 'f3a9c1d2e4b5a6978877665544332211';
const nowSec = (): number => Math.floor(Date.now() / 1000);

function config(sim: Simulator, streams: string, extra = ''): string {
  return `zego:
  app_id: ${APP_ID}
  server_secret: \${ZEGO_SERVER_SECRET}
  endpoint: ${sim.url}
  rate_limit: 10
  timeout: 1s
${extra}probe:
  interval: 1s
streams:
${streams}
`;
}

describe('exporter process against the simulator', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET, history: true }] });
  });
  afterEach(async () => {
    await stopAll();
    sim.setFaults({ latencyMs: 0, jitterMs: 0, http500: 0, badJson: 0, reset: 0, hang: 0, throttleRate: null, forceCode: null, clockOffsetMs: 0 });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('reports active, closed and missing streams with uptime, and follows changes within one interval', async () => {
    const created = nowSec() - 120;
    sim.setStream('up', { state: 'active', createTime: created });
    sim.setStream('down', { state: 'closed', createTime: created - 600, closeTime: created - 60 });
    sim.removeStream('missing');
    const exp = await startExporter(config(sim, `  - up\n  - id: down\n    labels: { severity: critical, team: broadcast }\n  - missing`), {
      env: { ZEGO_SERVER_SECRET: SECRET },
    });
    const m = await eventually(
      () => scrape(exp.url),
      (m) =>
        m.has('zego_stream_active{stream_id="missing"}') &&
        m.has('zego_stream_active{stream_id="up"}') &&
        m.has('zego_stream_active{stream_id="down",severity="critical",team="broadcast"}'),
    );
    expect(m.get('zego_stream_active{stream_id="up"}')).toBe(1);
    expect(m.get('zego_stream_active{stream_id="down",severity="critical",team="broadcast"}')).toBe(0);
    expect(m.get('zego_stream_active{stream_id="missing"}')).toBe(0);
    const uptime = m.get('zego_stream_uptime_seconds{stream_id="up"}')!;
    expect(uptime).toBeGreaterThanOrEqual(119);
    expect(uptime).toBeLessThan(140);
    expect(m.get('zego_stream_start_timestamp_seconds{stream_id="up"}')).toBe(created);
    expect(m.get('zego_stream_uptime_seconds{stream_id="down",severity="critical",team="broadcast"}')).toBe(0);
    expect(m.get('zego_stream_probe_success{stream_id="up"}')).toBe(1);
    expect(m.get('zego_stream_interval_seconds{stream_id="up"}')).toBe(1);
    expect(m.get('zego_exporter_api_requests_total{api="DescribeRTCStreamState",code="0",outcome="active"}')).toBeGreaterThan(0);
    expect(m.get('zego_exporter_api_requests_total{api="DescribeRTCStreamState",code="41006",outcome="closed"}')).toBeGreaterThan(0);
    expect(m.get('zego_exporter_api_requests_total{api="DescribeRTCStreamState",code="41004",outcome="not_found"}')).toBeGreaterThan(0);

    // Changes show within one interval (1 s) plus a scrape's slack.
    const flip = Date.now();
    sim.setStream('up', { state: 'closed', createTime: created, closeTime: nowSec() });
    sim.setStream('missing', { state: 'active', createTime: nowSec() });
    await eventually(
      () => scrape(exp.url),
      (m) => m.get('zego_stream_active{stream_id="up"}') === 0 && m.get('zego_stream_active{stream_id="missing"}') === 1,
      3000,
      50,
    );
    expect(Date.now() - flip).toBeLessThan(2000);
    const lines = exp.logs().filter((l) => l.msg === 'stream went down' || l.msg === 'stream went up');
    expect(lines.map((l) => `${String(l['stream_id'])}:${l.msg}`).sort()).toEqual(['missing:stream went up', 'up:stream went down']);
  });

  it('keeps the last known state when probes fail, and never crashes on faults', async () => {
    sim.setStream('steady', { state: 'active', createTime: nowSec() - 10 });
    sim.setStream('off', { state: 'closed', createTime: nowSec() - 100, closeTime: nowSec() - 50 });
    const exp = await startExporter(config(sim, '  - steady\n  - off'), { env: { ZEGO_SERVER_SECRET: SECRET } });
    await eventually(
      () => scrape(exp.url),
      (m) => m.get('zego_stream_active{stream_id="steady"}') === 1 && m.get('zego_stream_active{stream_id="off"}') === 0,
    );
    for (const faults of [{ http500: 1 }, { badJson: 1 }, { reset: 1 }, { hang: 1 }, { forceCode: 30002 }, { forceCode: 40005 }, { forceCode: 3001 }]) {
      sim.setFaults({ http500: 0, badJson: 0, reset: 0, hang: 0, forceCode: null, ...faults });
      const m = await eventually(
        () => scrape(exp.url),
        (m) => m.get('zego_stream_probe_success{stream_id="steady"}') === 0,
        5000,
      );
      expect(m.get('zego_stream_active{stream_id="steady"}'), JSON.stringify(faults)).toBe(1);
      expect(m.get('zego_stream_active{stream_id="off"}'), JSON.stringify(faults)).toBe(0);
      sim.setFaults({ http500: 0, badJson: 0, reset: 0, hang: 0, forceCode: null });
      await eventually(
        () => scrape(exp.url),
        (m) => m.get('zego_stream_probe_success{stream_id="steady"}') === 1,
        15_000,
      );
    }
    const m = await scrape(exp.url);
    for (const code of ['http_5xx', 'bad_response', 'network', 'timeout', '30002', '40005', '3001']) {
      const sum = [...m.entries()]
        .filter(([k]) => k.startsWith(`zego_exporter_api_requests_total{api="DescribeRTCStreamState",code="${code}"`))
        .reduce((a, [, v]) => a + v, 0);
      expect(sum, code).toBeGreaterThan(0);
    }
    expect(exp.child.exitCode).toBeNull();
    // Auth failures are logged once per change, not per call.
    expect(exp.logs().filter((l) => String(l.msg).includes('rejects our credentials')).length).toBe(1);
  });

  it('works in the test environment: IsTest and the zegotest-<AppId>- prefix', async () => {
    const testSim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET, production: false }] });
    try {
      testSim.setStream(`zegotest-${APP_ID}-cam1`, { state: 'active', createTime: nowSec() - 5 });
      const exp = await startExporter(config(testSim, '  - cam1\n  - cam2').replace('rate_limit: 10', 'rate_limit: 8\n  is_test: true'), {
        env: { ZEGO_SERVER_SECRET: SECRET },
      });
      const m = await eventually(
        () => scrape(exp.url),
        (m) => m.has('zego_stream_active{stream_id="cam1"}') && m.has('zego_stream_active{stream_id="cam2"}'),
      );
      expect(m.get('zego_stream_active{stream_id="cam1"}')).toBe(1);
      expect(m.get('zego_stream_active{stream_id="cam2"}')).toBe(0);
      const stats = testSim.stats();
      expect(Object.keys(stats.streamCalls).every((id) => id.startsWith(`zegotest-${APP_ID}-`))).toBe(true);
      expect(stats.codes['30004'] ?? 0).toBe(0);
      expect(stats.codes['30009'] ?? 0).toBe(0);
    } finally {
      await stopAll();
      await testSim.close();
    }
  });

  it('never shows the server secret in debug logs, /metrics or the landing page', async () => {
    sim.setStream('s1', { state: 'active', createTime: nowSec() });
    const exp = await startExporter(config(sim, '  - s1'), { env: { ZEGO_SERVER_SECRET: SECRET }, logLevel: 'debug' });
    await eventually(
      () => scrape(exp.url),
      (m) => m.get('zego_stream_active{stream_id="s1"}') === 1,
    );
    sim.setFaults({ forceCode: 40005 }); // auth failures are what tempt an exporter to print credentials
    await eventually(
      () => scrape(exp.url),
      (m) => m.get('zego_stream_probe_success{stream_id="s1"}') === 0,
    );
    const metrics = await (await fetch(`${exp.url}/metrics`)).text();
    const landing = await (await fetch(`${exp.url}/`)).text();
    const reload = await (await fetch(`${exp.url}/-/reload`, { method: 'POST' })).text();
    for (const text of [metrics, landing, reload, exp.stderr()]) expect(text).not.toContain(SECRET);
    expect(exp.logs().some((l) => l.msg === 'probe')).toBe(true); // debug lines were written
    expect(landing).toContain('s1');
  });

  it('answers health and readiness, 404 and 405, and exits 0 on SIGTERM with calls hanging', async () => {
    sim.setStream('h', { state: 'active', createTime: nowSec() });
    const exp = await startExporter(config(sim, '  - h').replace('timeout: 1s', 'timeout: 30s'), { env: { ZEGO_SERVER_SECRET: SECRET } });
    expect((await fetch(`${exp.url}/-/healthy`)).status).toBe(200);
    expect((await fetch(`${exp.url}/-/ready`)).status).toBe(200);
    expect((await fetch(`${exp.url}/nope`)).status).toBe(404);
    expect((await fetch(`${exp.url}/metrics`, { method: 'DELETE' })).status).toBe(405);
    sim.setFaults({ hang: 1 });
    await new Promise((r) => setTimeout(r, 1500)); // a call is now hanging
    const t0 = Date.now();
    const code = await exp.stop('SIGTERM');
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(6000);
    expect(exp.logs().some((l) => l.msg === 'stopped')).toBe(true);
  });
});
