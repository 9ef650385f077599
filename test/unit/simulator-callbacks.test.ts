import { spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { callbackSignature } from '../../src/callbacks/verify.js';
import { isValidRoomId } from '../../src/zego/protocol.js';
import { encodeCallback, signCallback, streamCallbackFields, type CallbackFields } from '../../simulator/callback-body.js';
import { CallbackSender } from '../../simulator/callbacks.js';
import { startSimulator } from '../../simulator/server.js';
import { defaultRoomId, RoomSessions } from '../../simulator/sessions.js';
import { control, FakeClock } from './simulator-helpers.js';

const MAIN = fileURLToPath(new URL('../../dist/simulator/main.js', import.meta.url));
const APP = 5150;
const CB_SECRET = 'callback-secret-not-the-server-secret';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A receiver on 127.0.0.1 that records every POST and answers `status`. */
async function receiver(status = 200): Promise<{ url: string; got: Received[]; next(): Promise<Received> }> {
  const got: Received[] = [];
  const waiting: ((r: Received) => void)[] = [];
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const r = { headers: req.headers, body: Buffer.concat(parts).toString('utf8') };
      got.push(r);
      waiting.shift()?.(r);
      res.writeHead(status).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  let seen = 0;
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/zego/callback`,
    got,
    next: () => {
      const i = seen++;
      return got[i] !== undefined ? Promise.resolve(got[i]) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

/** The fields of a received body, read the way its encoding says (JSON bodies whatever the header). */
function fieldsOf(r: Received): Record<string, unknown> {
  if (r.body.startsWith('{')) return JSON.parse(r.body) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(r.body)) out[k] = k in out ? [...[out[k]].flat(), v] : v;
  return out;
}

function expectSigned(f: Record<string, unknown>, secret = CB_SECRET): void {
  expect(typeof f['timestamp']).toBe('string');
  expect(typeof f['nonce']).toBe('string');
  expect(f['signature']).toBe(callbackSignature(secret, f['timestamp'] as string, f['nonce'] as string));
}

describe('callback bodies', () => {
  it('stream_create carries every documented field, as strings, with the URL lists as arrays', () => {
    const f = streamCallbackFields({
      event: 'stream_create',
      appId: APP,
      roomId: 'r1',
      roomSessionId: '77',
      streamId: 'cam',
      streamSeq: 3,
      createTimeMs: 1_700_000_000_123,
    });
    expect(Object.keys(f).sort()).toEqual(
      [
        'event',
        'appid',
        'room_id',
        'room_session_id',
        'user_id',
        'user_name',
        'channel_id',
        'stream_id',
        'stream_sid',
        'stream_alias',
        'stream_seq',
        'create_time',
        'create_time_ms',
        'recreate',
        'extra_info',
        'title',
        'publish_id',
        'publish_name',
        'rtmp_url',
        'hls_url',
        'hdl_url',
        'pic_url',
      ].sort(),
    );
    expect(f).toMatchObject({
      event: 'stream_create',
      appid: String(APP),
      room_id: 'r1',
      channel_id: 'r1',
      room_session_id: '77',
      stream_id: 'cam',
      stream_alias: 'cam',
      stream_seq: '3',
      create_time: '1700000000',
      create_time_ms: '1700000000123',
      recreate: '0',
    });
    for (const k of ['rtmp_url', 'hls_url', 'hdl_url', 'pic_url']) expect(Array.isArray(f[k]), k).toBe(true);
    for (const [k, v] of Object.entries(f)) if (!Array.isArray(v)) expect(typeof v, k).toBe('string');
  });

  it('stream_close carries type, create_time_ms and destroy_timemillis (ms) and the room fields', () => {
    const f = streamCallbackFields({
      event: 'stream_close',
      appId: APP,
      roomId: 'r1',
      roomSessionId: '77',
      streamId: 'cam',
      streamSeq: 4,
      createTimeMs: 1000,
      destroyTimeMs: 5000,
      type: 1,
    });
    expect(Object.keys(f).sort()).toEqual(
      [
        'event',
        'appid',
        'room_id',
        'room_session_id',
        'user_id',
        'user_name',
        'channel_id',
        'type',
        'stream_alias',
        'stream_id',
        'stream_sid',
        'stream_seq',
        'third_define_data',
        'create_time_ms',
        'destroy_timemillis',
      ].sort(),
    );
    expect(f).toMatchObject({ type: '1', stream_seq: '4', create_time_ms: '1000', destroy_timemillis: '5000', room_session_id: '77' });
  });

  it("signs with ZEGO's official vector", () => {
    expect(signCallback({ event: 'stream_create' }, 'secret', 1470820198, '123412')).toMatchObject({ signature: '5bd59fd62953a8059fb7eaba95720f66d19e4517' });
  });

  it('encodes JSON as application/json, a form with one field per array item, and JSON under a form Content-Type', () => {
    const f: CallbackFields = { event: 'stream_create', rtmp_url: ['a', 'b'] };
    expect(encodeCallback(f, 'json')).toEqual({ contentType: 'application/json', body: '{"event":"stream_create","rtmp_url":["a","b"]}' });
    expect(encodeCallback(f, 'form')).toEqual({ contentType: 'application/x-www-form-urlencoded', body: 'event=stream_create&rtmp_url=a&rtmp_url=b' });
    expect(encodeCallback(f, 'json-as-form')).toEqual({
      contentType: 'application/x-www-form-urlencoded',
      body: '{"event":"stream_create","rtmp_url":["a","b"]}',
    });
  });
});

describe('room sessions', () => {
  it("numbers a room's stream-list changes within one session; a destroyed room comes back with a new session and seq 1", () => {
    let n = 0;
    const s = new RoomSessions({ newId: () => `S${++n}` });
    expect(s.streamAdded('r', 'a')).toEqual({ roomSessionId: 'S1', streamSeq: 1 });
    expect(s.streamAdded('r', 'b')).toEqual({ roomSessionId: 'S1', streamSeq: 2 });
    expect(s.streamRemoved('r', 'a')).toEqual({ roomSessionId: 'S1', streamSeq: 3 });
    expect(s.streamRemoved('r', 'b')).toEqual({ roomSessionId: 'S1', streamSeq: 4 });
    expect(s.session('r')).toBeUndefined();
    expect(s.streamAdded('r', 'a')).toEqual({ roomSessionId: 'S2', streamSeq: 1 });
    expect(s.streamAdded('other', 'c')).toEqual({ roomSessionId: 'S3', streamSeq: 1 });
  });

  it('users keep a room alive after its last stream; it is destroyed when they leave too', () => {
    let users = 2;
    let n = 0;
    const s = new RoomSessions({ newId: () => `S${++n}`, hasUsers: () => users > 0 });
    s.streamAdded('r', 'a');
    expect(s.streamRemoved('r', 'a')).toEqual({ roomSessionId: 'S1', streamSeq: 2 });
    expect(s.streamAdded('r', 'a')).toEqual({ roomSessionId: 'S1', streamSeq: 3 });
    s.streamRemoved('r', 'a');
    users = 0;
    s.usersChanged('r');
    expect(s.streamAdded('r', 'a')).toEqual({ roomSessionId: 'S2', streamSeq: 1 });
  });

  it('a stream with no room has a room of its own, within the room id rule', () => {
    expect(defaultRoomId('cam')).toBe('room-cam');
    expect(isValidRoomId(defaultRoomId('x'.repeat(256)))).toBe(true);
    expect(isValidRoomId(defaultRoomId('x'.repeat(122)))).toBe(true);
    expect(isValidRoomId(defaultRoomId('x'.repeat(123)))).toBe(true);
    expect(defaultRoomId('x'.repeat(256))).not.toBe(defaultRoomId('y'.repeat(256)));
  });
});

describe('automatic callbacks', () => {
  it('are JSON by default and signed; a stream outside any room keeps one session in its own room, its seq rising across publishes', async () => {
    const rx = await receiver();
    const sender = new CallbackSender({ url: rx.url, appId: APP, secret: CB_SECRET, retryGapsMs: [] });
    cleanups.push(() => sender.close());
    expect(await sender.onStream('cam', { state: 'active', createTime: 1_700_000_000 })).toBe(200);
    expect(await sender.onStream('cam', { state: 'closed', createTime: 1_700_000_000, closeTime: 1_700_000_010 })).toBe(200);
    expect(await sender.onStream('cam', { state: 'active', createTime: 1_700_000_010 })).toBe(200);
    const [c1, x1, c2] = rx.got;
    expect(c1!.headers['content-type']).toBe('application/json');
    const [f1, f2, f3] = [c1!, x1!, c2!].map(fieldsOf);
    for (const f of [f1!, f2!, f3!]) expectSigned(f);
    expect(f1).toMatchObject({ event: 'stream_create', room_id: 'room-cam', stream_seq: '1', create_time_ms: '1700000000000' });
    expect(f2).toMatchObject({
      event: 'stream_close',
      room_id: 'room-cam',
      stream_seq: '2',
      room_session_id: f1!['room_session_id'],
      destroy_timemillis: '1700000010000',
    });
    // Re-published in the same second it closed: the seq, not the (equal) times, says it is newer.
    expect(f3).toMatchObject({ event: 'stream_create', stream_seq: '3', room_session_id: f1!['room_session_id'], create_time_ms: '1700000010000' });
  });

  it.each([
    ['form', 'application/x-www-form-urlencoded', false],
    ['json-as-form', 'application/x-www-form-urlencoded', true],
    ['json', 'application/json', true],
  ] as const)('encoding %s: Content-Type %s, JSON body %s', async (encoding, contentType, json) => {
    const rx = await receiver();
    const sender = new CallbackSender({ url: rx.url, appId: APP, secret: CB_SECRET, encoding, retryGapsMs: [] });
    cleanups.push(() => sender.close());
    await sender.onStream('cam', { state: 'active', createTime: 1_700_000_000 });
    const r = rx.got[0]!;
    expect(r.headers['content-type']).toBe(contentType);
    expect(r.body.startsWith('{')).toBe(json);
    const f = fieldsOf(r);
    expectSigned(f);
    expect(f).toMatchObject({ event: 'stream_create', stream_id: 'cam', room_session_id: expect.any(String) });
    expect([f['rtmp_url']].flat()).toEqual(['rtmp://play.simulator.invalid/live/cam']);
  });

  it("follow the simulator's rooms: one session across its streams while users stay, a new one after the room empties", async () => {
    const rx = await receiver();
    const clock = new FakeClock();
    const s = await startSimulator({ apps: [{ appId: APP, secret: 'srv' }], clock, callbacks: { url: rx.url, secret: CB_SECRET, retryGapsMs: [] } });
    cleanups.push(() => s.close());
    s.setRoomCounts('show', { userCount: 5 });
    s.publishInRoom('show', 'host');
    s.publishInRoom('show', 'guest');
    s.unpublishFromRoom('show', 'guest');
    s.unpublishFromRoom('show', 'host');
    s.publishInRoom('show', 'host');
    const first = await Promise.all([rx.next(), rx.next(), rx.next(), rx.next(), rx.next()]);
    const f = first.map(fieldsOf);
    f.sort((a, b) => Number(a['stream_seq']) - Number(b['stream_seq']));
    expect(f.map((x) => [x['event'], x['stream_id'], x['stream_seq'], x['room_id']])).toEqual([
      ['stream_create', 'host', '1', 'show'],
      ['stream_create', 'guest', '2', 'show'],
      ['stream_close', 'guest', '3', 'show'],
      ['stream_close', 'host', '4', 'show'],
      ['stream_create', 'host', '5', 'show'],
    ]);
    expect(new Set(f.map((x) => x['room_session_id'])).size).toBe(1);
    expect(f[0]).toMatchObject({ user_id: 'user-1', create_time_ms: String(Math.floor(clock.wall / 1000) * 1000) });
    // The audience leaves and the host stops: the room is destroyed; the next publish opens a new session.
    s.setRoomCounts('show', { userCount: 0 });
    s.unpublishFromRoom('show', 'host');
    const close = fieldsOf(await rx.next());
    expect(close).toMatchObject({ event: 'stream_close', stream_seq: '6', room_session_id: f[0]!['room_session_id'] });
    s.publishInRoom('show', 'host');
    const again = fieldsOf(await rx.next());
    expect(again).toMatchObject({ event: 'stream_create', stream_seq: '1' });
    expect(again['room_session_id']).not.toBe(f[0]!['room_session_id']);
  });
});

describe('callbacks on demand', () => {
  it('POST /_sim/callbacks sends one signed callback to a real listener and answers with its status and the body sent', async () => {
    const rx = await receiver();
    const clock = new FakeClock();
    const s = await startSimulator({ apps: [{ appId: APP, secret: 'srv', history: true }], clock });
    cleanups.push(() => s.close());
    s.setStream('cam', { state: 'active', createTime: 1_699_999_000 });
    const r = await control(
      s.url,
      'POST',
      '/_sim/callbacks',
      JSON.stringify({ url: rx.url, secret: CB_SECRET, event: 'stream_close', streamId: 'cam', type: 3 }),
    );
    expect(r.status).toBe(200);
    const reply = r.json as { status: number; contentType: string; body: Record<string, unknown> };
    expect(reply).toMatchObject({ status: 200, contentType: 'application/json' });
    const got = fieldsOf(rx.got[0]!);
    expect(got).toEqual(reply.body);
    expectSigned(got);
    expect(got).toMatchObject({
      event: 'stream_close',
      appid: String(APP),
      stream_id: 'cam',
      room_id: 'room-cam',
      type: '3',
      stream_seq: '1',
      create_time_ms: '1699999000000',
      destroy_timemillis: String(clock.wall),
      timestamp: String(Math.floor(clock.wall / 1000)),
    });
    expect(JSON.stringify(r.json)).not.toContain(CB_SECRET);
    // The API is untouched: on demand means the callback only.
    expect(s.streams()['cam']?.state).toBe('active');
  });

  it("numbers on-demand events in the simulator's room sessions, and sends explicit ones as given, in the encoding asked for", async () => {
    const rx = await receiver();
    const s = await startSimulator({ apps: [{ appId: APP, secret: 'srv' }], callbacks: { url: rx.url, secret: CB_SECRET, retryGapsMs: [] } });
    cleanups.push(() => s.close());
    const a = await s.sendCallback({ event: 'stream_create', streamId: 'x', roomId: 'r' });
    const b = await s.sendCallback({ event: 'stream_create', streamId: 'y', roomId: 'r', encoding: 'form' });
    expect(a.body).toMatchObject({ stream_seq: '1', room_id: 'r' });
    expect(b.body).toMatchObject({ stream_seq: '2', room_session_id: a.body['room_session_id'] });
    expect(b.contentType).toBe('application/x-www-form-urlencoded');
    expect(rx.got[1]!.body.startsWith('event=stream_create')).toBe(true);
    const c = await s.sendCallback({ event: 'stream_close', streamId: 'y', roomSessionId: '99', streamSeq: 41 });
    expect(c.body).toMatchObject({ room_session_id: '99', stream_seq: '41', room_id: 'r' });
  });

  it('reports an unreachable receiver as status null, and refuses bad requests with 400 without sending', async () => {
    const rx = await receiver();
    const s = await startSimulator({ apps: [{ appId: APP, secret: 'srv' }] });
    cleanups.push(() => s.close());
    const gone = await receiver();
    await cleanups.pop()!();
    const unreachable = await control(
      s.url,
      'POST',
      '/_sim/callbacks',
      JSON.stringify({ url: gone.url, secret: CB_SECRET, event: 'stream_create', streamId: 'x' }),
    );
    expect(unreachable).toMatchObject({ status: 200, json: { status: null } });
    for (const body of [
      { event: 'stream_create', streamId: 'x' },
      { url: rx.url, secret: CB_SECRET, event: 'room_create', streamId: 'x' },
      { url: rx.url, secret: CB_SECRET, event: 'stream_create', streamId: 'bad id' },
      { url: 'ftp://127.0.0.1/x', secret: CB_SECRET, event: 'stream_create', streamId: 'x' },
      { url: rx.url, secret: CB_SECRET, event: 'stream_create', streamId: 'x', encoding: 'xml' },
      { url: rx.url, secret: CB_SECRET, event: 'stream_create', streamId: 'x', streamSeq: -1 },
      { url: rx.url, secret: CB_SECRET, event: 'stream_create', streamId: 'x', extra: 1 },
    ]) {
      const r = await control(s.url, 'POST', '/_sim/callbacks', JSON.stringify(body));
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(r.json)).not.toContain(CB_SECRET);
    }
    expect((await control(s.url, 'GET', '/_sim/callbacks')).status).toBe(405);
    expect(rx.got).toHaveLength(0);
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

describe('zego-simulator send-callback', () => {
  it('posts one correctly signed callback to a real listener, prints what it sent, exits 0 on 2xx', async () => {
    const rx = await receiver();
    const r = await run(
      [
        'send-callback',
        '--url',
        rx.url,
        '--app-id',
        String(APP),
        '--event',
        'stream_close',
        '--stream-id',
        'cam',
        '--room-id',
        'show',
        '--room-session-id',
        '12',
        '--stream-seq',
        '7',
        '--type',
        '1',
        '--destroy-time-ms',
        '1700000000999',
      ],
      { SIM_CALLBACK_SECRET: CB_SECRET },
    );
    expect(r.code).toBe(0);
    const got = rx.got[0]!;
    expect(got.headers['content-type']).toBe('application/json');
    const f = fieldsOf(got);
    expectSigned(f);
    expect(f).toMatchObject({
      event: 'stream_close',
      appid: String(APP),
      stream_id: 'cam',
      room_id: 'show',
      room_session_id: '12',
      stream_seq: '7',
      type: '1',
      destroy_timemillis: '1700000000999',
    });
    expect(JSON.parse(r.stdout)).toEqual({ status: 200, contentType: 'application/json', body: f });
    expect(r.stdout + r.stderr).not.toContain(CB_SECRET);
  });

  it('sends a form with --encoding form; exits 1 when the receiver refuses it', async () => {
    const rx = await receiver(401);
    const r = await run([
      'send-callback',
      '--url',
      rx.url,
      '--secret',
      CB_SECRET,
      '--app-id',
      '1',
      '--event',
      'stream_create',
      '--stream-id',
      'cam',
      '--encoding',
      'form',
    ]);
    expect(r.code).toBe(1);
    expect(rx.got[0]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expectSigned(fieldsOf(rx.got[0]!));
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 401 });
  });

  it.each([
    [['--app-id', '1', '--event', 'stream_create', '--stream-id', 'cam'], /--url is required/],
    [['--url', 'http://127.0.0.1:1/x', '--app-id', '1', '--event', 'stream_create', '--stream-id', 'cam'], /--secret or SIM_CALLBACK_SECRET/],
    [['--url', 'http://127.0.0.1:1/x', '--secret', 's', '--app-id', '1', '--event', 'stream_start', '--stream-id', 'cam'], /--event must be/],
    [['--url', 'http://127.0.0.1:1/x', '--secret', 's', '--app-id', '1', '--event', 'stream_create', '--stream-id', 'a b'], /--stream-id/],
    [
      ['--url', 'http://127.0.0.1:1/x', '--secret', 's', '--app-id', '1', '--event', 'stream_create', '--stream-id', 'cam', '--bogus'],
      /usage: zego-simulator send-callback/,
    ],
  ])('exits 2 with its usage on bad flags %#', async (args, message) => {
    const r = await run(['send-callback', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
