import { describe, expect, it } from 'vitest';
import { callbackSignature, CallbackVerifier, DEFAULT_WINDOW_MS, type SignedFields } from '../../src/callbacks/verify.js';
import { Secret } from '../../src/config/secret.js';

/** The callback verifier (callbacks/verify.ts): signature, timestamp window, nonce memory. */

const T = 1_700_000_000_000;
const SECRET = 'current-secret';
const OLD = 'previous-secret';

function fields(nonce: string, opts: { atMs?: number; secret?: string; body?: string; timestamp?: string } = {}): SignedFields {
  const timestamp = opts.timestamp ?? String(Math.floor((opts.atMs ?? T) / 1000));
  return { timestamp, nonce, signature: callbackSignature(opts.secret ?? SECRET, timestamp, nonce), bodyDigest: opts.body ?? 'digest-1' };
}

function verifier(opts: { now?: () => number; previous?: string; windowMs?: number; maxNonces?: number; maxNonceBytes?: number } = {}): CallbackVerifier {
  return new CallbackVerifier({
    secret: new Secret(SECRET),
    now: opts.now ?? (() => T),
    ...(opts.previous === undefined ? {} : { previousSecret: new Secret(opts.previous) }),
    ...(opts.windowMs === undefined ? {} : { windowMs: opts.windowMs }),
    ...(opts.maxNonces === undefined ? {} : { maxNonces: opts.maxNonces }),
    ...(opts.maxNonceBytes === undefined ? {} : { maxNonceBytes: opts.maxNonceBytes }),
  });
}

/** What one remembered entry costs, as the verifier counts it. */
const cost = (f: SignedFields): number => 2 * (`${f.timestamp}:${f.nonce}`.length + f.bodyDigest.length) + 120;

describe('callback signature', () => {
  it('sorts secret, timestamp and nonce as strings before hashing: any order of the same three gives the same signature', () => {
    const sig = callbackSignature('b', 'c', 'a');
    expect(callbackSignature('a', 'b', 'c')).toBe(sig);
    expect(callbackSignature('c', 'a', 'b')).toBe(sig);
    expect(sig).toMatch(/^[0-9a-f]{40}$/);
    expect(callbackSignature('a', 'b', 'd')).not.toBe(sig);
  });
});

describe('CallbackVerifier: signature', () => {
  it('accepts the signature in upper-case hex too', () => {
    const f = fields('n1');
    expect(verifier().check({ ...f, signature: f.signature.toUpperCase() })).toEqual({ ok: true, duplicate: false });
  });

  it('rejects a wrong signature, and one of another length, as bad_signature without throwing', () => {
    const f = fields('n1');
    const bad = { ok: false, result: 'bad_signature', reason: 'signature does not match' };
    expect(verifier().check({ ...f, signature: f.signature.replace(/^./, (c) => (c === '0' ? '1' : '0')) })).toEqual(bad);
    expect(verifier().check({ ...f, signature: f.signature.slice(0, 39) })).toEqual(bad);
    expect(verifier().check({ ...f, signature: '' })).toEqual(bad);
    expect(verifier().check(fields('n1', { secret: 'someone-else' }))).toEqual(bad);
  });

  it('while rotating, signatures made with the previous secret pass too, and with the current one still', () => {
    const v = verifier({ previous: OLD });
    expect(v.check(fields('n1', { secret: OLD })).ok).toBe(true);
    expect(v.check(fields('n2')).ok).toBe(true);
    expect(verifier().check(fields('n1', { secret: OLD })).ok).toBe(false);
  });

  it('setSecret replaces the secrets: the old one stops passing unless kept as previous', () => {
    const v = verifier();
    v.setSecret(new Secret('next'));
    expect(v.check(fields('n1')).ok).toBe(false);
    expect(v.check(fields('n2', { secret: 'next' })).ok).toBe(true);
    v.setSecret(new Secret('next'), new Secret(SECRET));
    expect(v.check(fields('n3')).ok).toBe(true);
    expect(v.check(fields('n4', { secret: 'next' })).ok).toBe(true);
    v.setSecret(new Secret('next'), new Secret('next'));
    expect(v.check(fields('n5')).ok).toBe(false);
    expect(v.check(fields('n6', { secret: 'next' })).ok).toBe(true);
  });
});

describe('CallbackVerifier: timestamp', () => {
  it('a timestamp that is not Unix seconds (not digits, or more than 12 of them) is expired, said as such', () => {
    const notSeconds = { ok: false, result: 'expired', reason: 'timestamp is not Unix seconds' };
    expect(verifier().check(fields('n', { timestamp: '1700000000.5' }))).toEqual(notSeconds);
    expect(verifier().check(fields('n', { timestamp: ' 1700000000' }))).toEqual(notSeconds);
    expect(verifier().check(fields('n', { timestamp: '1700000000x' }))).toEqual(notSeconds);
    expect(verifier().check(fields('n', { timestamp: '1700000000000' }))).toEqual(notSeconds);
    expect(verifier().check(fields('n', { timestamp: '' }))).toEqual(notSeconds);
    // Twelve digits are seconds, just far outside the window.
    expect(verifier().check(fields('n', { timestamp: '170000000000' }))).toMatchObject({ result: 'expired', reason: 'timestamp outside the 300 s window' });
  });

  it('admits a timestamp up to the window either side of now, and not one second more', () => {
    const v = verifier();
    expect(DEFAULT_WINDOW_MS).toBe(300_000);
    expect(v.check(fields('a', { atMs: T - DEFAULT_WINDOW_MS })).ok).toBe(true);
    expect(v.check(fields('b', { atMs: T + DEFAULT_WINDOW_MS })).ok).toBe(true);
    expect(v.check(fields('c', { atMs: T - DEFAULT_WINDOW_MS - 1000 }))).toEqual({
      ok: false,
      result: 'expired',
      reason: 'timestamp outside the 300 s window',
    });
    expect(v.check(fields('d', { atMs: T + DEFAULT_WINDOW_MS + 1000 })).ok).toBe(false);
  });

  it('the window is configurable, and the refusal names it', () => {
    const v = verifier({ windowMs: 60_000 });
    expect(v.check(fields('a', { atMs: T - 60_000 })).ok).toBe(true);
    expect(v.check(fields('b', { atMs: T - 61_000 }))).toEqual({ ok: false, result: 'expired', reason: 'timestamp outside the 60 s window' });
  });

  it('reads the clock at each check', () => {
    let now = T;
    const v = verifier({ now: () => now });
    const f = fields('a');
    expect(v.check(f).ok).toBe(true);
    now = T + DEFAULT_WINDOW_MS + 1000;
    expect(v.check(f)).toMatchObject({ ok: false, result: 'expired' });
  });
});

describe('CallbackVerifier: nonces', () => {
  it('check() alone remembers nothing; after remember() the same nonce and body is a duplicate, another body a replay', () => {
    const v = verifier();
    const f = fields('n1');
    expect(v.check(f)).toEqual({ ok: true, duplicate: false });
    expect(v.check(f)).toEqual({ ok: true, duplicate: false });
    expect(v.remembered).toBe(0);
    v.remember(f);
    expect(v.check(f)).toEqual({ ok: true, duplicate: true });
    expect(v.check({ ...f, bodyDigest: 'forged' })).toEqual({ ok: false, result: 'replayed', reason: 'nonce already used' });
    // The same nonce under another timestamp is another callback.
    expect(v.check(fields('n1', { atMs: T - 1000 }))).toEqual({ ok: true, duplicate: false });
  });

  it('remembering the same nonce twice keeps one entry and its first body', () => {
    const v = verifier();
    const f = fields('n1');
    v.remember(f);
    v.remember({ ...f, bodyDigest: 'other' });
    expect(v.remembered).toBe(1);
    expect(v.rememberedBytes).toBe(cost(f));
    expect(v.check(f)).toEqual({ ok: true, duplicate: true });
  });

  it('counts each entry at twice its string lengths plus a fixed overhead', () => {
    const v = verifier();
    const a = fields('a');
    const b = fields('bbbb', { body: 'a-longer-digest' });
    v.remember(a);
    expect(v.rememberedBytes).toBe(cost(a));
    v.remember(b);
    expect(v.rememberedBytes).toBe(cost(a) + cost(b));
  });

  /** check() then remember(), as the receiver does; the verdict of check(). */
  const admit = (v: CallbackVerifier, f: SignedFields): ReturnType<CallbackVerifier['check']> => {
    const r = v.check(f);
    if (r.ok && !r.duplicate) v.remember(f);
    return r;
  };
  const FULL = { ok: false, result: 'overloaded', reason: expect.stringContaining('retry later') as unknown };

  it('at the count cap a new nonce is refused (overloaded: 503, ZEGO retries) and none remembered is forgotten', () => {
    const v = verifier({ maxNonces: 3 });
    const fs = ['n1', 'n2', 'n3'].map((n) => fields(n));
    for (const f of fs) expect(admit(v, f)).toEqual({ ok: true, duplicate: false });
    expect(admit(v, fields('n4'))).toEqual(FULL);
    expect(v.remembered).toBe(3);
    for (const f of fs) expect(v.check(f)).toEqual({ ok: true, duplicate: true });
    expect(v.check({ ...fs[0]!, bodyDigest: 'forged' })).toMatchObject({ ok: false, result: 'replayed' });
  });

  it('at the byte cap a nonce that does not fit is refused, and an entry fits exactly at the cap', () => {
    const a = fields('a');
    const v = verifier({ maxNonceBytes: 2 * cost(a) });
    expect(admit(v, a).ok).toBe(true);
    expect(admit(v, fields('b')).ok).toBe(true);
    expect(v.rememberedBytes).toBe(2 * cost(a));
    expect(admit(v, fields('c'))).toEqual(FULL);
    expect(v.check(a)).toEqual({ ok: true, duplicate: true });
  });

  it('an empty memory admits one entry larger than the byte cap (a callback is never refused for its own size alone)', () => {
    const v = verifier({ maxNonceBytes: 10 });
    expect(admit(v, fields('a')).ok).toBe(true);
    expect(admit(v, fields('b'))).toEqual(FULL);
    expect(v.check(fields('a'))).toEqual({ ok: true, duplicate: true });
  });

  it('room comes back as nonces leave their window: a refused callback retried later is admitted', () => {
    let now = T;
    const v = verifier({ now: () => now, windowMs: 60_000, maxNonces: 1 });
    expect(admit(v, fields('a')).ok).toBe(true);
    now += 60_000;
    expect(admit(v, fields('b', { atMs: now }))).toEqual(FULL);
    now = T + 120_000;
    expect(admit(v, fields('b', { atMs: now - 60_000 }))).toEqual({ ok: true, duplicate: false });
  });

  it('a burst of 100 000 signed callbacks: every nonce is still remembered after the last, by default', () => {
    const v = verifier();
    for (let i = 0; i < 100_000; i++)
      expect(
        admit(v, {
          timestamp: String(T / 1000),
          nonce: `burst-${i}`,
          signature: callbackSignature(SECRET, String(T / 1000), `burst-${i}`),
          bodyDigest: 'd'.repeat(40),
        }).ok,
      ).toBe(true);
    expect(v.remembered).toBe(100_000);
    const first = {
      timestamp: String(T / 1000),
      nonce: 'burst-0',
      signature: callbackSignature(SECRET, String(T / 1000), 'burst-0'),
      bodyDigest: 'd'.repeat(40),
    };
    expect(v.check(first)).toEqual({ ok: true, duplicate: true });
    expect(v.check({ ...first, bodyDigest: 'forged' })).toMatchObject({ ok: false, result: 'replayed' });
  });

  it('by default at most 250 000 nonces are admitted', () => {
    const v = verifier();
    for (let i = 0; i < 250_000; i++) v.remember({ timestamp: String(T / 1000), nonce: String(i), signature: '', bodyDigest: '' });
    expect(v.check(fields('one-more'))).toEqual(FULL);
    expect(v.remembered).toBe(250_000);
  });

  it('by default at most 64 MiB of nonces are admitted', () => {
    const v = verifier();
    const ts = String(T / 1000);
    let admitted = 0;
    for (let i = 0; i < 400; i++) {
      const nonce = String(i).padEnd(100_000, 'x');
      if (admit(v, { timestamp: ts, nonce, signature: callbackSignature(SECRET, ts, nonce), bodyDigest: '' }).ok) admitted++;
    }
    expect(admitted).toBeLessThan(400);
    expect(v.rememberedBytes).toBeLessThanOrEqual(64 * 1024 * 1024);
    expect(v.rememberedBytes).toBeGreaterThan(64 * 1024 * 1024 - 200_200);
  });

  it('forgets a nonce two windows after it arrived, oldest first, giving its bytes back', () => {
    let now = T;
    const v = verifier({ now: () => now, windowMs: 60_000 });
    const a = fields('a');
    v.remember(a);
    now += 30_000;
    const b = fields('b', { atMs: now });
    v.remember(b);
    now = T + 120_000 - 1;
    v.remember(fields('c', { atMs: now }));
    expect(v.remembered).toBe(3);
    now = T + 120_000;
    expect(v.check(fields('x', { atMs: now })).ok).toBe(true); // check prunes too
    expect(v.remembered).toBe(2);
    expect(v.rememberedBytes).toBe(cost(b) + cost(fields('c', { atMs: T + 120_000 - 1 })));
    // A nonce forgotten is no longer a replay: its timestamp is long outside the window anyway.
    now = T + 150_000;
    v.remember(fields('d', { atMs: now }));
    expect(v.remembered).toBe(2);
  });
});
