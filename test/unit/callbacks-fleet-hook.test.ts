import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { FleetClaim } from '../../src/callbacks/fleet-nonces.js';
import type { StreamEvent } from '../../src/zego/stream-event.js';
import { CallbackReceiver, type FleetHook } from '../../src/callbacks/receiver.js';
import { callbackSignature, CallbackVerifier, type SignedFields } from '../../src/callbacks/verify.js';
import { Secret } from '../../src/config/secret.js';
import { StateStore, type CallbackApply } from '../../src/state/store.js';

const SECRET = 'cb-secret-value';
const T0 = 1_700_000_000_000;

function body(nonce: string, seq = 1, id = 's1'): string {
  const timestamp = String(Math.floor(T0 / 1000));
  return JSON.stringify({
    event: 'stream_create',
    stream_id: id,
    stream_seq: String(seq),
    create_time_ms: String(T0 - 1000),
    timestamp,
    nonce,
    signature: callbackSignature(SECRET, timestamp, nonce),
  });
}

/** A receiver whose fleet answers `verdict` (null: Redis away), recording what it applied and published. */
function setup(verdict: FleetClaim | null, applyResult: CallbackApply = 'accepted') {
  const applied: StreamEvent[] = [];
  const published: [StreamEvent, number][] = [];
  const claimed: SignedFields[] = [];
  const hook: FleetHook = {
    claim: (f) => {
      claimed.push(f);
      return Promise.resolve(verdict);
    },
    publish: (e, at) => void published.push([e, at]),
  };
  const rx = new CallbackReceiver({
    verifier: new CallbackVerifier({ secret: new Secret(SECRET), now: () => T0 }),
    appId: () => 1,
    apply: (e) => {
      applied.push(e);
      return applyResult;
    },
    record: () => undefined,
    logger: pino({ level: 'silent' }),
    now: () => T0,
    fleet: () => hook,
  });
  return { rx, applied, published, claimed };
}

describe('the receiver in fleet mode (fleet hook)', () => {
  it('a nonce new to the fleet is applied here and published to the others, at the time it was received', async () => {
    const { rx, applied, published, claimed } = setup('new');
    const r = await rx.receiveShared(body('1'));
    expect([r.status, r.result]).toEqual([200, 'accepted']);
    expect(applied).toHaveLength(1);
    expect(published).toEqual([[applied[0], T0]]);
    expect(claimed[0]).toMatchObject({ nonce: '1', timestamp: String(T0 / 1000) });
  });

  it('a nonce another replica spent with another body: 409, applied nowhere, published nowhere', async () => {
    const { rx, applied, published } = setup('replayed');
    const r = await rx.receiveShared(body('2'));
    expect([r.status, r.result]).toEqual([409, 'replayed']);
    expect(applied).toHaveLength(0);
    expect(published).toHaveLength(0);
  });

  it('a nonce another replica received with the same body: a duplicate (200), not applied again, and remembered here', async () => {
    const { rx, applied, claimed } = setup('duplicate');
    expect((await rx.receiveShared(body('3'))).result).toBe('duplicate');
    expect(applied).toHaveLength(0);
    // Remembered locally: the retry is answered without asking Redis.
    expect((await rx.receiveShared(body('3'))).result).toBe('duplicate');
    expect(claimed).toHaveLength(1);
  });

  it('without an answer from Redis the local memory decides: applied, published for later, and a local replay still refused', async () => {
    const { rx, applied, published } = setup(null);
    expect((await rx.receiveShared(body('4'))).result).toBe('accepted');
    expect(applied).toHaveLength(1);
    expect(published).toHaveLength(1);
    expect((await rx.receiveShared(body('4', 2))).status).toBe(409);
    expect(applied).toHaveLength(1);
  });

  it('publishes what it could not use itself (unwatched here: another replica may watch it), never what it refused', async () => {
    const { rx, published } = setup('new', 'unwatched');
    expect((await rx.receiveShared(body('5', 1, 'not-mine'))).result).toBe('unwatched');
    expect(published).toHaveLength(1);
    const bad = setup('new');
    expect((await bad.rx.receiveShared(body('6').replace(/"signature":"[0-9a-f]+"/, `"signature":"${'0'.repeat(40)}"`))).status).toBe(401);
    expect(bad.published).toHaveLength(0);
    expect(bad.claimed).toHaveLength(0);
  });

  it('an event applied again (its own entry read back, or a catch-up after a restart) is a duplicate and changes nothing', () => {
    const store = new StateStore({ logger: pino({ level: 'silent' }), now: () => T0 });
    store.setStreams([{ id: 's1', intervalMs: 10_000, labels: {} }]);
    const e: StreamEvent = { event: 'stream_create', streamId: 's1', streamSeq: 7, createTimeMs: T0 - 1000 };
    expect(store.applyCallback('s1', e, T0)).toBe('accepted');
    const before = structuredClone(store.get('s1'));
    expect(store.applyCallback('s1', e, T0 + 500)).toBe('duplicate');
    expect(store.get('s1')).toEqual(before);
  });
});

describe('the receiver in fleet mode: mix callbacks', () => {
  function mixBody(nonce: string, event: 'mix_start' | 'mix_stop'): string {
    const timestamp = String(Math.floor(T0 / 1000));
    return JSON.stringify({ event, task_id: '1:show', seq: 4, channel_id: 'stage', timestamp, nonce, signature: callbackSignature(SECRET, timestamp, nonce) });
  }

  it('a mix_start / mix_stop new to the fleet is published with its signed timestamp, watched here or not; a replayed one nowhere', async () => {
    const published: [string, string, number, number][] = [];
    let verdict: FleetClaim = 'new';
    const rx = new CallbackReceiver({
      verifier: new CallbackVerifier({ secret: new Secret(SECRET), now: () => T0 }),
      appId: () => 1,
      apply: () => 'accepted',
      applyMix: (e) => (e.event === 'mix_start' ? 'accepted' : 'unwatched'),
      record: () => undefined,
      logger: pino({ level: 'silent' }),
      now: () => T0,
      fleet: () => ({
        claim: () => Promise.resolve(verdict),
        publish: () => undefined,
        publishMix: (e, atMs, at) => void published.push([e.event, e.rawTaskId, atMs, at]),
      }),
    });
    expect((await rx.receiveShared(mixBody('m1', 'mix_start'))).result).toBe('accepted');
    expect((await rx.receiveShared(mixBody('m2', 'mix_stop'))).result).toBe('unwatched');
    verdict = 'replayed';
    expect((await rx.receiveShared(mixBody('m3', 'mix_stop'))).result).toBe('replayed');
    const atMs = Math.floor(T0 / 1000) * 1000;
    expect(published).toEqual([
      ['mix_start', '1:show', atMs, T0],
      ['mix_stop', '1:show', atMs, T0],
    ]);
  });
});
