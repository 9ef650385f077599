import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DiscoverPatterns, globToRegExp } from '../../src/callbacks/discovery.js';
import { eventKey, order } from '../../src/zego/event-order.js';
import { parseBody, streamEvent } from '../../src/callbacks/parse.js';
import type { StreamEvent } from '../../src/zego/stream-event.js';
import { CallbackReceiver, type Receipt } from '../../src/callbacks/receiver.js';
import { callbackSignature, CallbackVerifier } from '../../src/callbacks/verify.js';
import { Secret } from '../../src/config/secret.js';
import { StreamFamilies } from '../../src/metrics/block-cache.js';
import { StateStore } from '../../src/state/store.js';
import type { ProbeResult } from '../../src/zego/outcome.js';

const SECRET = 'cb-secret-value';
const APP = 1234;
const T0 = 1_700_000_000_000;

function clock(start = T0): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const silent = pino({ level: 'silent' });

function signed(fields: Record<string, string>, nowMs: number, nonce = String(Math.floor(Math.random() * 1e12)), secret = SECRET): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  return { appid: String(APP), ...fields, timestamp, nonce, signature: callbackSignature(secret, timestamp, nonce) };
}

const create = (id: string, seq: number, ms: number): Record<string, string> => ({
  event: 'stream_create',
  stream_id: id,
  stream_seq: String(seq),
  create_time_ms: String(ms),
});
const close = (id: string, seq: number, createMs: number, destroyMs: number, type = 1): Record<string, string> => ({
  event: 'stream_close',
  stream_id: id,
  stream_seq: String(seq),
  type: String(type),
  create_time_ms: String(createMs),
  destroy_timemillis: String(destroyMs),
});

function setup(ids = ['s1']): {
  store: StateStore;
  rx: CallbackReceiver;
  c: ReturnType<typeof clock>;
  counts: Map<string, number>;
  post: (f: Record<string, string>, json?: boolean) => Receipt;
} {
  const c = clock();
  const store = new StateStore({ logger: silent, now: c.now });
  store.setStreams(ids.map((id) => ({ id, intervalMs: 10_000, labels: {} })));
  const counts = new Map<string, number>();
  const rx = new CallbackReceiver({
    verifier: new CallbackVerifier({ secret: new Secret(SECRET), now: c.now }),
    appId: () => APP,
    apply: (e, at) => store.applyCallback(e.streamId, e, at),
    record: (event, result) => counts.set(`${event}/${result}`, (counts.get(`${event}/${result}`) ?? 0) + 1),
    logger: silent,
    now: c.now,
  });
  const post = (f: Record<string, string>, json = false): Receipt => (json ? rx.receive(JSON.stringify(f)) : rx.receive(new URLSearchParams(f).toString()));
  return { store, rx, c, counts, post };
}

describe('callback signature', () => {
  it('matches the official vector', () => {
    expect(callbackSignature('secret', '1470820198', '123412')).toBe('5bd59fd62953a8059fb7eaba95720f66d19e4517');
  });

  it('verifier accepts the vector inside the window and rejects forged, stale and replayed ones', () => {
    const v = new CallbackVerifier({ secret: new Secret('secret'), now: () => 1470820198_000 + 30_000 });
    const f = { timestamp: '1470820198', nonce: '123412', signature: '5bd59fd62953a8059fb7eaba95720f66d19e4517', bodyDigest: 'a' };
    expect(v.check(f)).toEqual({ ok: true, duplicate: false });
    expect(v.check({ ...f, signature: '5bd59fd62953a8059fb7eaba95720f66d19e4518' })).toMatchObject({ ok: false, result: 'bad_signature' });
    expect(v.check({ ...f, signature: 'short' })).toMatchObject({ ok: false, result: 'bad_signature' });
    v.remember(f);
    expect(v.check(f)).toEqual({ ok: true, duplicate: true });
    expect(v.check({ ...f, bodyDigest: 'b' })).toMatchObject({ ok: false, result: 'replayed' });
    const late = new CallbackVerifier({ secret: new Secret('secret'), now: () => 1470820198_000 + 5 * 60_000 + 1 });
    expect(late.check(f)).toMatchObject({ ok: false, result: 'expired' });
    // ZEGO's last retry comes ~62 s late: still inside the window.
    const retry = new CallbackVerifier({ secret: new Secret('secret'), now: () => 1470820198_000 + 62_000 });
    expect(retry.check(f).ok).toBe(true);
  });

  it('remembers nonces only for the window, and admits none beyond the cap', () => {
    const c = clock();
    const v = new CallbackVerifier({ secret: new Secret(SECRET), now: c.now, windowMs: 60_000, maxNonces: 3 });
    const mk = (n: string): { timestamp: string; nonce: string; signature: string; bodyDigest: string } => {
      const timestamp = String(Math.floor(c.now() / 1000));
      return { timestamp, nonce: n, signature: callbackSignature(SECRET, timestamp, n), bodyDigest: 'd' };
    };
    for (const n of ['1', '2', '3', '4']) if (v.check(mk(n)).ok) v.remember(mk(n));
    expect(v.remembered).toBe(3);
    expect(v.check(mk('4'))).toMatchObject({ ok: false, result: 'overloaded' });
    c.advance(120_001);
    v.remember(mk('5'));
    expect(v.remembered).toBe(1);
  });
});

describe('parse', () => {
  it('reads JSON, form and URL-encoded JSON alike', () => {
    const f = { event: 'stream_create', stream_id: 'a', stream_seq: '3', create_time_ms: '1700000000123' };
    const json = parseBody(JSON.stringify({ ...f, stream_seq: 3, rtmp_url: ['x'] }));
    const form = parseBody(new URLSearchParams(f).toString());
    const enc = parseBody(encodeURIComponent(JSON.stringify(f)));
    for (const p of [json, form, enc]) {
      expect(p.ok).toBe(true);
      if (p.ok) expect(streamEvent(p.value)).toEqual({ ok: true, value: { event: 'stream_create', streamId: 'a', streamSeq: 3, createTimeMs: 1700000000123 } });
    }
  });

  it('turns garbage into reasons, not exceptions', () => {
    expect(parseBody('{nope')).toEqual({ ok: false, reason: 'body is not valid JSON' });
    expect(parseBody('[1]')).toEqual({ ok: false, reason: 'body is not a JSON object' });
    expect(parseBody('')).toEqual({ ok: false, reason: 'empty body' });
    expect(parseBody('%7B%E0%A4%A')).toEqual({ ok: false, reason: 'body is not valid URL encoding' });
    expect(streamEvent({ event: 'stream_close', stream_id: 'a', stream_seq: '1' })).toEqual({ ok: false, reason: 'type missing or not a number' });
    expect(streamEvent({ event: 'stream_create', stream_id: 'a b', stream_seq: '1', create_time_ms: '1' })).toMatchObject({ ok: false });
    expect(streamEvent({ event: 'stream_create', stream_id: 'a', stream_seq: '-1', create_time_ms: '1' })).toMatchObject({ ok: false });
  });
});

describe('order', () => {
  const ev = (e: Record<string, string>): StreamEvent => {
    const r = streamEvent(e);
    if (!r.ok) throw new Error(r.reason);
    return r.value;
  };
  it('keeps the larger stream_seq, then the later time, then close after create', () => {
    const c1 = eventKey(ev(create('a', 1, 1000)));
    const x2 = eventKey(ev(close('a', 2, 1000, 5000)));
    expect(order(x2, c1)).toBe('newer');
    expect(order(c1, x2)).toBe('older');
    expect(order(c1, c1)).toBe('duplicate');
    expect(order(eventKey(ev(create('a', 2, 6000))), x2)).toBe('newer');
    expect(order(eventKey(ev(close('a', 1, 1000, 1000))), c1)).toBe('newer');
  });
});

describe('receiver', () => {
  it('a signed create makes the stream active at once with its create time; a close gives the reason', () => {
    const { store, post, c, counts } = setup();
    expect(post(signed(create('s1', 1, T0 - 5000), c.now()))).toMatchObject({ status: 200, result: 'accepted' });
    expect(store.get('s1')).toMatchObject({ active: true, createTimeSec: (T0 - 5000) / 1000, source: 'callback', callbackAtMs: T0 });
    c.advance(1000);
    expect(post(signed(close('s1', 2, T0 - 5000, T0 + 900, 1), c.now()), true)).toMatchObject({ status: 200, result: 'accepted' });
    expect(store.get('s1')).toMatchObject({ active: false, closeReason: 'heartbeat_timeout', closeTimeSec: (T0 + 900) / 1000 });
    expect(counts.get('stream_create/accepted')).toBe(1);
    expect(counts.get('stream_close/accepted')).toBe(1);
  });

  it('swapped order: a late create after its close changes nothing', () => {
    const { store, post, c } = setup();
    expect(post(signed(close('s1', 2, T0 - 5000, T0, 0), c.now())).result).toBe('accepted');
    expect(post(signed(create('s1', 1, T0 - 5000), c.now())).result).toBe('stale');
    expect(store.get('s1')).toMatchObject({ active: false, closeReason: 'normal_stop' });
  });

  it('duplicates (same event, new nonce; same nonce and body) are 2xx and change nothing', () => {
    const { store, post, c, counts } = setup();
    const body = signed(create('s1', 1, T0), c.now());
    expect(post(body).result).toBe('accepted');
    expect(post(body)).toMatchObject({ status: 200, result: 'duplicate' });
    expect(post(signed(create('s1', 1, T0), c.now()))).toMatchObject({ status: 200, result: 'duplicate' });
    expect(store.get('s1')?.active).toBe(true);
    expect(counts.get('stream_create/duplicate')).toBe(2);
  });

  it('forged, expired, replayed, wrong-app and malformed callbacks are 4xx and change nothing', () => {
    const { store, post, c, counts } = setup();
    const forged = signed(create('s1', 1, T0), c.now(), '777', 'wrong-secret');
    expect(post(forged)).toMatchObject({ status: 401, result: 'bad_signature' });
    const old = signed(create('s1', 1, T0), c.now() - 6 * 60_000);
    expect(post(old)).toMatchObject({ status: 401, result: 'expired' });
    const good = signed(create('s1', 1, T0), c.now(), '999');
    const replay = { ...good, ...close('s1', 9, T0, T0) };
    expect(post(good).result).toBe('accepted');
    expect(post(replay)).toMatchObject({ status: 409, result: 'replayed' });
    expect(post({ ...signed(create('s1', 5, T0), c.now()), appid: '999' })).toMatchObject({ status: 403, result: 'wrong_app' });
    expect(post(signed({ event: 'stream_close', stream_id: 's1', stream_seq: '7' }, c.now()))).toMatchObject({ status: 400, result: 'malformed' });
    expect(post({ event: 'stream_create' })).toMatchObject({ status: 400, result: 'malformed', reason: 'missing timestamp, nonce, signature' });
    expect(store.get('s1')).toMatchObject({ active: true, lastCallback: { seq: 1 } });
    expect(counts.get('stream_create/bad_signature')).toBe(1);
    expect(counts.get('stream_close/replayed')).toBe(1);
  });

  it('unwatched streams and other events are acknowledged', () => {
    const { post, c } = setup();
    expect(post(signed(create('other', 1, T0), c.now()))).toMatchObject({ status: 200, result: 'unwatched' });
    expect(post(signed({ event: 'room_login' }, c.now()))).toMatchObject({ status: 200, result: 'ignored', event: 'other' });
  });
});

describe('store: callbacks and probes', () => {
  const probe = (active: boolean, sentAtMs: number): ProbeResult => ({
    outcome: active ? { kind: 'active', createTimeSec: 1_699_999_000 } : { kind: 'closed', createTimeSec: 1_699_999_000, closeTimeSec: 1_699_999_900 },
    code: active ? '0' : '41006',
    sentAtMs,
    durationMs: 5,
  });

  it('a probe sent before the callback arrived cannot undo it; one sent after wins and is counted as a disagreement', () => {
    const { store, post, c } = setup();
    c.advance(100);
    expect(post(signed(create('s1', 1, T0), c.now())).result).toBe('accepted');
    store.applyProbe('s1', probe(false, T0 + 50)); // in flight when the callback came
    expect(store.get('s1')).toMatchObject({ active: true, source: 'callback', probeSuccess: true });
    store.applyProbe('s1', probe(false, T0 + 200)); // sent after: the API says closed
    expect(store.get('s1')).toMatchObject({ active: false, source: 'probe', disagreements: 1 });
    expect(store.disagreementsTotal).toBe(1);
  });

  it('a lost close is repaired by the next probe; an agreeing probe resets the disagreement count', () => {
    const { store, post, c } = setup();
    post(signed(create('s1', 1, T0), c.now()));
    c.advance(1000);
    store.applyProbe('s1', probe(true, c.now()));
    expect(store.get('s1')).toMatchObject({ active: true, source: 'probe', disagreements: 0 });
    store.applyProbe('s1', probe(false, c.now() + 10)); // close callback lost
    expect(store.get('s1')).toMatchObject({ active: false, source: 'probe' });
    expect(store.disagreementsTotal).toBe(0);
  });

  it('a create retried after a probe already saw the close is stale', () => {
    const { store, post, c } = setup();
    store.applyProbe('s1', probe(false, c.now()));
    expect(post(signed(create('s1', 1, 1_699_999_000_000), c.now())).result).toBe('stale');
    expect(store.get('s1')?.active).toBe(false);
  });
});

describe('ZEGO conformance: callback format, room sessions, no history permission', () => {
  const session = (f: Record<string, string>, id: string, roomId = 'room-1'): Record<string, string> => ({ ...f, room_id: roomId, room_session_id: id });

  it('a JSON body is read as JSON whatever the Content-Type says, and a form body as a form', () => {
    const { rx, store, c } = setup();
    // ZEGO's default is POST/JSON and its Content-Type is undocumented: this one says form.
    const json = JSON.stringify({ ...signed(create('s1', 1, T0 - 1000), c.now()), stream_seq: 1, hls_url: ['https://cdn.example/a.m3u8'] });
    expect(rx.receive(json)).toMatchObject({ status: 200, result: 'accepted' });
    expect(store.get('s1')).toMatchObject({ active: true, source: 'callback' });
    c.advance(1000);
    const form = new URLSearchParams(signed(close('s1', 2, T0 - 1000, T0 + 500, 0), c.now())).toString();
    expect(rx.receive(form)).toMatchObject({ status: 200, result: 'accepted' });
    expect(rx.receive(JSON.stringify(signed(create('s1', 3, T0 + 600), c.now())))).toMatchObject({ status: 200, result: 'accepted' });
    expect(store.get('s1')).toMatchObject({ active: true });
  });

  it('stream_seq orders events only within one room session: a new session is never older, whatever its seq', () => {
    const { store, post, c } = setup();
    // Session A: up to seq 6. The room is destroyed; session B restarts at 1.
    expect(post(signed(session(create('s1', 5, T0 - 60_000), 'A'), c.now())).result).toBe('accepted');
    expect(post(signed(session(close('s1', 6, T0 - 60_000, T0 - 30_000, 5), 'A'), c.now())).result).toBe('accepted');
    // B's create is lost; a probe sees the stream up again.
    c.advance(1000);
    store.applyProbe('s1', { outcome: { kind: 'active', createTimeSec: (T0 - 10_000) / 1000 }, code: '0', sentAtMs: c.now(), durationMs: 5 });
    expect(store.get('s1')).toMatchObject({ active: true, source: 'probe' });
    c.advance(1000);
    // B's close has a smaller seq than A's last event: by seq alone it would be refused as older
    // and the stream would read active until the next probe.
    expect(post(signed(session(close('s1', 2, T0 - 10_000, T0 + 1500, 0), 'B'), c.now())).result).toBe('accepted');
    expect(store.get('s1')).toMatchObject({ active: false, closeReason: 'normal_stop', closeTimeSec: (T0 + 1500) / 1000 });
    // Within session B the seq still decides: a replay of an older B event is stale.
    expect(post(signed(session(create('s1', 1, T0 - 10_000), 'B'), c.now())).result).toBe('stale');
  });

  it('swapped events across two sessions of one room end in the right state', () => {
    const run = (events: Record<string, string>[]): ReturnType<typeof setup>['store'] => {
      const { store, post, c } = setup();
      for (const e of events) {
        c.advance(100);
        post(signed(e, c.now()));
      }
      return store;
    };
    const aCreate = session(create('s1', 5, T0 - 60_000), 'A');
    const aClose = session(close('s1', 6, T0 - 60_000, T0 - 30_000, 0), 'A');
    const bCreate = session(create('s1', 1, T0 - 10_000), 'B');
    const bClose = session(close('s1', 2, T0 - 10_000, T0 - 5_000, 1), 'B');
    // Whatever order they arrive in, B's close is the last word.
    for (const order of [
      [aCreate, aClose, bCreate, bClose],
      [aCreate, bCreate, aClose, bClose],
      [bCreate, bClose, aCreate, aClose],
      [aClose, bClose, bCreate, aCreate],
      [bClose, aCreate, aClose, bCreate],
    ]) {
      expect(run(order).get('s1'), JSON.stringify(order.map((e) => `${e['room_session_id']}:${e['event']}`))).toMatchObject({
        active: false,
        closeReason: 'heartbeat_timeout',
        closeTimeSec: (T0 - 5_000) / 1000,
      });
    }
    // And B's create is the last word when B's close never came.
    for (const order of [
      [aCreate, aClose, bCreate],
      [bCreate, aClose, aCreate],
      [aClose, bCreate, aCreate],
    ]) {
      expect(run(order).get('s1')).toMatchObject({ active: true, createTimeSec: (T0 - 10_000) / 1000 });
    }
  });

  it('without the history permission a stream closed by callback stays closed through ten 41004 probes: one state change in total', () => {
    const lines: { msg: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string }) });
    const c = clock();
    const store = new StateStore({ logger, now: c.now });
    store.setStreams([{ id: 's1', intervalMs: 10_000, labels: {} }]);
    store.applyProbe('s1', { outcome: { kind: 'active', createTimeSec: (T0 - 60_000) / 1000 }, code: '0', sentAtMs: c.now(), durationMs: 5 });
    c.advance(1000);
    const rx = new CallbackReceiver({
      verifier: new CallbackVerifier({ secret: new Secret(SECRET), now: c.now }),
      appId: () => APP,
      apply: (e, at) => store.applyCallback(e.streamId, e, at),
      record: () => undefined,
      logger: silent,
      now: c.now,
    });
    expect(rx.receive(JSON.stringify(signed(close('s1', 2, T0 - 60_000, T0 + 900, 0), c.now()))).result).toBe('accepted');
    const changesBefore = lines.length;
    const closed = { ...store.get('s1')! };
    for (let i = 0; i < 10; i++) {
      c.advance(10_000);
      store.applyProbe('s1', { outcome: { kind: 'not_found' }, code: '41004', sentAtMs: c.now(), durationMs: 5 });
    }
    expect(lines.slice(changesBefore)).toEqual([]);
    expect(lines.filter((l) => /stream (went|is) (up|down)|not found/.test(l.msg)).map((l) => l.msg)).toEqual(['stream is up', 'stream went down']);
    expect(store.get('s1')).toMatchObject({
      active: false,
      notFound: false,
      closeTimeSec: closed.closeTimeSec,
      closeReason: 'normal_stop',
      changedAtMs: closed.changedAtMs,
      probeSuccess: true,
    });
    // Until something shows it active again.
    store.applyProbe('s1', { outcome: { kind: 'active', createTimeSec: (T0 + 200_000) / 1000 }, code: '0', sentAtMs: c.now(), durationMs: 5 });
    expect(store.get('s1')).toMatchObject({ active: true });
  });

  it('a stream never known closed that answers 41004 is not found, as before', () => {
    const { store, c } = setup();
    store.applyProbe('s1', { outcome: { kind: 'not_found' }, code: '41004', sentAtMs: c.now(), durationMs: 5 });
    expect(store.get('s1')).toMatchObject({ active: false, notFound: true });
  });

  it('a stream known closed from an earlier 41006 that then answers 41004 keeps its close time', () => {
    const { store, c } = setup();
    store.applyProbe('s1', {
      outcome: { kind: 'closed', createTimeSec: 1_699_999_000, closeTimeSec: 1_699_999_900 },
      code: '41006',
      sentAtMs: c.now(),
      durationMs: 5,
    });
    c.advance(10_000);
    store.applyProbe('s1', { outcome: { kind: 'not_found' }, code: '41004', sentAtMs: c.now(), durationMs: 5 });
    expect(store.get('s1')).toMatchObject({ active: false, notFound: false, closeTimeSec: 1_699_999_900 });
  });
});

describe('metrics from callback state', () => {
  it('exposes the close reason and the state source as one series each', () => {
    const { store, post, c } = setup();
    post(signed(create('s1', 1, T0), c.now()));
    post(signed(close('s1', 2, T0, T0 + 10, 4), c.now()));
    const out = new StreamFamilies().render(store.snapshot(), c.now(), 'text');
    expect(out).toContain('zego_stream_last_close_reason{stream_id="s1",reason="tcp_disconnect"} 1\n');
    expect(out).toContain('zego_stream_state_source{stream_id="s1",source="callback"} 1\n');
    expect(out).toContain('zego_stream_active{stream_id="s1"} 0\n');
    expect(out.match(/^zego_stream_last_close_reason\{/gm)).toHaveLength(1);
  });
});

describe('discovery patterns', () => {
  it("globs: `*` is any run of characters, the rest literal (the cap and forgetting are the core's: test/unit/discovery.test.ts)", () => {
    expect(globToRegExp('live-*').test('live-42')).toBe(true);
    expect(globToRegExp('live-*').test('xlive-42')).toBe(false);
    expect(globToRegExp('a.b*').test('axb')).toBe(false);
    const p = new DiscoverPatterns(['live-*', 'cam-?x']);
    expect(p.matches('other')).toBe(false);
    expect(p.matches('live-1')).toBe(true);
    expect(p.matches('cam-?x')).toBe(true);
    expect(p.matches('cam-ax')).toBe(false);
  });
});
