import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parseMixCallback } from '../../src/callbacks/parse-mix.js';
import { callbackSignature } from '../../src/callbacks/verify.js';
import { parseMixTaskInfoResponse } from '../../src/zego/mix-response.js';
import { MIX_INPUTS_GONE_END_MS, resolveMixTaskId } from '../../src/zego/mix.js';
import { signature } from '../../src/zego/sign.js';
import type { Envelope } from '../../simulator/api.js';
import { DEMO_MIX_TASK_ID, demoMixRunning, startMixDemoScript } from '../../simulator/mix.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../simulator/server.js';
import { control, FakeClock } from './simulator-helpers.js';

const MAIN = fileURLToPath(new URL('../../dist/simulator/main.js', import.meta.url));
const APP = 424242;
const SECRET = 'mix-server-secret';
const CB_SECRET = 'mix-callback-secret';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

let clock: FakeClock;

async function start(opts: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  clock = new FakeClock();
  const sim = await startSimulator({ apps: [{ appId: APP, secret: SECRET }], clock, ...opts });
  cleanups.push(() => sim.close());
  return sim;
}

/** A receiver on 127.0.0.1 recording the body of every mix event posted to it. */
async function receiver(status = 200): Promise<{ url: string; bodies: string[]; next(): Promise<string> }> {
  const bodies: string[] = [];
  const waiting: ((b: string) => void)[] = [];
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const b = Buffer.concat(parts).toString('utf8');
      // The stream callbacks of the inputs are another test's business.
      if (!/"?event"?[:=]"?mix_/.test(b)) return void res.writeHead(200).end('ok');
      bodies.push(b);
      waiting.shift()?.(b);
      res.writeHead(status).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  let seen = 0;
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/zego/callback`,
    bodies,
    next: () => {
      const i = seen++;
      return bodies[i] !== undefined ? Promise.resolve(bodies[i]) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

interface MixReq {
  taskId?: string | null;
  secret?: string;
  isTest?: string | null;
  timestamp?: number;
  nonce?: string;
}

/** A signed GetMixTaskInfo, built here from src/zego/sign.ts (the exporter's client is not under test). */
async function info(sim: Simulator, r: MixReq = {}): Promise<{ status: number; text: string; body: Envelope }> {
  const nonce = r.nonce ?? '0123456789abcdef';
  const ts = r.timestamp ?? Math.floor(clock.wall / 1000);
  const q = new URLSearchParams({
    Action: 'GetMixTaskInfo',
    AppId: String(APP),
    SignatureNonce: nonce,
    Timestamp: String(ts),
    Signature: signature(APP, nonce, r.secret ?? SECRET, ts),
    SignatureVersion: '2.0',
  });
  if (r.taskId !== null) q.set('TaskId', r.taskId ?? 'show-1');
  if (r.isTest !== null) q.set('IsTest', r.isTest ?? 'false');
  const res = await fetch(`${sim.url}/?${q.toString()}`);
  const text = await res.text();
  return { status: res.status, text, body: JSON.parse(text) as Envelope };
}

/** A received callback: its signature checks with the callback secret, and the exporter's parser reads it. */
function verified(body: string): Record<string, unknown> {
  const f = JSON.parse(body) as Record<string, unknown>;
  expect(f['signature']).toBe(callbackSignature(CB_SECRET, String(f['timestamp']), String(f['nonce'])));
  const parsed = parseMixCallback(body);
  expect(parsed.ok, JSON.stringify(parsed)).toBe(true);
  return f;
}

describe('mix tasks: control API and GetMixTaskInfo', () => {
  it('a started task answers 0 with TaskInfo{TaskId, MixDuration} (its age), read as running by the exporter parser', async () => {
    const sim = await start();
    sim.setStream('host', { state: 'active', createTime: 1 });
    const put = await control(sim.url, 'PUT', '/_sim/mix/show-1', '{"inputs":["host"],"roomId":"room-1","outputs":["show-1-out"]}');
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ id: 'show-1', started: true, state: 'running', mixDuration: 0, roomId: 'room-1', outputs: ['show-1-out'] });
    clock.advance(13_400);
    const r = await info(sim);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ Code: 0, Message: 'success', Data: { TaskInfo: { TaskId: 'show-1', MixDuration: 13 } } });
    expect(parseMixTaskInfoResponse(r.status, r.text, 'show-1', APP).outcome).toEqual({ kind: 'active', mixDurationSec: 13 });
    expect(sim.stats().apis.GetMixTaskInfo).toMatchObject({ arrivals: 1, accepted: 1, throttled: 0 });
    expect(sim.stats().mixTaskCalls).toEqual({ 'show-1': 1 });
  });

  it('stopped, crashed and never-started tasks answer 110209001, read as not found', async () => {
    const sim = await start();
    sim.setStream('host', { state: 'active', createTime: 1 });
    sim.startMix('a', { inputs: ['host'] });
    sim.startMix('b', { inputs: ['host'] });
    expect((await control(sim.url, 'DELETE', '/_sim/mix/a')).json).toMatchObject({ id: 'a', state: 'stopped', endReason: 'stop' });
    expect((await control(sim.url, 'POST', '/_sim/mix/b/crash')).json).toMatchObject({ id: 'b', state: 'stopped', endReason: 'crash' });
    for (const taskId of ['a', 'b', 'never']) {
      const r = await info(sim, { taskId });
      expect(r.body).toMatchObject({ Code: 110209001, Message: 'stream mixing task does not exist', Data: {} });
      expect(parseMixTaskInfoResponse(r.status, r.text, taskId, APP).outcome).toEqual({ kind: 'not_found' });
    }
    // Not running any more: stopping or crashing again is a 404, and changes nothing.
    expect((await control(sim.url, 'DELETE', '/_sim/mix/a')).status).toBe(404);
    expect((await control(sim.url, 'POST', '/_sim/mix/b/crash')).status).toBe(404);
  });

  it('StartMix on a running task updates it in place: same age, no new start', async () => {
    const rx = await receiver();
    const sim = await start({ callbacks: { url: rx.url, secret: CB_SECRET } });
    sim.setStream('host', { state: 'active', createTime: 1 });
    sim.setStream('guest', { state: 'active', createTime: 1 });
    sim.startMix('show-1', { inputs: ['host'] });
    await rx.next();
    clock.advance(5_000);
    const r = await control(sim.url, 'PUT', '/_sim/mix/show-1', '{"inputs":["host","guest"]}');
    expect(r.json).toMatchObject({ started: false, mixDuration: 5, inputs: ['host', 'guest'] });
    // A stopped task started again is a new run: age 0, a new mix_start.
    sim.stopMix('show-1');
    await rx.next();
    expect(sim.startMix('show-1', { inputs: ['host'] })).toMatchObject({ started: true, view: { mixDuration: 0 } });
    expect(JSON.parse(await rx.next())).toMatchObject({ event: 'mix_start' });
    expect(rx.bodies).toHaveLength(3);
  });

  it(`ends a task by itself ${MIX_INPUTS_GONE_END_MS / 1000} s after all its inputs are gone (a returning input restarts the count)`, async () => {
    const rx = await receiver();
    const sim = await start({ callbacks: { url: rx.url, secret: CB_SECRET } });
    sim.publishInRoom('room-1', 'host');
    sim.publishInRoom('room-1', 'guest');
    sim.startMix('show-1', { inputs: ['host', 'guest'], roomId: 'room-1' });
    sim.unpublishFromRoom('room-1', 'host');
    clock.advance(60_000);
    expect(sim.mixTasks()['show-1']).toMatchObject({ state: 'running', inputsGoneSince: null });
    sim.unpublishFromRoom('room-1', 'guest');
    const goneAt = Math.floor(clock.wall / 1000);
    clock.advance(50_000);
    sim.publishInRoom('room-1', 'guest'); // back within 90 s: the count stops
    sim.unpublishFromRoom('room-1', 'guest');
    const goneAgainAt = Math.floor(clock.wall / 1000);
    expect(goneAgainAt).toBeGreaterThan(goneAt);
    clock.advance(MIX_INPUTS_GONE_END_MS - 1);
    expect(sim.mixTasks()['show-1']).toMatchObject({ state: 'running', inputsGoneSince: goneAgainAt });
    expect((await info(sim)).body.Code).toBe(0);
    clock.advance(1);
    expect((await info(sim)).body.Code).toBe(110209001);
    expect(sim.mixTasks()['show-1']).toMatchObject({ state: 'stopped', endReason: 'inputs_gone', endedAt: goneAgainAt + 90 });
    // mix_start, then the mix_stop of ZEGO's own end (inputsGoneCallback defaults to true).
    expect(verified(await rx.next())).toMatchObject({ event: 'mix_start' });
    expect(verified(await rx.next())).toMatchObject({ event: 'mix_stop', task_id: `${APP}:show-1`, channel_id: 'room-1' });
  });

  it('a task set not to announce its own end stops silently when its inputs are gone', async () => {
    const rx = await receiver();
    const sim = await start({ callbacks: { url: rx.url, secret: CB_SECRET } });
    sim.startMix('quiet', { inputs: ['nobody'], inputsGoneCallback: false });
    expect(sim.mixTasks()['quiet']?.inputsGoneSince).toBe(Math.floor(clock.wall / 1000)); // never up: the count runs at once
    clock.advance(MIX_INPUTS_GONE_END_MS);
    expect(sim.mixTasks()['quiet']).toMatchObject({ state: 'stopped', endReason: 'inputs_gone' });
    sim.startMix('marker', { inputs: ['nobody'] });
    // Sent in order: had the quiet end been announced, it would come before the marker's start.
    expect(JSON.parse(await rx.next())).toMatchObject({ event: 'mix_start', task_id: `${APP}:quiet` });
    expect(JSON.parse(await rx.next())).toMatchObject({ event: 'mix_start', task_id: `${APP}:marker` });
    expect(rx.bodies).toHaveLength(2);
  });

  it.each([
    ['PUT', '/_sim/mix/t', '{}', 400, /inputs must list 1 to 9/],
    ['PUT', '/_sim/mix/t', '{"inputs":[]}', 400, /inputs must list/],
    ['PUT', '/_sim/mix/t', '{"inputs":["a","b","c","d","e","f","g","h","i","j"]}', 400, /inputs must list 1 to 9/],
    ['PUT', '/_sim/mix/t', '{"inputs":["bad id"]}', 400, /inputs must be stream ids/],
    ['PUT', '/_sim/mix/t', '{"inputs":["a","a"]}', 400, /must not repeat/],
    ['PUT', '/_sim/mix/t', '{"inputs":["a"],"outputs":["o1","o2","o3","o4","o5"]}', 400, /outputs must list 1 to 4/],
    ['PUT', '/_sim/mix/t', '{"inputs":["a"],"roomId":"no/slash"}', 400, /roomId/],
    ['PUT', '/_sim/mix/t', '{"inputs":["a"],"inputsGoneCallback":"yes"}', 400, /inputsGoneCallback/],
    ['PUT', '/_sim/mix/t', '{"inputs":["a"],"layout":1}', 400, /unknown field: layout/],
    ['PUT', '/_sim/mix/t', 'not json', 400, /body must be/],
    ['PUT', `/_sim/mix/${encodeURIComponent('has space')}`, '{"inputs":["a"]}', 400, /task id/],
    ['PUT', `/_sim/mix/${'x'.repeat(257)}`, '{"inputs":["a"]}', 400, /task id/],
    ['PUT', '/_sim/mix/%E0%A4%A', '{"inputs":["a"]}', 400, /task id/],
    ['DELETE', '/_sim/mix/none', '', 404, /no such running task/],
    ['POST', '/_sim/mix/none/crash', '', 404, /no such running task/],
    ['GET', '/_sim/mix/t/crash', '', 405, /method not allowed/],
    ['POST', '/_sim/mix/t', '{}', 405, /method not allowed/],
    ['PUT', '/_sim/mix/t/other', '{}', 404, /not found/],
    ['POST', '/_sim/mix', '{}', 405, /method not allowed/],
  ])('%s %s %s → %i, nothing changed', async (method, path, body, status, message) => {
    const sim = await start();
    const r = await control(sim.url, method, path, method === 'GET' ? undefined : body);
    expect(r.status).toBe(status);
    expect((r.json as { error: string }).error).toMatch(message);
    expect(sim.mixTasks()).toEqual({});
  });
});

describe('GetMixTaskInfo: limits and codes', () => {
  it('answers 110200194 (overload) over its own AppID limit, which no other Action shares', async () => {
    const sim = await start({ apps: [{ appId: APP, secret: SECRET, mixRateLimit: 3 }] });
    sim.startMix('show-1', { inputs: ['host'] });
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push((await info(sim)).body.Code);
    expect(codes).toEqual([0, 0, 0, 110200194]);
    const r = await info(sim);
    expect(parseMixTaskInfoResponse(r.status, r.text, 'show-1', APP).outcome).toMatchObject({ kind: 'failed', reason: 'throttled' });
    clock.advance(1000);
    expect((await info(sim)).body.Code).toBe(0);
    expect(sim.stats().apis.GetMixTaskInfo).toMatchObject({ throttled: 2 });
    expect(sim.stats().apis.DescribeRTCStreamState.arrivals).toBe(0);
  });

  it('defaults to the documented 100/s in production and 10/s in the test environment', async () => {
    const sim = await start();
    sim.startMix('show-1', { inputs: ['host'] });
    const prod = await Promise.all(Array.from({ length: 101 }, () => info(sim)));
    expect(prod.filter((r) => r.body.Code === 110200194)).toHaveLength(1);
    const test = await Promise.all(Array.from({ length: 11 }, () => info(sim, { isTest: 'true' })));
    expect(test.filter((r) => r.body.Code === 110200194)).toHaveLength(1);
  });

  it.each<[string, MixReq, number]>([
    ['no TaskId', { taskId: null }, 110200004],
    ['an empty TaskId', { taskId: '' }, 110200004],
    ['a TaskId with a space', { taskId: 'a b' }, 110200004],
    ['a wrong signature', { secret: 'not-the-secret' }, 100000005],
    ['a nonce that is not 16 hex', { nonce: 'xyz' }, 100000005],
    ['a Timestamp 11 minutes off', { timestamp: 1_700_000_000 - 660 }, 100000004],
    ['no IsTest (a project that requires it)', { isTest: null }, 100000016],
    ['IsTest=maybe', { isTest: 'maybe' }, 100000016],
  ])('%s: %j → %i', async (_name, req, code) => {
    const sim = await start();
    sim.startMix('show-1', { inputs: ['host'] });
    expect((await info(sim, req)).body.Code).toBe(code);
  });

  it('answers 100000017 when the service is not enabled, and 110200001 as an injected transient failure', async () => {
    const sim = await start({ random: () => 0 });
    sim.startMix('show-1', { inputs: ['host'] });
    expect((await control(sim.url, 'PUT', '/_sim/services', '{"GetMixTaskInfo":false}')).json).toMatchObject({ GetMixTaskInfo: false });
    expect((await info(sim)).body.Code).toBe(100000017);
    sim.setDisabledActions([]);
    expect((await control(sim.url, 'PUT', '/_sim/faults', '{"mixFailure":1}')).status).toBe(200);
    const r = await info(sim);
    expect(r.body).toMatchObject({ Code: 110200001, Message: 'failed' });
    expect(parseMixTaskInfoResponse(r.status, r.text, 'show-1', APP).outcome).toMatchObject({ kind: 'failed', reason: 'transient' });
    expect(sim.stats().faults.mixFailure).toBe(1);
  });
});

describe('mix callbacks', () => {
  it('sends a signed mix_start with the documented fields, the AppID prefix on task_id, and a mix_stop on StopMix; none on a crash', async () => {
    const rx = await receiver();
    const sim = await start({ callbacks: { url: rx.url, secret: CB_SECRET } });
    sim.publishInRoom('room-1', 'host');
    sim.startMix('show-1', { inputs: ['host'], roomId: 'room-1', outputs: ['show-1-out', 'show-1-low'], userId: 'backend' });
    const startBody = verified(await rx.next());
    expect(Object.keys(startBody)).toEqual([
      'appid',
      'event',
      'seq',
      'task_id',
      'channel_id',
      'publish_id',
      'mix_url',
      'mix_stream_alias',
      'rtmp_url',
      'rtmp_urls',
      'hls_url',
      'hls_urls',
      'hdl_url',
      'hdl_urls',
      'stream_alias',
      'timestamp',
      'nonce',
      'signature',
    ]);
    expect(startBody).toMatchObject({
      appid: String(APP),
      event: 'mix_start',
      task_id: `${APP}:show-1`,
      channel_id: 'room-1',
      publish_id: 'backend',
      mix_stream_alias: 'show-1-out',
      stream_alias: 'show-1-out',
      rtmp_urls: ['rtmp://play.simulator.invalid/mix/show-1-out', 'rtmp://play.simulator.invalid/mix/show-1-low'],
      timestamp: String(Math.floor(clock.wall / 1000)),
    });
    const parsed = parseMixCallback(JSON.stringify(startBody));
    expect(parsed.ok && resolveMixTaskId(parsed.value.rawTaskId, APP, (id) => id === 'show-1')).toBe('show-1');

    sim.crashMix('show-1');
    sim.startMix('show-2', { inputs: ['host'] });
    expect(verified(await rx.next())).toMatchObject({ event: 'mix_start', task_id: `${APP}:show-2` });
    clock.advance(3000);
    expect(sim.stopMix('show-2')).toMatchObject({ state: 'stopped', endReason: 'stop' });
    const stop = verified(await rx.next());
    expect(Object.keys(stop)).toEqual([
      'appid',
      'event',
      'seq',
      'task_id',
      'channel_id',
      'publish_id',
      'mix_url',
      'mix_stream_alias',
      'timestamp',
      'nonce',
      'signature',
    ]);
    expect(Number(stop['seq'])).toBeGreaterThan(Number(startBody['seq']));
    expect(rx.bodies).toHaveLength(3); // the crash sent nothing
  });

  it('the task_id separator is configurable, none included', async () => {
    const rx = await receiver();
    const sim = await start({ callbacks: { url: rx.url, secret: CB_SECRET, mixTaskIdSeparator: '' } });
    sim.startMix('7', { inputs: ['host'] });
    expect(JSON.parse(await rx.next())).toMatchObject({ task_id: `${APP}7` });
  });

  it('POST /_sim/callbacks sends one mix event on demand, following the running task, and changes no task', async () => {
    const rx = await receiver(503);
    const sim = await start();
    sim.startMix('show-1', { inputs: ['host'], roomId: 'room-1' });
    const r = await control(
      sim.url,
      'POST',
      '/_sim/callbacks',
      JSON.stringify({ event: 'mix_stop', taskId: 'show-1', url: rx.url, secret: CB_SECRET, encoding: 'form' }),
    );
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      status: 503,
      contentType: 'application/x-www-form-urlencoded',
      body: { event: 'mix_stop', task_id: `${APP}:show-1`, channel_id: 'room-1' },
    });
    expect(JSON.stringify(r.json)).not.toContain(CB_SECRET);
    const sent = parseMixCallback(rx.bodies[0]!);
    expect(sent.ok && sent.value).toMatchObject({ event: 'mix_stop', rawTaskId: `${APP}:show-1`, roomId: 'room-1' });
    expect(sim.mixTasks()['show-1']?.state).toBe('running');
    expect(rx.bodies).toHaveLength(1); // one attempt, no retries
  });

  it.each([
    [{ event: 'mix_start' }, /taskId/],
    [{ event: 'mix_start', taskId: 'a b' }, /taskId/],
    [{ event: 'mix_start', taskId: 't', streamId: 'x' }, /unknown field: streamId/],
    [{ event: 'mix_start', taskId: 't', outputs: [] }, /outputs must list 1 to 4/],
    [{ event: 'mix_start', taskId: 't', seq: -1 }, /seq/],
    [{ event: 'mix_start', taskId: 't', separator: '::' }, /separator/],
    [{ event: 'mix_start', taskId: 't', url: 'ftp://x' }, /url/],
    [{ event: 'mix_start', taskId: 't' }, /no callback url or secret/],
    [{ event: 'mix_begin', streamId: 't' }, /mix_start/],
  ])('POST /_sim/callbacks %j → 400', async (body, message) => {
    const sim = await start();
    const r = await control(sim.url, 'POST', '/_sim/callbacks', JSON.stringify(body));
    expect(r.status).toBe(400);
    expect((r.json as { error: string }).error).toMatch(message);
  });
});

describe('the demo mix task', () => {
  it('runs 4 minutes of every 5: a pure function of time', () => {
    expect([0, 239, 240, 299, 300, 539, 540].map(demoMixRunning)).toEqual([true, true, false, false, true, true, false]);
  });

  it('crashes without a mix_stop and is started again with a mix_start', async () => {
    const rx = await receiver();
    const sim = await start({ callbacks: { url: rx.url, secret: CB_SECRET } });
    sim.publishInRoom('demo-room', 'room-host');
    let tick: (() => void) | null = null;
    const script = startMixDemoScript(
      sim,
      { inputs: ['room-host'], roomId: 'demo-room' },
      { timers: { setInterval: (fn) => (tick = fn), clearInterval: () => undefined } },
    );
    cleanups.push(() => script.stop());
    expect(JSON.parse(await rx.next())).toMatchObject({ event: 'mix_start', task_id: `${APP}:${DEMO_MIX_TASK_ID}` });
    for (let i = 0; i < 240; i++) tick!();
    expect(sim.mixTasks()[DEMO_MIX_TASK_ID]).toMatchObject({ state: 'stopped', endReason: 'crash' });
    expect((await info(sim, { taskId: DEMO_MIX_TASK_ID })).body.Code).toBe(110209001);
    for (let i = 0; i < 60; i++) tick!();
    expect(JSON.parse(await rx.next())).toMatchObject({ event: 'mix_start' });
    expect(rx.bodies).toHaveLength(2); // the crash sent nothing in between
    expect((await info(sim, { taskId: DEMO_MIX_TASK_ID })).body.Code).toBe(0);
  });
});

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('zego-simulator send-callback with a mix event', () => {
  it('posts one signed mix_start the exporter parser reads, and exits 0 on 2xx', async () => {
    const rx = await receiver();
    const r = await run(
      ['send-callback', '--url', rx.url, '--app-id', String(APP), '--event', 'mix_start', '--task-id', 'show-1', '--room-id', 'room-1', '--seq', '7'],
      { SIM_CALLBACK_SECRET: CB_SECRET },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 200, body: { event: 'mix_start', task_id: `${APP}:show-1`, seq: '7' } });
    const f = verified(rx.bodies[0]!);
    expect(f).toMatchObject({ channel_id: 'room-1', mix_stream_alias: 'show-1-mix' });
  });

  it.each([
    [['--event', 'mix_stop'], /--task-id/],
    [['--event', 'mix_stop', '--task-id', 't', '--task-id-separator', '::'], /--task-id-separator/],
    [['--event', 'mix_stop', '--task-id', 't', '--output-stream-id', 'bad id'], /--output-stream-id/],
    [['--event', 'mix_go', '--task-id', 't'], /mix_start or mix_stop/],
  ])('exits 2 with its usage on bad flags %#', async (args, message) => {
    const r = await run(['send-callback', '--url', 'http://127.0.0.1:9/x', '--app-id', '1', ...args], { SIM_CALLBACK_SECRET: CB_SECRET });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

describe('zego-simulator process: the mix flags', () => {
  it('--mix-rate-limit bounds GetMixTaskInfo, --mix-task-id-separator shapes task_id, --disable-action takes GetMixTaskInfo', async () => {
    const rx = await receiver();
    const child: ChildProcess = spawn(
      process.execPath,
      [MAIN, '--listen', '127.0.0.1:0', '--app-id', String(APP), '--mix-rate-limit', '2', '--callback-url', rx.url, '--mix-task-id-separator', ''],
      { env: { PATH: process.env['PATH'] ?? '', SIM_SECRET: SECRET, SIM_CALLBACK_SECRET: CB_SECRET }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((resolve) => child.on('exit', resolve));
    cleanups.push(async () => {
      child.kill('SIGTERM');
      await exited;
    });
    const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
    const { url } = JSON.parse(line) as { url: string };
    expect((await fetch(`${url}/_sim/mix/show-1`, { method: 'PUT', body: '{"inputs":["host"]}' })).status).toBe(200);
    expect(JSON.parse(await rx.next())).toMatchObject({ event: 'mix_start', task_id: `${APP}show-1` });
    clock = new FakeClock();
    clock.wall = Date.now();
    const proc = { url } as Simulator;
    const codes = await Promise.all(Array.from({ length: 3 }, () => info(proc)));
    expect(codes.map((r) => r.body.Code).sort()).toEqual([0, 0, 110200194]);
  });

  it.each([
    [['--mix-task-id-separator', '::', '--callback-url', 'http://127.0.0.1:9/x'], /--mix-task-id-separator must be one printable character/],
    [['--mix-task-id-separator', ':'], /--mix-task-id-separator needs --callback-url/],
    [['--mix-rate-limit', '1.5'], /--mix-rate-limit must be a non-negative integer/],
  ])('exits 2 with usage on bad mix flags %#', async (args, message) => {
    const r = await run(['--app-id', '1', ...args], { SIM_SECRET: 's', SIM_CALLBACK_SECRET: 'c' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
