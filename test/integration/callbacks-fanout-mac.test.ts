import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLEET_APP_ID, FLEET_CALLBACK_SECRET, actives, postCallback, signedEvent, type FleetHarness } from '../../bench/callbacks-fleet.js';
import { deriveFanoutKey, signEntry } from '../../src/callbacks/fanout-mac.js';
import { Secret } from '../../src/config/secret.js';
import { eventually, scrape } from '../helpers/exporter-process.js';
import { startConnectedFleet } from '../helpers/fleet.js';

const STREAMS = ['mac-1', 'mac-2', 'mac-3', 'mac-4', 'mac-5'];
const OLD = FLEET_CALLBACK_SECRET;
const NEW = 'the-rotated-callback-secret';
const KEY = `cbfleet:callbacks:${FLEET_APP_ID}:events`;

/**
 * Signed fan-out entries against a real redis-server and three real replicas in the middle of a
 * callback-secret rotation: A holds the new secret and the previous one, B still the old one only,
 * C the new one only and accepts unsigned entries (as during an upgrade from an unsigned fleet).
 * Write access to Redis is not callback injection: what a stranger writes is refused and counted.
 */
describe('signed fan-out entries (3 real processes, real Redis)', () => {
  let h: FleetHarness;
  const [A, B, C] = [0, 1, 2];
  const rejected = async (i: number, reason: string): Promise<number> =>
    (await scrape(h.replicas[i]!.url)).get(`zego_exporter_callbacks_fanout_rejected_total{reason="${reason}"}`) ?? 0;
  const activeOn = async (i: number, id: string): Promise<number | undefined> => (await actives(h.replicas[i]!.url)).get(id);

  beforeAll(async () => {
    h = await startConnectedFleet(3, STREAMS, {
      env: (i): Record<string, string> => (i === A ? { CB: NEW, CB_PREVIOUS: OLD } : i === C ? { CB: NEW, ACCEPT_UNSIGNED: 'true' } : { CB: OLD }),
    });
  }, 60_000);
  afterAll(async () => {
    await h?.stop();
  });

  it('mid-rotation, A (new + previous) and B (old) apply each other’s entries; C (new only) refuses B’s as bad_mac', async () => {
    // ZEGO signs with the old secret until the console is switched: B and A accept it.
    expect(await postCallback(h.cbUrls[B]!, signedEvent('mac-1', 1, { secret: OLD }))).toBe(200);
    await eventually(
      () => activeOn(A, 'mac-1'),
      (v) => v === 1,
      2000,
      20,
    );
    await eventually(
      () => rejected(C, 'bad_mac'),
      (n) => n === 1,
      2000,
      20,
    );
    expect(await activeOn(C, 'mac-1')).toBe(0);
    // And after the switch, with the new one: A's entry (MACs under both keys) reaches B and C.
    expect(await postCallback(h.cbUrls[A]!, signedEvent('mac-2', 1, { secret: NEW }))).toBe(200);
    await eventually(
      () => Promise.all([activeOn(B, 'mac-2'), activeOn(C, 'mac-2')]),
      (v) => v.every((x) => x === 1),
      2000,
      20,
    );
    // C's (new key only) reaches A, not B: why every replica takes the previous secret before any drops it.
    expect(await postCallback(h.cbUrls[C]!, signedEvent('mac-3', 1, { secret: NEW }))).toBe(200);
    await eventually(
      () => activeOn(A, 'mac-3'),
      (v) => v === 1,
      2000,
      20,
    );
    await eventually(
      () => rejected(B, 'bad_mac'),
      (n) => n === 1,
      2000,
      20,
    );
    expect(await activeOn(B, 'mac-3')).toBe(0);
    expect(await rejected(A, 'bad_mac')).toBe(0);
  }, 20_000);

  it('a stranger’s XADD (no MAC, a MAC under another key, a MAC over other fields) is refused and counted; only C, set to accept unsigned entries, applies the unsigned one', async () => {
    const redis = new Redis(h.redis.url, { maxRetriesPerRequest: 0 });
    const before = await Promise.all([A, B, C].map(async (i) => [await rejected(i, 'unsigned'), await rejected(i, 'bad_mac')] as const));
    try {
      const at = String(Date.now());
      const entry = (id: string): string[] => [
        'origin',
        'stranger',
        'received_at_ms',
        at,
        'event',
        'stream_create',
        'stream_id',
        id,
        'stream_seq',
        '7',
        'create_time_ms',
        at,
      ];
      await redis.xadd(KEY, '*', ...entry('mac-4'));
      const wrongKey = [deriveFanoutKey(new Secret('not-the-callback-secret'))];
      await redis.xadd(KEY, '*', ...entry('mac-5'), 'mac', signEntry(wrongKey, KEY, entry('mac-5')));
      // A genuine MAC over other fields (another stream id) does not carry over.
      const real = [deriveFanoutKey(new Secret(OLD)), deriveFanoutKey(new Secret(NEW))];
      await redis.xadd(KEY, '*', ...entry('mac-5'), 'mac', signEntry(real, KEY, entry('mac-1')));
      // Nor does one made for another stream key (another AppID's fan-out).
      await redis.xadd(KEY, '*', ...entry('mac-5'), 'mac', signEntry(real, `cbfleet:callbacks:1:events`, entry('mac-5')));
    } finally {
      redis.disconnect();
    }
    await eventually(
      () => Promise.all([A, B, C].map(async (i) => [await rejected(i, 'unsigned'), await rejected(i, 'bad_mac')] as const)),
      (v) => v[A]![0] === before[A]![0] + 1 && v[B]![0] === before[B]![0] + 1 && v.every((x, i) => x[1] === before[i]![1] + 3),
      3000,
      20,
    );
    expect(await rejected(C, 'unsigned')).toBe(before[C]![0]); // applied instead, and counted as such
    const mc = await scrape(h.replicas[C]!.url);
    expect(mc.get('zego_exporter_callbacks_fanout_unsigned_applied_total')).toBe(1);
    expect(mc.get('zego_stream_active{stream_id="mac-4"}')).toBe(1);
    for (const i of [A, B]) {
      const m = await scrape(h.replicas[i]!.url);
      expect(m.get('zego_stream_active{stream_id="mac-4"}')).toBe(0);
      expect(m.get('zego_exporter_callbacks_fanout_unsigned_applied_total')).toBe(0);
    }
    for (const i of [A, B, C]) expect(await activeOn(i, 'mac-5')).toBe(0);
    // Logged, rate-limited: one warning per reason within the minute however many came.
    for (const r of h.replicas) {
      const warned = r.logs().filter((l) => String(l.msg).startsWith('fan-out entry refused'));
      expect(warned.length).toBe(new Set(warned.map((l) => l['reason'])).size);
      expect(r.stderr()).not.toContain(NEW);
    }
    // The fan-out goes on: a genuine callback at B still reaches A.
    expect(await postCallback(h.cbUrls[B]!, signedEvent('mac-1', 2, { secret: OLD }))).toBe(200);
    await eventually(
      () => activeOn(A, 'mac-1'),
      (v) => v === 0,
      2000,
      20,
    );
  }, 20_000);
});
