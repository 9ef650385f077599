import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { MIX_INPUTS_GONE_END_MS } from '../../simulator/mix.js';
import { INPUTS_GONE_TOLERANCE_MS, MIX_STOP_WINDOW_MS } from '../../src/state/mix-tasks.js';
import { TEST_MIX_STOP_WINDOW_ENV } from '../../src/test-clock.js';
import { eventually, scrape, startExporter, stopAll } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/ports.js';

const APP_ID = 987654321;
const SECRET = '0123456789abcdef0123456789abcdef';
const CB_SECRET = 'mix-callback-secret';
const INTERVAL_S = 2;
/**
 * The process's mix stop window, shortened through its test knob (test-clock.ts): the rule "not
 * counted before the window, counted after it" is the same at 8 s as at the real 77 s, which
 * test/unit/mix-part.test.ts proves with fake timers on the default MixEvents.
 */
const WINDOW_MS = 8000;
/**
 * How far the simulator's monotonic clock is moved on once quiet's room empties, so ZEGO's 90 s
 * end comes after 75 s of wall time. The exporter still sees the inputs gone for at least 90 s
 * less its tolerance (30 s, for room lists that learn of a departure up to an interval late):
 * 75 s less a 10 s room interval is 65 s, above the 60 s it needs.
 */
const SIM_SKIP_MS = 15_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The mix part as a real process against the strict simulator, which sends mix_start / mix_stop
 * to the exporter's callback listener as ZEGO would (none when a mixer crashes). Three tasks at
 * once, so the stop window (WINDOW_MS here) is waited for once:
 * - `crash`: its mixer dies with its inputs live → not running within one interval + 2 s, counted
 *   `unannounced` once the window has passed;
 * - `quiet`: its room's streams all leave; ZEGO ends it 90 s later without a mix_stop (as the
 *   simulator can be told to) → counted `inputs_gone`, never `unannounced`;
 * - `stopped`: the customer stops it → its mix_stop is applied at once (`callback`).
 */
describe('mix tasks (real process, strict simulator)', () => {
  let sim: Simulator;
  let cbPort: number;
  /** Added to the simulator's monotonic clock (its rate windows and ZEGO's 90 s count): only ever moved on. */
  let simSkipMs = 0;

  beforeAll(async () => {
    cbPort = await freePort();
    sim = await startSimulator({
      apps: [{ appId: APP_ID, secret: SECRET }],
      rooms: { 'stage-a': { streams: ['host-a'] }, 'stage-q': { streams: ['host-q'] }, 'stage-s': { streams: ['host-s'] } },
      callbacks: { url: `http://127.0.0.1:${cbPort}/zego/callback`, secret: CB_SECRET, retryGapsMs: [200, 400] },
      clock: { monoMs: () => performance.now() + simSkipMs, wallMs: () => Date.now() },
    });
  }, 30_000);
  afterEach(async () => {
    await stopAll();
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('a crash is seen within one interval + 2 s and counted unannounced after the stop window; inputs gone → inputs_gone; mix_stop applied at once', async () => {
    expect(WINDOW_MS).toBeLessThan(MIX_STOP_WINDOW_MS);
    expect(MIX_INPUTS_GONE_END_MS - SIM_SKIP_MS - 10_000).toBeGreaterThan(MIX_INPUTS_GONE_END_MS - INPUTS_GONE_TOLERANCE_MS);
    const m = await startExporter(
      `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  timeout: 2s\n` +
        `callbacks:\n  secret: \${CB}\n  listen_address: 127.0.0.1:${cbPort}\n` +
        `rooms:\n  - { id: stage-a, interval: 10s }\n  - { id: stage-q, interval: 10s }\n  - { id: stage-s, interval: 10s }\n` +
        `mix_tasks:\n  - { id: crash, interval: ${INTERVAL_S}s, labels: { severity: critical } }\n  - { id: quiet, interval: ${INTERVAL_S}s }\n  - { id: stopped, interval: ${INTERVAL_S}s }\n`,
      { env: { S: SECRET, CB: CB_SECRET, [TEST_MIX_STOP_WINDOW_ENV]: String(WINDOW_MS) }, logLevel: 'info' },
    );
    expect(m.logs().some((l) => l.msg.startsWith('test mix stop window in effect') && l['window_ms'] === WINDOW_MS)).toBe(true);
    // Started after the exporter listens, so each mix_start reaches it (and names the task's room).
    sim.startMix('crash', { inputs: ['host-a'], roomId: 'stage-a', outputs: ['crash-out'] });
    sim.startMix('quiet', { inputs: ['host-q'], roomId: 'stage-q', inputsGoneCallback: false });
    sim.startMix('stopped', { inputs: ['host-s'], roomId: 'stage-s' });
    let metrics = await eventually(
      () => scrape(m.url),
      (x) => ['crash', 'quiet', 'stopped'].every((t) => x.get(`zego_mix_task_active{task_id="${t}"${t === 'crash' ? ',severity="critical"' : ''}}`) === 1),
      10_000,
      100,
    );
    expect(metrics.get('zego_mix_task_info{task_id="crash",room_id="stage-a",output_stream_id="crash-out"}')).toBe(1);
    expect(metrics.get('zego_exporter_callbacks_total{event="mix_start",result="accepted"}')).toBe(3);
    // Wait for the rooms' first lists: the inputs of each task are known.
    await eventually(
      () => scrape(m.url),
      (x) => x.get('zego_stream_room_info{stream_id="host-q",room_id="stage-q"}') === 1,
      15_000,
      200,
    );

    // The customer stops one: the mix_stop shows at once, long before a poll could.
    sim.stopMix('stopped');
    const stoppedAt = Date.now();
    await eventually(
      () => scrape(m.url),
      (x) => x.get('zego_mix_task_active{task_id="stopped"}') === 0,
      2000,
      20,
    );
    expect(Date.now() - stoppedAt).toBeLessThan(1000);

    // quiet's room empties: ZEGO will end it 90 s later (by the simulator's clock, moved on by SIM_SKIP_MS), silently.
    sim.unpublishFromRoom('stage-q', 'host-q');
    const inputsLeftAt = Date.now();
    simSkipMs += SIM_SKIP_MS;

    // crash's mixer dies with its inputs live: no callback.
    sim.crashMix('crash');
    const crashedAt = Date.now();
    metrics = await eventually(
      () => scrape(m.url),
      (x) => x.get('zego_mix_task_active{task_id="crash",severity="critical"}') === 0,
      INTERVAL_S * 1000 + 3000,
      50,
    );
    expect(Date.now() - crashedAt).toBeLessThanOrEqual(INTERVAL_S * 1000 + 2000);
    expect(metrics.get('zego_mix_task_stops_total{task_id="crash",severity="critical",reason="unannounced"}')).toBe(0);
    await sleep(Math.max(0, crashedAt + WINDOW_MS - 3000 - Date.now()));
    expect((await scrape(m.url)).get('zego_mix_task_stops_total{task_id="crash",severity="critical",reason="unannounced"}')).toBe(0);
    metrics = await eventually(
      () => scrape(m.url),
      (x) => x.get('zego_mix_task_stops_total{task_id="crash",severity="critical",reason="unannounced"}') === 1,
      INTERVAL_S * 1000 + 6000,
      200,
    );
    expect(m.logs().some((l) => l.msg === 'mix task stopped without a mix_stop while its inputs were live (a crash)')).toBe(true);

    // quiet: ended by ZEGO 90 s (simulator time) after its inputs left, seen by the next poll, counted once its window passed.
    metrics = await eventually(
      () => scrape(m.url),
      (x) => x.get('zego_mix_task_active{task_id="quiet"}') === 0,
      Math.max(0, inputsLeftAt + MIX_INPUTS_GONE_END_MS - SIM_SKIP_MS + INTERVAL_S * 1000 + 3000 - Date.now()),
      200,
    );
    expect(Date.now() - inputsLeftAt).toBeGreaterThanOrEqual(MIX_INPUTS_GONE_END_MS - SIM_SKIP_MS - 1000);
    metrics = await eventually(
      () => scrape(m.url),
      (x) => x.get('zego_mix_task_stops_total{task_id="quiet",reason="inputs_gone"}') === 1,
      WINDOW_MS + INTERVAL_S * 1000 + 3000,
      500,
    );
    expect(metrics.get('zego_mix_task_stops_total{task_id="quiet",reason="unannounced"}')).toBe(0);
    expect(metrics.get('zego_mix_task_stops_total{task_id="stopped",reason="callback"}')).toBe(1);
    expect(metrics.get('zego_mix_task_stops_total{task_id="stopped",reason="unannounced"}')).toBe(0);
    // Polled under GetMixTaskInfo's own budget, never throttled.
    expect(metrics.get('zego_exporter_api_requests_total{api="GetMixTaskInfo",code="0",outcome="active"}')).toBeGreaterThan(0);
    expect(sim.stats().apis['GetMixTaskInfo']?.throttled ?? 0).toBe(0);
  }, 150_000);
});
