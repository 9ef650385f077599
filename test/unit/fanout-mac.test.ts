import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkEntry, deriveFanoutKey, fanoutKeys, signEntry } from '../../src/callbacks/fanout-mac.js';
import { Secret } from '../../src/config/secret.js';

const KEY = 'zego-exporter:callbacks:1234:events';
const FIELDS = ['origin', 'host:1:ab', 'received_at_ms', '1700000000000', 'event', 'stream_create', 'stream_id', 'live-1', 'stream_seq', '3'];
const OLD = new Secret('old-callback-secret');
const NEW = new Secret('new-callback-secret');
const signed = (keys: Buffer[], fields = FIELDS, streamKey = KEY): string[] => [...fields, 'mac', signEntry(keys, streamKey, fields)];

describe('fan-out entry MACs', () => {
  it('are keyed by HMAC(secret, "zego-exporter fanout v1"), never the secret itself', () => {
    const k = deriveFanoutKey(NEW);
    expect(k.equals(createHmac('sha256', 'new-callback-secret').update('zego-exporter fanout v1').digest())).toBe(true);
    expect(k.toString('utf8')).not.toContain('new-callback-secret');
    const entry = signed([k]);
    // What sits in Redis is not a MAC made with the raw secret.
    const raw = createHmac('sha256', 'new-callback-secret')
      .update(`${KEY}\n${JSON.stringify(FIELDS)}`)
      .digest('hex');
    expect(entry.at(-1)).not.toBe(raw);
    expect(JSON.stringify(entry)).not.toContain('new-callback-secret');
  });

  it('verify for the same key, the exact fields in order and the same stream key only', () => {
    const keys = fanoutKeys(NEW);
    expect(checkEntry(keys, KEY, signed(keys))).toBe('signed');
    expect(checkEntry(fanoutKeys(OLD), KEY, signed(keys))).toBe('bad_mac');
    const altered = signed(keys);
    altered[7] = 'live-2';
    expect(checkEntry(keys, KEY, altered)).toBe('bad_mac');
    const reordered = signed(keys);
    [reordered[8], reordered[6]] = [reordered[6]!, reordered[8]!];
    expect(checkEntry(keys, KEY, reordered)).toBe('bad_mac');
    expect(checkEntry(keys, 'zego-exporter:callbacks:99:events', signed(keys))).toBe('bad_mac');
    // A field appended after the MAC is not covered by it: refused, not ignored.
    expect(checkEntry(keys, KEY, [...signed(keys), 'stream_seq', '99'])).toBe('bad_mac');
  });

  it('no mac field is "unsigned"; a malformed one (not hex, too many, empty) is "bad_mac"; a value reading "mac" is not a field name', () => {
    const keys = fanoutKeys(NEW);
    expect(checkEntry(keys, KEY, FIELDS)).toBe('unsigned');
    expect(checkEntry(keys, KEY, ['origin', 'mac', ...FIELDS.slice(2)])).toBe('unsigned');
    const good = signEntry(keys, KEY, FIELDS);
    for (const bad of ['', 'zz', good.toUpperCase(), `${good},${good},${good}`, `${good},`])
      expect(checkEntry(keys, KEY, [...FIELDS, 'mac', bad]), bad).toBe('bad_mac');
  });

  it('while rotating, a writer with both keys signs with both: a reader with either verifies; a reader with the other only does not verify a one-key entry', () => {
    const both = fanoutKeys(NEW, OLD);
    expect(both).toHaveLength(2);
    expect(signEntry(both, KEY, FIELDS).split(',')).toHaveLength(2);
    expect(checkEntry(fanoutKeys(OLD), KEY, signed(both))).toBe('signed');
    expect(checkEntry(fanoutKeys(NEW), KEY, signed(both))).toBe('signed');
    expect(checkEntry(both, KEY, signed(fanoutKeys(OLD)))).toBe('signed');
    expect(checkEntry(fanoutKeys(NEW), KEY, signed(fanoutKeys(OLD)))).toBe('bad_mac');
    // previous == secret is one key, not two.
    expect(fanoutKeys(NEW, new Secret('new-callback-secret'))).toHaveLength(1);
  });
});
