import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { signedPart } from '../../src/callbacks/parse.js';
import { CallbackReceiver, type Receipt } from '../../src/callbacks/receiver.js';
import { callbackSignature, CallbackVerifier } from '../../src/callbacks/verify.js';
import { Secret } from '../../src/config/secret.js';
import { StateStore } from '../../src/state/store.js';

const SECRET = 'cb-secret-value';
const APP = 1234;
const T0 = 1_700_000_000_000;
const silent = pino({ level: 'silent' });

function signed(fields: Record<string, string>, nowMs: number, nonce = String(Math.floor(Math.random() * 1e12))): Record<string, string> {
  const timestamp = String(Math.floor(nowMs / 1000));
  return { appid: String(APP), ...fields, timestamp, nonce, signature: callbackSignature(SECRET, timestamp, nonce) };
}

const create = (id: string, seq: number | string, ms: number | string): Record<string, string> => ({
  event: 'stream_create',
  stream_id: id,
  stream_seq: String(seq),
  create_time_ms: String(ms),
});
const close = (id: string, seq: number | string, createMs: number, destroyMs: number): Record<string, string> => ({
  event: 'stream_close',
  stream_id: id,
  stream_seq: String(seq),
  type: '0',
  create_time_ms: String(createMs),
  destroy_timemillis: String(destroyMs),
});

function setup(verifierOpts: { maxNonceBytes?: number; maxNonces?: number } = {}): {
  store: StateStore;
  verifier: CallbackVerifier;
  post: (f: Record<string, string>) => Receipt;
  advance: (ms: number) => void;
  now: () => number;
} {
  let t = T0;
  const now = (): number => t;
  const store = new StateStore({ logger: silent, now });
  store.setStreams([{ id: 's1', intervalMs: 10_000, labels: {} }]);
  const verifier = new CallbackVerifier({ secret: new Secret(SECRET), now, ...verifierOpts });
  const rx = new CallbackReceiver({
    verifier,
    appId: () => APP,
    apply: (e, at) => store.applyCallback(e.streamId, e, at),
    record: () => undefined,
    logger: silent,
    now,
  });
  return {
    store,
    verifier,
    now,
    advance: (ms) => (t += ms),
    post: (f) => rx.receive(new URLSearchParams(f).toString()),
  };
}

describe('callback nonce and timestamp bounds', () => {
  it('over HTTP, a callback refused because the replay memory is full gets 503 with Retry-After: 1', async () => {
    const verifier = new CallbackVerifier({ secret: new Secret(SECRET), maxNonces: 1 });
    const store = new StateStore({ logger: silent });
    store.setStreams([{ id: 's1', intervalMs: 10_000, labels: {} }]);
    const rx = new CallbackReceiver({
      verifier,
      appId: () => APP,
      apply: (e, at) => store.applyCallback(e.streamId, e, at),
      record: () => undefined,
      logger: silent,
    });
    const server = createServer((req, res) => rx.handle(req, res));
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const post = (f: Record<string, string>): Promise<Response> => fetch(url, { method: 'POST', body: new URLSearchParams(f).toString() });
      expect((await post(signed(create('s1', 1, Date.now()), Date.now(), 'n-1'))).status).toBe(200);
      const full = await post(signed(create('s1', 2, Date.now()), Date.now(), 'n-2'));
      expect(full.status).toBe(503);
      expect(full.headers.get('retry-after')).toBe('1');
      expect(await full.text()).toMatch(/replay protection holds 1 nonces .*retry later/);
    } finally {
      await new Promise<void>((res) => server.close(() => res()));
    }
  });

  it('with the replay memory full, a new callback is answered 503 (ZEGO retries) while every remembered nonce still stops its replay', () => {
    const { post, verifier, now, advance } = setup({ maxNonces: 2 });
    const first = signed(create('s1', 1, T0), now(), 'nonce-1');
    expect(post(first)).toMatchObject({ status: 200, result: 'accepted' });
    expect(post(signed(close('s1', 1, T0, T0 + 1), now(), 'nonce-2'))).toMatchObject({ status: 200 });
    const third = signed(create('s1', 2, T0 + 2), now(), 'nonce-3');
    expect(post(third)).toMatchObject({ status: 503, result: 'overloaded' });
    expect(post({ ...first, stream_id: 'forged' })).toMatchObject({ status: 409, result: 'replayed' });
    expect(verifier.remembered).toBe(2);
    // Two windows (10 min) on, the first two have left their window: the retry is admitted.
    advance(10 * 60_000);
    expect(post(signed(create('s1', 2, T0 + 2), now(), 'nonce-3'))).toMatchObject({ status: 200 });
  });

  it('a signed callback with a 60 KB nonce is malformed and nothing of it is remembered', () => {
    const { post, verifier, now } = setup();
    const r = post(signed(create('s1', 1, T0), now(), 'n'.repeat(60_000)));
    expect(r).toMatchObject({ status: 400, result: 'malformed' });
    expect(r.reason).toMatch(/nonce/);
    expect(verifier.remembered).toBe(0);
  });

  it('bounds nonce, timestamp and signature fields before any work is done on them', () => {
    const base = { event: 'stream_create', timestamp: '1700000000', nonce: '123412', signature: 'a'.repeat(40) };
    expect(signedPart(base)).toMatchObject({ ok: true });
    expect(signedPart({ ...base, nonce: 'n'.repeat(64) })).toMatchObject({ ok: true });
    expect(signedPart({ ...base, nonce: 'n'.repeat(65) })).toMatchObject({ ok: false });
    expect(signedPart({ ...base, nonce: 'a b' })).toMatchObject({ ok: false });
    expect(signedPart({ ...base, timestamp: '1'.repeat(13) })).toMatchObject({ ok: false });
    expect(signedPart({ ...base, timestamp: '1'.repeat(50_000) })).toMatchObject({ ok: false });
    expect(signedPart({ ...base, signature: 'a'.repeat(41) })).toMatchObject({ ok: false });
    expect(signedPart({ ...base, signature: 'z'.repeat(40) })).toMatchObject({ ok: false });
  });

  it('the remembered nonces stay under their byte cap (new ones refused, none forgotten) and drop to 0 after the window', () => {
    const cap = 20_000;
    let now = T0;
    const v = new CallbackVerifier({ secret: new Secret(SECRET), now: () => now, maxNonceBytes: cap });
    const signed = (i: number): { timestamp: string; nonce: string; signature: string; bodyDigest: string } => {
      const nonce = `${i}`.padStart(64, 'x');
      return { timestamp: String(T0 / 1000), nonce, signature: callbackSignature(SECRET, String(T0 / 1000), nonce), bodyDigest: 'd'.repeat(40) };
    };
    let admitted = 0;
    for (let i = 0; i < 1000; i++) {
      const r = v.check(signed(i));
      if (r.ok) {
        v.remember(signed(i));
        admitted++;
      } else expect(r.result).toBe('overloaded');
      expect(v.rememberedBytes).toBeLessThanOrEqual(cap);
    }
    expect(admitted).toBeGreaterThan(10);
    expect(admitted).toBeLessThan(1000);
    // The first ones are kept (their replay is still refused, their retry still a duplicate).
    expect(v.check(signed(0))).toEqual({ ok: true, duplicate: true });
    expect(v.check({ ...signed(0), bodyDigest: 'forged' })).toMatchObject({ ok: false, result: 'replayed' });
    now += 20 * 60_000;
    v.remember({ timestamp: String(now / 1000), nonce: 'fresh', signature: '', bodyDigest: 'e' });
    expect(v.remembered).toBe(1);
    expect(v.rememberedBytes).toBeLessThan(400);
  });
});

describe('implausible callback times', () => {
  it.each([
    ['create_time_ms "0"', create('s1', 1, '0')],
    ['create_time_ms in 2014', create('s1', 1, Date.UTC(2014, 11, 31))],
    ['create_time_ms two days ahead', create('s1', 1, T0 + 2 * 86_400_000)],
    ['create_time in seconds "1"', { event: 'stream_create', stream_id: 's1', stream_seq: '1', create_time: '1' }],
    ['destroy_timemillis 1e15', close('s1', 2, T0 - 1000, 1e15)],
  ])('%s is malformed and never becomes uptime', (_name, fields) => {
    const { post, store, now } = setup();
    expect(post(signed(fields, now()))).toMatchObject({ status: 400, result: 'malformed' });
    expect(store.get('s1')).toMatchObject({ active: null, createTimeSec: null, closeTimeSec: null, lastCallback: null });
  });

  it('a time up to a day ahead (clock skew) is accepted', () => {
    const { post, store, now } = setup();
    expect(post(signed(create('s1', 1, T0 + 3_600_000), now())).result).toBe('accepted');
    expect(store.get('s1')?.createTimeSec).toBe((T0 + 3_600_000) / 1000);
  });
});

describe('stream_seq tolerates an absurd value', () => {
  it('after a signed close with stream_seq 2^53-1, the next publish session is accepted again', () => {
    const { post, store, now, advance } = setup();
    expect(post(signed(create('s1', 1, T0 - 10_000), now())).result).toBe('accepted');
    expect(post(signed(close('s1', Number.MAX_SAFE_INTEGER, T0 - 10_000, T0), now())).result).toBe('accepted');
    // Same session: ZEGO's seq rule still holds, so a late create of that session stays stale.
    expect(post(signed(create('s1', 2, T0 - 10_000), now())).result).toBe('stale');
    advance(5_000);
    // A new session (later create_time_ms) is newer whatever its seq.
    expect(post(signed(create('s1', 3, T0 + 4_000), now())).result).toBe('accepted');
    expect(store.get('s1')).toMatchObject({ active: true, createTimeSec: (T0 + 4_000) / 1000 });
    advance(5_000);
    expect(post(signed(close('s1', 4, T0 + 4_000, T0 + 9_000), now())).result).toBe('accepted');
    expect(store.get('s1')?.active).toBe(false);
  });

  it("otherwise ZEGO's rule stands: a late create from before the last event, with a smaller seq, is stale", () => {
    const { post, store, now } = setup();
    expect(post(signed(create('s1', 5, T0 - 1_000), now())).result).toBe('accepted');
    expect(post(signed(close('s1', 6, T0 - 1_000, T0), now())).result).toBe('accepted');
    expect(post(signed(create('s1', 4, T0 - 500), now())).result).toBe('stale');
    // A close whose create_time_ms differs from the create's is still ordered by seq.
    expect(post(signed(create('s1', 7, T0 + 10), now())).result).toBe('accepted');
    expect(post(signed(close('s1', 8, T0 - 2_000, T0 + 20), now())).result).toBe('accepted');
    expect(store.get('s1')?.active).toBe(false);
  });
});
