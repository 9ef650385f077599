import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { rng } from '../helpers/rng.js';
import { eventually, scrape, startExporter, stopAll, type ExporterProcess } from '../helpers/exporter-process.js';

/**
 * The fault matrix: each fault the real API or network can throw at the exporter, injected into
 * the strict simulator. For each: no stream flips to down, the process stays up, the budget holds,
 * what the exporter shows (probe_success, error counters, logs once per change) is right, and it
 * recovers when the fault ends. Plain 5xx/bad JSON/reset/hang and forced-code storms are in
 * exporter.test.ts ('keeps the last known state when probes fail...').
 */
const APP_ID = 2233445566;
const SECRET = 'faults0123456789abcdef0123456789';
const WRONG = 'wrong0123456789abcdef0123456789ab';
const nowSec = (): number => Math.floor(Date.now() / 1000);

function config(endpoint: string, secret = '${S}', extraStreams = 0): string {
  const extra = Array.from({ length: extraStreams }, (_, i) => `  - x-${i}\n`).join('');
  return `zego:\n  app_id: ${APP_ID}\n  server_secret: "${secret}"\n  endpoint: ${endpoint}\n  rate_limit: 10\n  timeout: 1s\nprobe:\n  interval: 1s\nstreams:\n  - up\n  - down\n${extra}`;
}

const sims: Simulator[] = [];
async function sim(port = 0): Promise<Simulator> {
  // Seeded fault draws: with seed 55 the first four faulty answers are a 5xx, garbage, a reset and
  // a hang, so every kind the mixed test expects happens within its few calls on every run.
  const s = await startSimulator({ port, host: '127.0.0.1', apps: [{ appId: APP_ID, secret: SECRET }], random: rng(55) });
  s.setStream('up', { state: 'active', createTime: nowSec() - 300 });
  s.setStream('down', { state: 'closed', createTime: nowSec() - 600, closeTime: nowSec() - 60 });
  sims.push(s);
  return s;
}

afterEach(async () => {
  await stopAll();
  for (const s of sims.splice(0)) await s.close();
});

const UP = 'zego_stream_active{stream_id="up"}';
const DOWN = 'zego_stream_active{stream_id="down"}';
const OK_UP = 'zego_stream_probe_success{stream_id="up"}';

async function start(endpoint: string, secret?: string, extraStreams = 0): Promise<ExporterProcess> {
  return startExporter(config(endpoint, secret, extraStreams), { env: { S: SECRET }, logLevel: 'info' });
}

async function known(exp: ExporterProcess): Promise<void> {
  await eventually(
    () => scrape(exp.url),
    (m) => m.get(UP) === 1 && m.get(DOWN) === 0 && m.get(OK_UP) === 1,
  );
}

/** While the fault lasts: every scrape answered, nothing flips, and probe_success goes 0. */
async function holdsThrough(exp: ExporterProcess, ms: number, expectFailing = true): Promise<Map<string, number>> {
  const t0 = Date.now();
  let sawFailing = false;
  let m = new Map<string, number>();
  while (Date.now() - t0 < ms) {
    m = await scrape(exp.url);
    expect(m.get(UP)).toBe(1);
    expect(m.get(DOWN)).toBe(0);
    if (m.get(OK_UP) === 0) sawFailing = true;
    await new Promise((r) => setTimeout(r, 200));
  }
  if (expectFailing) expect(sawFailing).toBe(true);
  return m;
}

async function recovers(exp: ExporterProcess, timeoutMs = 10_000): Promise<void> {
  await eventually(
    () => scrape(exp.url),
    (m) => m.get(OK_UP) === 1 && m.get('zego_stream_probe_success{stream_id="down"}') === 1,
    timeoutMs,
  );
}

function codeCount(m: Map<string, number>, code: string): number {
  return [...m].filter(([k]) => k.startsWith(`zego_exporter_api_requests_total{api="DescribeRTCStreamState",code="${code}"`)).reduce((a, [, v]) => a + v, 0);
}

function healthy(exp: ExporterProcess): void {
  expect(exp.child.exitCode).toBeNull();
  expect(exp.stderr()).not.toContain('unhandled rejection');
  expect(exp.stderr()).not.toContain('MaxListenersExceededWarning');
}

const count = (exp: ExporterProcess, text: string): number => exp.logs().filter((l) => String(l.msg).includes(text)).length;

describe('fault matrix (exporter process against the simulator)', () => {
  it('latency spikes beyond the timeout: timeouts counted, state kept, recovers', async () => {
    const s = await sim();
    const exp = await start(s.url);
    await known(exp);
    s.setFaults({ latencyMs: 1500 });
    const m = await holdsThrough(exp, 3000);
    expect(codeCount(m, 'timeout')).toBeGreaterThan(0);
    s.setFaults({ latencyMs: 0 });
    await recovers(exp);
    expect(s.stats().peakWindow.all).toBeLessThanOrEqual(10);
    healthy(exp);
  });

  it('a mix of 5xx bursts, garbage JSON, resets and hangs: state kept, budget held, failures summarised not logged per call', async () => {
    const s = await sim();
    const exp = await start(s.url);
    await known(exp);
    s.resetStats();
    s.setFaults({ http500: 0.25, badJson: 0.25, reset: 0.2, hang: 0.1 });
    const m = await holdsThrough(exp, 4000);
    for (const kind of ['http500', 'badJson', 'reset', 'hang'] as const) expect(s.stats().faults[kind], kind).toBeGreaterThan(0);
    for (const code of ['http_5xx', 'bad_response', 'network']) expect(codeCount(m, code), code).toBeGreaterThan(0);
    s.setFaults({ http500: 0, badJson: 0, reset: 0, hang: 0 });
    await recovers(exp);
    const st = s.stats();
    expect(st.peakWindow.all).toBeLessThanOrEqual(10);
    expect(st.throttled).toBe(0);
    // Many failed calls, one summary line (at most one a minute).
    expect(count(exp, 'probe failures (transient')).toBe(1);
    healthy(exp);
  });

  it('a throttling storm (another caller eats the budget): backs off, logs once, climbs back', async () => {
    const s = await sim();
    const exp = await start(s.url, undefined, 30); // demand 32/s against rate_limit 10
    await known(exp);
    s.setFaults({ throttleRate: 3 });
    // Some calls still get through, so a given stream's last probe may well have succeeded.
    const m = await holdsThrough(exp, 4000, false);
    expect(codeCount(m, '30002')).toBeGreaterThan(0);
    expect(m.get('zego_exporter_rate_limit{api="DescribeRTCStreamState"}')).toBeLessThan(10);
    const lowest = m.get('zego_exporter_rate_limit{api="DescribeRTCStreamState"}')!;
    s.setFaults({ throttleRate: null });
    await recovers(exp);
    // After 5 s without throttling the rate climbs linearly back towards rate_limit.
    await eventually(
      () => scrape(exp.url),
      (m2) => m2.get('zego_exporter_rate_limit{api="DescribeRTCStreamState"}')! > lowest,
      10_000,
      250,
    );
    // Once per change, not per call: a partial throttle lets some calls through, and each of those
    // ends the condition, so a few lines, far fewer than the throttled calls.
    const throttled = codeCount(await scrape(exp.url), '30002');
    const lines = count(exp, 'throttling this AppID');
    expect(lines).toBeGreaterThanOrEqual(1);
    expect(lines * 4, `${lines} log lines for ${throttled} throttled calls`).toBeLessThanOrEqual(throttled);
    expect(count(exp, 'succeeding again')).toBe(lines);
    healthy(exp);
  });

  it('clock skew of 15 minutes: 3002 until corrected from the Date header, then probes succeed without help', async () => {
    const s = await sim();
    s.setFaults({ clockOffsetMs: 15 * 60_000 });
    const exp = await start(s.url);
    // Both streams: each one's first call meets the skew, and "down" may be retried a moment after "up".
    const m = await eventually(
      () => scrape(exp.url),
      (m) => m.get(OK_UP) === 1 && m.get(UP) === 1 && m.get(DOWN) !== undefined,
      10_000,
    );
    expect(codeCount(m, '3002')).toBeGreaterThan(0);
    expect(Math.abs(m.get('zego_exporter_clock_offset_seconds')! - 900)).toBeLessThan(2);
    expect(m.get(DOWN)).toBe(0);
    expect(count(exp, 'timestamp error')).toBe(1);
    healthy(exp);
  });

  it('credentials rejected (40005), then fixed by a reload: never a stream shown down, logged once, recovers', async () => {
    const s = await sim();
    const exp = await start(s.url, WRONG);
    const m = await eventually(
      () => scrape(exp.url),
      (m) => codeCount(m, '40005') >= 3,
    );
    // Nothing is known yet, so nothing is shown: absent, not 0.
    expect(m.has(UP)).toBe(false);
    expect(m.get(OK_UP)).toBe(0);
    expect(count(exp, 'rejects our credentials')).toBe(1);
    writeFileSync(exp.configFile, config(s.url));
    exp.child.kill('SIGHUP');
    await recovers(exp);
    const after = await scrape(exp.url);
    expect(after.get(UP)).toBe(1);
    expect(after.get('zego_exporter_config_last_reload_successful')).toBe(1);
    expect(exp.stderr()).not.toContain(WRONG);
    healthy(exp);
  });

  it('DNS failure of the endpoint: network errors, process up, then fixed by a reload', async () => {
    const s = await sim();
    const exp = await start(`http://zego-sim.invalid:${s.port}`);
    const m = await eventually(
      () => scrape(exp.url),
      (m) => codeCount(m, 'network') >= 2,
    );
    expect(m.has(UP)).toBe(false);
    expect(m.get(OK_UP)).toBe(0);
    expect(s.stats().accepted).toBe(0);
    writeFileSync(exp.configFile, config(s.url));
    const res = await fetch(`${exp.url}/-/reload`, { method: 'POST' });
    expect(res.status).toBe(200);
    await recovers(exp);
    expect((await scrape(exp.url)).get(UP)).toBe(1);
    healthy(exp);
  });

  it('the simulator restarting on the same port: state kept while it is away, recovers on the new one', async () => {
    const s = await sim();
    const exp = await start(s.url);
    await known(exp);
    const port = s.port;
    await s.close();
    sims.splice(sims.indexOf(s), 1);
    const m = await holdsThrough(exp, 2500);
    expect(codeCount(m, 'network')).toBeGreaterThan(0);
    const s2 = await sim(port);
    await recovers(exp);
    expect(s2.stats().accepted).toBeGreaterThan(0);
    healthy(exp);
  });
});
