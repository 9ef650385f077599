import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { CallbackReceiver } from '../../src/callbacks/receiver.js';
import { callbackSignature, CallbackVerifier } from '../../src/callbacks/verify.js';
import { Secret } from '../../src/config/secret.js';
import { StateStore } from '../../src/state/store.js';

const SECRET = 'cb-property-secret';
const APP = 4321;
const T0 = 1_700_000_000_000;

function receiver(): { rx: CallbackReceiver; store: StateStore } {
  const now = (): number => T0;
  const store = new StateStore({ logger: pino({ level: 'silent' }), now });
  store.setStreams([{ id: 's1', intervalMs: 10_000, labels: {} }]);
  const rx = new CallbackReceiver({
    verifier: new CallbackVerifier({ secret: new Secret(SECRET), now }),
    appId: () => APP,
    apply: (e, at) => store.applyCallback(e.streamId, e, at),
    record: () => undefined,
    logger: pino({ level: 'silent' }),
    now,
  });
  return { rx, store };
}

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', '0', '-1', '1e400', 'NaN', 's1', 'stream_create', 'stream_close', String(APP), String(T0), '99999999999999999999'),
);
const field = fc.constantFrom(
  'event',
  'stream_id',
  'stream_seq',
  'create_time_ms',
  'destroy_timemillis',
  'type',
  'appid',
  'timestamp',
  'nonce',
  'signature',
  'channel_id',
  'extra_info',
  'x',
);

/** Random fields; half the time correctly signed, so the generator also reaches the event parser and the store. */
const fields = fc.tuple(fc.dictionary(field, text, { maxKeys: 10 }), fc.boolean(), fc.string({ minLength: 1, maxLength: 12 })).map(([f, sign, nonce]) => {
  if (!sign) return f;
  const timestamp = String(Math.floor(T0 / 1000));
  return { appid: String(APP), ...f, timestamp, nonce, signature: callbackSignature(SECRET, timestamp, nonce) };
});

// The body alone decides how it is read (the Content-Type is undocumented and not consulted).
const request = fc.oneof(
  fields.map((f) => new URLSearchParams(f).toString()),
  fields.map((f) => JSON.stringify(f)),
  fc.string({ maxLength: 300 }),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
);

describe('callback receiver (property)', () => {
  it('any body gets a 2xx or 4xx with a reason, never a throw or a 5xx', () => {
    const { rx, store } = receiver();
    fc.assert(
      fc.property(request, (body) => {
        const r = rx.receive(body);
        expect(r.status >= 200 && r.status < 500).toBe(true);
        expect(r.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: 3000 },
    );
    // The one watched stream is still there and readable whatever was thrown at it.
    expect([...store.snapshot()].map((s) => s.id)).toEqual(['s1']);
  });
});
