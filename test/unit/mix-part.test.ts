import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ActionRow, CallResult, MixTaskResult } from '../../src/api/actions.js';
import { ApiService } from '../../src/api/service.js';
import { Secret } from '../../src/config/secret.js';
import type { Config, MixTaskConfig } from '../../src/config/types.js';
import { MixPart } from '../../src/mix/part.js';
import type { PartContext } from '../../src/parts/part.js';
import { MixEvents } from '../../src/state/mix-events.js';
import { MIX_STOP_WINDOW_MS } from '../../src/state/mix-tasks.js';
import type { StateStore } from '../../src/state/store.js';
import { discovering } from '../helpers/discovery.js';

const T0 = 1_700_000_000_000;

function config(mixTasks: MixTaskConfig[], rate = 8, streams: Config['streams'] = []): Config {
  return {
    zego: {
      appId: 1234,
      serverSecret: new Secret('0123456789abcdef0123456789abcdef'),
      endpoint: 'http://127.0.0.1:9',
      isTest: false,
      rateLimit: 10,
      streamListRateLimit: 40,
      userNumRateLimit: 8,
      mixTaskInfoRateLimit: rate,
      timeoutMs: 2000,
    },
    probe: { intervalMs: 15_000, maxRoomStreams: 1000, roomStreamsForgetAfterMs: 3_600_000 },
    streams,
    mixTasks,
  };
}

/** What the fake GetMixTaskInfo answers per task: seconds running, gone, or a failure. */
type Answer = { runningSinceMs: number } | 'gone' | 'fail';

interface Harness {
  part: MixPart;
  api: ApiService;
  store: StateStore;
  answers: Map<string, Answer>;
  /** Task ids in the order they were asked about, with when. */
  calls: { taskId: string; atMs: number }[];
  logs: { msg: string; task_id?: string; reason?: string }[];
  /** The core's hand-off the callbacks part applies mix callbacks to. */
  mix: MixEvents;
}

function harness(cfg: Config): Harness {
  const logs: Harness['logs'] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Harness['logs'][number]) });
  const answers = new Map<string, Answer>();
  const calls: Harness['calls'] = [];
  const getMixTaskInfo = (taskId: string): MixTaskResult => {
    const sentAtMs = Date.now();
    calls.push({ taskId, atMs: sentAtMs });
    const a = answers.get(taskId) ?? 'gone';
    if (a === 'fail')
      return { taskId, sentAtMs, durationMs: 1, code: '110200001', outcome: { kind: 'failed', reason: 'transient', message: 'Code 110200001' } };
    if (a === 'gone') return { taskId, sentAtMs, durationMs: 1, code: '110209001', outcome: { kind: 'not_found' } };
    return { taskId, sentAtMs, durationMs: 1, code: '0', outcome: { kind: 'active', mixDurationSec: Math.floor((sentAtMs - a.runningSinceMs) / 1000) } };
  };
  // GetMixTaskInfo answered above in place of the client; the API service and its budget are the real ones.
  const api = new ApiService({
    zego: cfg.zego,
    now: Date.now,
    transport: { call: async <I, R extends CallResult>(_row: ActionRow<I, R>, input: I): Promise<R> => getMixTaskInfo(input as string) as unknown as R },
  });
  const d = discovering(cfg, logger);
  const mix = new MixEvents();
  const ctx: PartContext = { logger, now: Date.now, ...d.ctx, api: api.api.bind(api), mix };
  return { part: new MixPart(cfg, ctx), api, store: d.store, answers, calls, logs, mix };
}

async function stop(h: Harness): Promise<void> {
  let done = false;
  const p = h.api
    .stop(0)
    .then(() => h.part.stop())
    .then(() => (done = true));
  for (let i = 0; i < 50 && !done; i++) await vi.advanceTimersByTimeAsync(100);
  await p;
}

const task = (id: string, intervalMs = 10_000, labels: Record<string, string> = {}): MixTaskConfig => ({ id, intervalMs, labels });

describe('mix part', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('polls every task once per interval, first polls spread evenly over the interval, and renders the zego_mix_task_* families', async () => {
    const h = harness(config([task('a', 10_000, { show: 'x' }), task('b'), task('c'), task('d')]));
    for (const id of ['a', 'b', 'c', 'd']) h.answers.set(id, { runningSinceMs: T0 - 60_000 });
    await h.part.start();
    await vi.advanceTimersByTimeAsync(9_000);
    // One poll each in the first interval, 2.5 s apart.
    expect(h.calls.map((c) => [c.taskId, c.atMs - T0])).toEqual([
      ['a', 0],
      ['b', 2500],
      ['c', 5000],
      ['d', 7500],
    ]);
    await vi.advanceTimersByTimeAsync(21_000);
    expect(h.calls.filter((c) => c.taskId === 'a').map((c) => c.atMs - T0)).toEqual([0, 10_000, 20_000, 30_000]);
    const text = h.part.metrics('text');
    expect(text).toContain('zego_mix_task_active{task_id="a",show="x"} 1\n');
    expect(text).toContain('zego_mix_task_duration_seconds{task_id="a",show="x"} 90\n');
    expect(text).toContain('zego_mix_task_probe_success{task_id="a",show="x"} 1\n');
    expect(text).toContain(`zego_mix_task_last_success_timestamp_seconds{task_id="a",show="x"} ${(T0 + 30_000) / 1000}\n`);
    expect(text).toContain('zego_mix_task_interval_seconds{task_id="a",show="x"} 10\n');
    for (const reason of ['callback', 'inputs_gone', 'unannounced'])
      expect(text).toContain(`zego_mix_task_stops_total{task_id="a",show="x",reason="${reason}"} 0\n`);
    expect(text).toContain('# TYPE zego_mix_task_stops_total counter');
    // OpenMetrics: the counter family loses _total, its samples keep it.
    const om = h.part.metrics('openmetrics');
    expect(om).toContain('# TYPE zego_mix_task_stops counter');
    expect(om).toContain('zego_mix_task_stops_total{task_id="a",show="x",reason="callback"} 0\n');
    await stop(h);
  });

  it('a crashed task (no mix_stop) reads not running at the next poll and is counted unannounced once the callback retry window has passed', async () => {
    const h = harness(config([task('show', 5000)]));
    h.answers.set('show', { runningSinceMs: T0 - 10_000 });
    await h.part.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(h.part.metrics('text')).toContain('zego_mix_task_active{task_id="show"} 1\n');
    h.answers.set('show', 'gone');
    await vi.advanceTimersByTimeAsync(5000);
    const text = h.part.metrics('text');
    expect(text).toContain('zego_mix_task_active{task_id="show"} 0\n');
    expect(text).not.toContain('zego_mix_task_duration_seconds{');
    expect(text).toContain('zego_mix_task_stops_total{task_id="show",reason="unannounced"} 0\n');
    await vi.advanceTimersByTimeAsync(MIX_STOP_WINDOW_MS - 2000);
    expect(h.part.metrics('text')).toContain('zego_mix_task_stops_total{task_id="show",reason="unannounced"} 0\n');
    await vi.advanceTimersByTimeAsync(2000);
    expect(h.part.metrics('text')).toContain('zego_mix_task_stops_total{task_id="show",reason="unannounced"} 1\n');
    expect(h.logs.some((l) => l.task_id === 'show' && l.reason === 'unannounced')).toBe(true);
    await stop(h);
  });

  it('a mix_stop is applied at once and counted by callback; a failed poll changes nothing but probe success', async () => {
    const h = harness(config([task('show', 5000)]));
    h.answers.set('show', { runningSinceMs: T0 - 10_000 });
    await h.part.start();
    await vi.advanceTimersByTimeAsync(100);
    h.answers.set('show', 'fail');
    await vi.advanceTimersByTimeAsync(5000);
    let text = h.part.metrics('text');
    expect(text).toContain('zego_mix_task_active{task_id="show"} 1\n');
    expect(text).toContain('zego_mix_task_probe_success{task_id="show"} 0\n');
    expect(text).toContain(`zego_mix_task_last_success_timestamp_seconds{task_id="show"} ${T0 / 1000}\n`);
    h.part.applyCallback('show', { event: 'mix_stop', seq: 2, atMs: Date.now() });
    text = h.part.metrics('text');
    expect(text).toContain('zego_mix_task_active{task_id="show"} 0\n');
    expect(text).toContain('zego_mix_task_stops_total{task_id="show",reason="callback"} 1\n');
    await stop(h);
  });

  it("takes mix callbacks from the core's hand-off: ZEGO's AppID prefix on task_id is removed for a watched task; others are unwatched", async () => {
    const h = harness(config([task('show', 60_000), task('5')]));
    const start = { event: 'mix_start' as const, seq: 1, atMs: T0 };
    expect(h.mix.apply({ rawTaskId: '1234:show', callback: start }, T0)).toBe('accepted');
    expect(h.mix.apply({ rawTaskId: '12345', callback: start }, T0)).toBe('accepted');
    expect(h.mix.apply({ rawTaskId: '1234:other', callback: start }, T0)).toBe('unwatched');
    const text = h.part.metrics('text');
    expect(text).toContain('zego_mix_task_active{task_id="show"} 1\n');
    expect(text).toContain('zego_mix_task_active{task_id="5"} 1\n');
    expect(h.mix.apply({ rawTaskId: 'show', callback: { event: 'mix_stop', seq: 2, atMs: T0 + 1000 } }, T0 + 1000)).toBe('accepted');
    expect(h.part.metrics('text')).toContain('zego_mix_task_stops_total{task_id="show",reason="callback"} 1\n');
  });

  it('a task found gone after its room emptied long enough before is counted inputs_gone', async () => {
    const h = harness(config([task('show', 5000)], 8, [{ id: 'host', intervalMs: 5000, labels: {} }]));
    h.answers.set('show', { runningSinceMs: T0 - 10_000 });
    h.part.applyCallback('show', {
      event: 'mix_start',
      seq: 1,
      atMs: T0 - 10_000,
      roomId: 'stage',
      output: { streamId: 'show-out', playUrls: { rtmp: [], hls: [], hdl: [] } },
    });
    // The host published in the task's room, then left at T0 + 1 s.
    h.store.applyCallback('host', { event: 'stream_create', streamId: 'host', streamSeq: 1, createTimeMs: T0 - 20_000, roomId: 'stage' }, T0 - 20_000);
    await h.part.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(h.part.metrics('text')).toContain('zego_mix_task_info{task_id="show",room_id="stage",output_stream_id="show-out"} 1\n');
    h.store.applyCallback(
      'host',
      {
        event: 'stream_close',
        streamId: 'host',
        streamSeq: 2,
        createTimeMs: T0 - 20_000,
        destroyTimeMs: T0 + 1000,
        type: 0,
        reason: 'normal_stop',
        roomId: 'stage',
      },
      T0 + 1000,
    );
    // ZEGO ends the task 90 s after its inputs left.
    await vi.advanceTimersByTimeAsync(90_000);
    h.answers.set('show', 'gone');
    await vi.advanceTimersByTimeAsync(5000 + MIX_STOP_WINDOW_MS);
    const text = h.part.metrics('text');
    expect(text).toContain('zego_mix_task_active{task_id="show"} 0\n');
    expect(text).toContain('zego_mix_task_stops_total{task_id="show",reason="inputs_gone"} 1\n');
    expect(text).toContain('zego_mix_task_stops_total{task_id="show",reason="unannounced"} 0\n');
    await stop(h);
  });

  it('key tasks are polled first when the budget is short; a reload adds and removes tasks', async () => {
    const tasks = [...Array.from({ length: 6 }, (_, i) => task(`t${i}`, 1000)), task('key', 1000, { severity: 'critical' })];
    const h = harness(config(tasks, 2));
    await h.part.start();
    await vi.advanceTimersByTimeAsync(10_000);
    const key = h.calls.filter((c) => c.taskId === 'key').length;
    const other = h.calls.filter((c) => c.taskId === 't0').length;
    // 2 calls/s for 7 tasks wanting 1/s each: the key task keeps (about) its interval, the others share the rest.
    expect(key).toBeGreaterThanOrEqual(7);
    expect(other).toBeLessThanOrEqual(3);
    h.part.applyConfig(config([task('key', 1000, { severity: 'critical' }), task('new', 1000)], 2));
    const before = h.calls.length;
    await vi.advanceTimersByTimeAsync(5000);
    const after = new Set(h.calls.slice(before).map((c) => c.taskId));
    expect([...after].sort()).toEqual(['key', 'new']);
    expect(h.part.metrics('text')).not.toContain('task_id="t0"');
    await stop(h);
  });
});
