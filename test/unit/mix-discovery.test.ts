import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ActionRow, CallResult, MixTaskResult } from '../../src/api/actions.js';
import { ApiService } from '../../src/api/service.js';
import { CallbacksPart } from '../../src/callbacks/part.js';
import { callbackSignature } from '../../src/callbacks/verify.js';
import { parseConfig } from '../../src/config/load.js';
import { Secret } from '../../src/config/secret.js';
import type { CallbacksConfig, Config, MixTaskConfig } from '../../src/config/types.js';
import { MixPart } from '../../src/mix/part.js';
import { MixEvents } from '../../src/state/mix-events.js';
import { MIX_STOP_WINDOW_MS } from '../../src/state/mix-tasks.js';
import { discovering, type Discovering } from '../helpers/discovery.js';
import { fakePartContext } from '../helpers/part-context.js';

const APP = 1234;
const T0 = 1_700_000_000_000;
const MIN = 60_000;
const CB_SECRET = 'cb-secret-value';

function config(mixTasks: MixTaskConfig[], discover: Partial<NonNullable<CallbacksConfig['discover']>> | null): Config {
  return {
    zego: {
      appId: APP,
      serverSecret: new Secret('0123456789abcdef0123456789abcdef'),
      endpoint: 'http://127.0.0.1:9',
      isTest: false,
      rateLimit: 10,
      streamListRateLimit: 40,
      userNumRateLimit: 8,
      mixTaskInfoRateLimit: 8,
      timeoutMs: 2000,
    },
    probe: { intervalMs: 15_000, maxRoomStreams: 1000, roomStreamsForgetAfterMs: 3_600_000 },
    streams: [],
    mixTasks,
    callbacks: {
      secret: new Secret(CB_SECRET),
      path: '/zego/callback',
      listenAddress: '127.0.0.1:0',
      listenAddressDefault: false,
      tls: 'off',
      fanoutAcceptUnsigned: false,
      ...(discover
        ? {
            discover: {
              patterns: [],
              maxStreams: 100,
              forgetAfterMs: 10 * MIN,
              streamsSeverity: 'none',
              mixTaskPatterns: ['show-*'],
              maxMixTasks: 2,
              ...discover,
            },
          }
        : {}),
    },
  };
}

type Answer = 'running' | 'gone';

interface Harness {
  mix: MixEvents;
  part: MixPart;
  callbacks: CallbacksPart;
  api: ApiService;
  d: Discovering;
  /** What the fake GetMixTaskInfo answers, by the TaskId it is asked about. */
  answers: Map<string, Answer>;
  asked: string[];
  logs: { msg: string; [k: string]: unknown }[];
}

/** The mix part, the callbacks part and the real discovery service and API service, wired as the Exporter wires them. */
function harness(cfg: Config): Harness {
  const logs: Harness['logs'] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Harness['logs'][number]) });
  const answers = new Map<string, Answer>();
  const asked: string[] = [];
  const api = new ApiService({
    zego: cfg.zego,
    now: Date.now,
    transport: {
      call: async <I, R extends CallResult>(_row: ActionRow<I, R>, input: I): Promise<R> => {
        const taskId = input as string;
        asked.push(taskId);
        const sentAtMs = Date.now();
        const r: MixTaskResult =
          answers.get(taskId) === 'running'
            ? { taskId, sentAtMs, durationMs: 1, code: '0', outcome: { kind: 'active', mixDurationSec: 5 } }
            : { taskId, sentAtMs, durationMs: 1, code: '110209001', outcome: { kind: 'not_found' } };
        return r as unknown as R;
      },
    },
  });
  // eslint-disable-next-line prefer-const -- read by the closure before it is set
  let d: Discovering | undefined;
  const mix = new MixEvents({ changed: (id) => d?.discovery.observe('mix_task', id) });
  d = discovering(cfg, logger, Date.now, mix);
  const ctx = fakePartContext({ logger, ...d.ctx, api: api.api.bind(api), mix });
  return { mix, part: new MixPart(cfg, ctx), callbacks: new CallbacksPart(cfg, ctx), api, d, answers, asked, logs };
}

async function stop(h: Harness): Promise<void> {
  let done = false;
  const p = Promise.all([h.api.stop(0), h.part.stop(), h.callbacks.stop(0)]).then(() => (done = true));
  for (let i = 0; i < 50 && !done; i++) await vi.advanceTimersByTimeAsync(100);
  await p;
}

const start = (seq: number, atMs: number) => ({ event: 'mix_start' as const, seq, atMs });

describe('mix task discovery (the discovery service, mix_task kind)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a discovered task is watched by its task_id as ZEGO sent it and polled without the AppID prefix', async () => {
    const h = harness(config([], {}));
    h.answers.set('show-1', 'running');
    expect(h.d.ctx.discover(`${APP}:show-1`, {}, 'mix_callback')).toBe('added');
    expect(h.mix.apply({ rawTaskId: `${APP}:show-1`, callback: start(1, T0) }, T0)).toBe('accepted');
    await h.part.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(h.asked).toEqual(['show-1']);
    const text = h.part.metrics('text');
    expect(text).toContain(`zego_mix_task_active{task_id="${APP}:show-1"} 1\n`);
    expect(text).toContain(`zego_mix_task_interval_seconds{task_id="${APP}:show-1"} 15\n`);
    expect(h.part.gauges[0]!.read()).toBe(1);
    await stop(h);
  });

  it('a mix_stop ends a discovered task: it is forgotten once ended for forget_after, and no earlier', async () => {
    const h = harness(config([], {}));
    h.d.ctx.discover(`${APP}:show-1`, {}, 'mix_callback');
    h.mix.apply({ rawTaskId: `${APP}:show-1`, callback: start(1, T0) }, T0);
    vi.advanceTimersByTime(5000);
    h.mix.apply({ rawTaskId: `${APP}:show-1`, callback: { event: 'mix_stop', seq: 2, atMs: T0 + 5000 } }, T0 + 5000);
    vi.setSystemTime(T0 + 5000 + 10 * MIN - 1);
    h.d.discovery.sweep();
    expect(h.part.metrics('text')).toContain(`zego_mix_task_stops_total{task_id="${APP}:show-1",reason="callback"} 1\n`);
    vi.setSystemTime(T0 + 5000 + 10 * MIN);
    h.d.discovery.sweep();
    expect(h.part.metrics('text')).not.toContain('zego_mix_task_active{');
    expect(h.d.ctx.discovered('mix_callback').size).toBe(0);
    // A new mix_start for it watches it again.
    expect(h.d.ctx.discover(`${APP}:show-1`, {}, 'mix_callback')).toBe('added');
    await stop(h);
  });

  it('"task does not exist" ends a discovered task once its stop is decided (unannounced counted first), then forget_after runs', async () => {
    const h = harness(config([], { forgetAfterMs: 1000 }));
    h.answers.set('show-1', 'running');
    h.d.ctx.discover(`${APP}:show-1`, {}, 'mix_callback');
    h.mix.apply({ rawTaskId: `${APP}:show-1`, callback: start(1, T0) }, T0);
    await h.part.start();
    await vi.advanceTimersByTimeAsync(100);
    h.answers.set('show-1', 'gone');
    await vi.advanceTimersByTimeAsync(15_000);
    expect(h.part.metrics('text')).toContain(`zego_mix_task_active{task_id="${APP}:show-1"} 0\n`);
    // Its mix_stop may still come: the task stays while its stop is undecided, whatever forget_after.
    h.d.discovery.sweep();
    expect(h.d.ctx.discovered('mix_callback').size).toBe(1);
    await vi.advanceTimersByTimeAsync(MIX_STOP_WINDOW_MS + 1000);
    h.d.discovery.sweep();
    expect(h.d.ctx.discovered('mix_callback').size).toBe(0);
    expect(h.logs.some((l) => l['task_id'] === `${APP}:show-1` && l['reason'] === 'unannounced')).toBe(true);
    expect(h.part.metrics('text')).not.toContain('zego_mix_task_active{');
    // Forgotten: no more polls of it.
    const asked = h.asked.length;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.asked.length).toBe(asked);
    await stop(h);
  });

  it('the cap holds: at a full cap of running tasks a new one is refused and counted; an ended one makes room', async () => {
    const h = harness(config([], { maxMixTasks: 2 }));
    for (const id of ['show-1', 'show-2']) {
      expect(h.d.ctx.discover(id, {}, 'mix_callback')).toBe('added');
      h.mix.apply({ rawTaskId: id, callback: start(1, T0) }, T0);
    }
    expect(h.d.ctx.discover('show-3', {}, 'mix_callback')).toBe('full');
    expect(h.d.discovery.metrics('text')).toContain('zego_exporter_discovery_refused_total{source="mix_callback"} 1\n');
    expect(h.d.discovery.metrics('text')).toContain('zego_exporter_discovered{source="mix_callback"} 2\n');
    h.mix.apply({ rawTaskId: 'show-1', callback: { event: 'mix_stop', seq: 2, atMs: T0 + 1000 } }, T0 + 1000);
    expect(h.d.ctx.discover('show-3', {}, 'mix_callback')).toBe('added');
    expect(h.part.metrics('text')).not.toContain('task_id="show-1"');
    expect(h.part.metrics('text')).toContain('zego_mix_task_active{task_id="show-2"} 1\n');
    await stop(h);
  });

  it("listed tasks are never discovered nor forgotten; a reload that lists a discovered task makes it the config's", async () => {
    const listed = { id: 'show-listed', intervalMs: 5000, labels: { severity: 'critical' } };
    const h = harness(config([listed], { forgetAfterMs: 1000 }));
    expect(h.d.ctx.discover('show-listed', {}, 'mix_callback')).toBe('listed');
    h.mix.apply({ rawTaskId: `${APP}:show-listed`, callback: { event: 'mix_stop', seq: 2, atMs: T0 } }, T0);
    vi.setSystemTime(T0 + 10 * MIN);
    h.d.discovery.sweep();
    expect(h.part.metrics('text')).toContain('zego_mix_task_active{task_id="show-listed",severity="critical"} 0\n');
    // Discovered, then listed by a reload.
    h.d.ctx.discover('show-2', {}, 'mix_callback');
    const next = config([listed, { id: 'show-2', intervalMs: 5000, labels: { show: 'b' } }], { forgetAfterMs: 1000 });
    h.d.reload(next, () => h.part.applyConfig(next));
    expect(h.d.ctx.discovered('mix_callback').size).toBe(0);
    h.mix.apply({ rawTaskId: 'show-2', callback: { event: 'mix_stop', seq: 2, atMs: Date.now() } }, Date.now());
    vi.setSystemTime(Date.now() + 10 * MIN);
    h.d.discovery.sweep();
    expect(h.part.metrics('text')).toContain('zego_mix_task_active{task_id="show-2",show="b"} 0\n');
    await stop(h);
  });
});

describe('mix_start discovery through the callbacks part', () => {
  it('matches callbacks.discover.mix_task_patterns against task_id as sent or without the AppID prefix; others and mix_stop discover nothing', async () => {
    const h = harness(config([], { maxMixTasks: 10 }));
    await h.callbacks.start();
    const url = `${h.logs.find((l) => l.msg === 'callbacks listening')?.['address'] as string}/zego/callback`;
    let n = 0;
    const post = (event: string, taskId: string): Promise<Response> => {
      const timestamp = String(Math.floor(Date.now() / 1000));
      const nonce = `n${n++}`;
      const body = { appid: APP, event, task_id: taskId, seq: n, timestamp, nonce, signature: callbackSignature(CB_SECRET, timestamp, nonce) };
      return fetch(url, { method: 'POST', body: JSON.stringify(body) });
    };
    for (const [event, id] of [
      ['mix_start', `${APP}:show-1`],
      ['mix_start', `${APP}show-2`],
      ['mix_start', 'show-3'],
      ['mix_start', `${APP}:other`],
      ['mix_stop', `${APP}:show-4`],
    ])
      expect((await post(event!, id!)).status).toBe(200);
    expect([...h.d.ctx.discovered('mix_callback').ids()]).toEqual([`${APP}:show-1`, `${APP}show-2`, 'show-3']);
    const text = h.part.metrics('text');
    expect(text).toContain(`zego_mix_task_active{task_id="${APP}:show-1"} 1\n`);
    const counts = h.callbacks.metrics('text');
    expect(counts).toContain('zego_exporter_callbacks_total{event="mix_start",result="accepted"} 3');
    expect(counts).toContain('zego_exporter_callbacks_total{event="mix_start",result="unwatched"} 1');
    expect(counts).toContain('zego_exporter_callbacks_total{event="mix_stop",result="unwatched"} 1');
    // A reload whose patterns no longer match lets them go; one that removes them forgets all.
    const narrower = config([], { maxMixTasks: 10, mixTaskPatterns: ['show-3'] });
    h.d.reload(narrower, () => (h.part.applyConfig(narrower), h.callbacks.applyConfig(narrower)));
    expect([...h.d.ctx.discovered('mix_callback').ids()]).toEqual(['show-3']);
    const off = config([], null);
    h.d.reload(off, () => (h.part.applyConfig(off), h.callbacks.applyConfig(off)));
    expect(h.d.ctx.discovered('mix_callback').size).toBe(0);
    expect(h.part.gauges[0]!.read()).toBe(0);
    await Promise.all([h.api.stop(0), h.part.stop(), h.callbacks.stop(0)]);
  });

  it('reads callbacks.discover.mix_task_patterns and max_mix_tasks (patterns alone may be left out)', () => {
    const parse = (discover: string) =>
      parseConfig(`zego:\n  app_id: 1\n  server_secret: x\nstreams: [a]\ncallbacks:\n  secret: s\n  discover:\n${discover}`, { env: {}, baseDir: '/cfg' });
    const ok = parse('    mix_task_patterns: ["show-*", "1:gala"]\n    max_mix_tasks: 7\n');
    expect(ok.ok && ok.config.callbacks?.discover).toMatchObject({ patterns: [], mixTaskPatterns: ['show-*', '1:gala'], maxMixTasks: 7 });
    const dflt = parse('    patterns: ["cam-*"]\n');
    expect(dflt.ok && dflt.config.callbacks?.discover).toEqual({ patterns: ['cam-*'], maxStreams: 100, forgetAfterMs: 3_600_000, streamsSeverity: 'none' });
    const cap = parse('    mix_task_patterns: ["show-*"]\n');
    expect(cap.ok && cap.config.callbacks?.discover?.maxMixTasks).toBe(100);
    const bad = parse('    mix_task_patterns: ["a b"]\n    max_mix_tasks: 0\n');
    expect(bad.ok).toBe(false);
    const msg = bad.ok ? '' : bad.errors.map((e) => `${e.path}: ${e.message}`).join('\n');
    expect(msg).toContain('callbacks.discover.mix_task_patterns[0]');
    expect(msg).toContain('callbacks.discover.max_mix_tasks');
  });
});
