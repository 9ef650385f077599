import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import type { OutputFault } from '../../simulator/server.js';
import { eventually, runCli, scrape, startExporter, stopAll, writeTemp } from '../helpers/exporter-process.js';

const APP_ID = 987654321;
const SECRET = '0123456789abcdef0123456789abcdef';
/** A short target duration, the 5 s minimum interval: each fault must read down within max(3 × 1 s, 5 s) + 5 s. */
const TARGET_S = 1;
const INTERVAL_S = 5;
const BOUND_MS = (Math.max(3 * TARGET_S, INTERVAL_S) + INTERVAL_S) * 1000;
/** A stall too: a probe dates the media's last advance at most one target duration back (outputs/hls.ts). */
const STALL_BOUND_MS = BOUND_MS;
/** Scrape polling and process scheduling on a loaded 2-core machine, on top of the bound. */
const SLACK_MS = 1500;

type Metrics = Map<string, number>;

/**
 * The outputs part as a real process against the simulator's CDN: every fault the simulator
 * can put on an output is read down with its reason within the issue's bound; a stalled delivery
 * under a healthy stream and a running mix task is diagnosed `delivery`; a stream published
 * straight to the CDN (ZEGO answers 41004 for it) is not blamed; a CDN that does not answer keeps
 * the last state with probe_success 0.
 */
describe('outputs (real process, simulator CDN)', () => {
  let sim: Simulator;
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    const active = { state: 'active' as const, createTime: now() - 60 };
    sim = await startSimulator({
      apps: [{ appId: APP_ID, secret: SECRET }],
      streams: { host: active, 's-stall': active, 's-end': active, 's-nf': active, 's-reg': active, 's-ho': active, 's-slow': active },
      rooms: { stage: { streams: ['host'] } },
      hlsTargetDurationS: TARGET_S,
      slowFirstByteMs: 4000,
    });
    sim.startMix('show', { inputs: ['host'], roomId: 'stage', outputs: ['show-out'] });
    sim.setOutput('cdn-only', { direct: true });
  }, 30_000);
  afterEach(async () => {
    await stopAll();
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('reads each fault down with its reason within max(3 × target duration, interval) + interval, names the failing layer, keeps the state of an output it cannot reach', async () => {
    const cdn = `${sim.url}/cdn`;
    const outputs: [name: string, url: string, extra: string][] = [
      ['host-hls', `${cdn}/hls/host.m3u8?token=tok-host`, 'stream_id: host'],
      ['mix-hls', `${cdn}/hls/show-out/master.m3u8?token=tok-mix`, 'mix_task: show'],
      ['stall', `${cdn}/hls/s-stall.m3u8`, 'stream_id: s-stall'],
      ['endlist', `${cdn}/hls/s-end.m3u8`, 'stream_id: s-end'],
      ['nf-hls', `${cdn}/hls/s-nf.m3u8`, 'stream_id: s-nf'],
      ['nf-flv', `${cdn}/flv/s-nf.flv`, 'stream_id: s-nf'],
      ['regression', `${cdn}/hls/s-reg.m3u8`, 'stream_id: s-reg'],
      ['header-only', `${cdn}/flv/s-ho.flv`, 'stream_id: s-ho'],
      ['slow', `${cdn}/hls/s-slow.m3u8`, 'stream_id: s-slow'],
      ['direct', `${cdn}/flv/cdn-only.flv`, 'stream_id: cdn-only'],
    ];
    const m = await startExporter(
      `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  timeout: 2s\n` +
        `probe:\n  interval: 2s\n  outputs: { timeout: 2s, flv_window: 1s }\n` +
        `streams: [host]\nrooms: [{ id: stage, interval: 10s }]\n` +
        `mix_tasks:\n  - { id: show, interval: 2s }\n` +
        `outputs:\n${outputs.map(([, url, extra]) => `  - { url: "${url}", interval: ${INTERVAL_S}s, ${extra} }\n`).join('')}`,
      { env: { S: SECRET }, logLevel: 'info' },
    );
    const name = (i: number) => outputs[i]![1].split('?')[0]!;
    const series = (metric: string, i: number) => `${metric}{output="${name(i)}",kind="${name(i).endsWith('.flv') ? 'flv' : 'hls'}"}`;
    const up = (x: Metrics, i: number) => x.get(series('zego_output_up', i));
    const failures = (x: Metrics, i: number, reason: string) => x.get(`zego_output_failures_total{output="${name(i)}",reason="${reason}"}`) ?? 0;
    const layer = (x: Metrics, i: number) =>
      ['publisher', 'mixer', 'delivery', 'none'].find((l) => x.get(`zego_output_diagnosis{output="${name(i)}",layer="${l}"}`) === 1);

    // Everything plays, and ZEGO's side is known (the stream, the task running), before any fault.
    let x = await eventually(
      () => scrape(m.url),
      (v) =>
        outputs.every((_, i) => up(v, i) === 1) &&
        v.get('zego_mix_task_active{task_id="show"}') === 1 &&
        v.get('zego_stream_active{stream_id="s-slow",severity="none"}') === 1,
      20_000,
      200,
    );
    const text = await (await fetch(`${m.url}/metrics`)).text();
    expect(text).not.toMatch(/tok-host|tok-mix|token=/);
    expect(x.get('zego_output_info{output="' + name(1) + '",kind="hls",stream_id="",mix_task="show"}')).toBe(1);
    expect(layer(x, 0)).toBe('none');
    // The direct stream: ZEGO answers 41004 for it forever, its output plays: not blamed on the publisher.
    expect(x.get('zego_stream_active{stream_id="cdn-only",severity="none"}')).toBe(0);
    expect(layer(x, 9)).toBe('none');
    // A feed stream nothing else lists is watched for the diagnosis, with severity none.
    expect(x.get('zego_stream_source_info{stream_id="s-stall",source="output"}')).toBe(1);

    const faults: [index: number, id: string, fault: OutputFault, reason: string][] = [
      [0, 'host', 'stall', 'stale'],
      [1, 'show-out', 'stall', 'stale'],
      [2, 's-stall', 'stall', 'stale'],
      [3, 's-end', 'endlist', 'endlist'],
      [4, 's-nf', 'not_found', 'not_found'],
      [7, 's-ho', 'header_only', 'no_media'],
      [6, 's-reg', 'regression', 'regression'],
    ];
    const before = new Map(faults.map(([i, , , reason]) => [i, failures(x, i, reason)]));
    const unreachableBefore = failures(x, 8, 'unreachable');
    const setAt = Date.now();
    for (const [, id, fault] of faults) sim.setOutput(id, { fault });
    sim.setOutput('s-slow', { fault: 'slow_first_byte' });
    const downAt = new Map<number, number>();
    x = await eventually(
      () => scrape(m.url),
      (v) => {
        for (const [i] of faults) if (!downAt.has(i) && up(v, i) === 0) downAt.set(i, Date.now() - setAt);
        // s-nf's FLV output reads not_found too.
        if (!downAt.has(5) && up(v, 5) === 0) downAt.set(5, Date.now() - setAt);
        return downAt.size === faults.length + 1;
      },
      STALL_BOUND_MS + 10_000,
      100,
    );
    // Printed for the report: how long each fault took to read down (noisy on a shared machine).
    console.log(`outputs: fault → down ms: ${faults.map(([i, , fault]) => `${fault}@${name(i).split('/').pop()}=${downAt.get(i)}`).join(' ')}`);
    for (const [i, , fault, reason] of faults) {
      const bound = fault === 'stall' ? STALL_BOUND_MS : BOUND_MS;
      expect(downAt.get(i), `${fault} → ${reason} within ${bound} ms`).toBeLessThanOrEqual(bound + SLACK_MS);
      expect(failures(x, i, reason), `${name(i)}: ${reason}`).toBeGreaterThan(before.get(i)!);
    }
    expect(failures(x, 5, 'not_found')).toBeGreaterThan(0);
    expect(downAt.get(5)).toBeLessThanOrEqual(BOUND_MS + SLACK_MS);
    // Stalled delivery under a healthy stream and a running mix task: the layer is delivery.
    expect(x.get('zego_stream_active{stream_id="host"}')).toBe(1);
    expect(x.get('zego_mix_task_active{task_id="show"}')).toBe(1);
    expect(layer(x, 0)).toBe('delivery');
    expect(layer(x, 1)).toBe('delivery');

    // A CDN that does not answer within the probe's time: probe_success 0, the last state (up) kept.
    x = await eventually(
      () => scrape(m.url),
      (v) => v.get(series('zego_output_probe_success', 8)) === 0,
      BOUND_MS,
      200,
    );
    expect(up(x, 8)).toBe(1);
    expect(failures(x, 8, 'unreachable')).toBeGreaterThan(unreachableBefore);

    // The publisher layer: the stream behind a stalled output closes.
    sim.setStream('s-stall', { state: 'closed', createTime: now() - 60, closeTime: now() });
    x = await eventually(
      () => scrape(m.url),
      (v) => layer(v, 2) === 'publisher',
      10_000,
      200,
    );
    expect(x.get('zego_stream_active{stream_id="s-stall",severity="none"}')).toBe(0);

    // Healthy again: up within the same bound.
    sim.clearOutput('host');
    await eventually(
      () => scrape(m.url),
      (v) => up(v, 0) === 1 && layer(v, 0) === 'none',
      BOUND_MS + SLACK_MS,
      200,
    );
    const landing = await (await fetch(`${m.url}/`)).text();
    expect(landing).toMatch(/Outputs: 10 probed, \d+ up, \d+ down/);
    expect(landing).not.toContain('tok-');
    expect(m.stderr()).not.toMatch(/tok-host|tok-mix/);
  }, 90_000);

  it('--config.check gives the outputs and their pacing, never a token', async () => {
    const file = writeTemp(
      'outputs.yaml',
      `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n` +
        `outputs:\n  - https://cdn.example.com/a.m3u8?auth=\${T}\n  - { url: "https://cdn.example.com/b.flv?auth=\${T}", severity: critical }\n`,
    );
    const r = await runCli(['--config.check', `--config.file=${file}`], { S: SECRET, T: 'tok-check-1' });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      '2 outputs (1 HLS, 1 HTTP-FLV; 1 key): 0.13 probes/s; HTTP-FLV windows keep about 0.2 probes open of probe.outputs.concurrency 32',
    );
    expect(r.stdout + r.stderr).not.toContain('tok-check-1');
  });
});
