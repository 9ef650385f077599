import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveFanoutKey, signEntry } from '../../src/callbacks/fanout-mac.js';
import { Secret } from '../../src/config/secret.js';
import { LINK_DOWN_MESSAGE } from '../../src/fleet/redis.js';
import { FLEET_APP_ID, FLEET_CALLBACK_SECRET, actives, measureFleetSpread, postCallback, signedEvent, type FleetHarness } from '../../bench/callbacks-fleet.js';
import { eventually, scrape } from '../helpers/exporter-process.js';
import { startConnectedFleet } from '../helpers/fleet.js';

const STREAMS = Array.from({ length: 10 }, (_, i) => `fcb-${i}`);

/**
 * Three exporter processes behind one "Service" (callbacks posted round-robin), one redis-server,
 * the strict simulator: every replica learns every callback, a nonce is spent fleet-wide, a
 * restarted replica catches up, and a Redis outage degrades to "each applies its own" and heals.
 * One fleet for the whole file (start-up is the slow part); the cases run in order on it.
 */
describe('callbacks in fleet mode (3 real processes, real Redis)', () => {
  let h: FleetHarness;
  /** Each stream's last stream_seq posted, so later cases continue ZEGO's order. */
  const seq = new Map<string, number>(STREAMS.map((id) => [id, 0]));
  const next = (id: string): number => {
    const s = seq.get(id)! + 1;
    seq.set(id, s);
    return s;
  };

  beforeAll(async () => {
    // Replica 2 discovers other ids than the others: each replica keeps its own patterns.
    h = await startConnectedFleet(3, STREAMS, { env: (i): Record<string, string> => (i === 2 ? { DISC: 'other-*' } : {}) });
  }, 60_000);
  afterAll(async () => {
    await h?.stop();
  });

  it('100 callbacks posted round-robin show on every replica within 1 s (p99)', async () => {
    const r = await measureFleetSpread(h, 100);
    for (const id of STREAMS) seq.set(id, 10);
    console.log(`callbacks fleet: POST → on all 3 replicas' /metrics: p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, max ${r.maxMs} ms (n=${r.n})`);
    expect(r.n).toBe(100);
    expect(r.notAccepted).toBe(0);
    expect(r.p99Ms).toBeLessThan(1000);
    // Fanned-out events are applied, not counted again as received.
    const counted = await Promise.all(
      h.replicas.map(async (x) => (await scrape(x.url)).get('zego_exporter_callbacks_total{event="stream_create",result="accepted"}') ?? 0),
    );
    expect(counted.reduce((a, b) => a + b, 0)).toBe(50);
  }, 30_000);

  it('a nonce spent at one replica is refused at another with another body (409, applied nowhere) and is a duplicate with the same body', async () => {
    const id = 'fcb-0';
    const s = next(id);
    const ev = signedEvent(id, s, { nonce: '777000111' });
    expect(await postCallback(h.cbUrls[0]!, ev)).toBe(200);
    const want = s % 2 === 1 ? 1 : 0;
    await eventually(
      () => Promise.all(h.replicas.map(async (r) => (await actives(r.url)).get(id))),
      (v) => v.every((x) => x === want),
      1000,
      10,
    );
    // The captured signature onto a forged body: the next stream_seq, the opposite state.
    const forged = { ...signedEvent(id, s + 1, { nonce: '777000111' }), timestamp: ev['timestamp']!, signature: ev['signature']! };
    expect(await postCallback(h.cbUrls[1]!, forged)).toBe(409);
    expect(await postCallback(h.cbUrls[2]!, forged)).toBe(409);
    expect(await postCallback(h.cbUrls[2]!, ev)).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    for (const r of h.replicas) expect((await actives(r.url)).get(id)).toBe(want);
    const m1 = await scrape(h.replicas[1]!.url);
    expect(m1.get(`zego_exporter_callbacks_total{event="${want === 1 ? 'stream_close' : 'stream_create'}",result="replayed"}`)).toBe(1);
    const m2 = await scrape(h.replicas[2]!.url);
    expect(m2.get(`zego_exporter_callbacks_total{event="${want === 1 ? 'stream_create' : 'stream_close'}",result="duplicate"}`)).toBe(1);
  });

  it('a replica restarted mid-run catches up on what it missed', async () => {
    await h.replicas[2]!.stop('SIGKILL');
    // A close with a reason only a callback can tell (kicked, type 3): a probe cannot supply it.
    const id = 'fcb-3';
    let s = next(id);
    if (s % 2 === 1) {
      expect(await postCallback(h.cbUrls[0]!, signedEvent(id, s))).toBe(200);
      s = next(id);
    }
    // The signature covers timestamp and nonce only, so the close type can be set after signing.
    expect(await postCallback(h.cbUrls[1]!, { ...signedEvent(id, s), type: '3' })).toBe(200);
    const r2 = await h.restart(2, { DISC: 'other-*' });
    await eventually(
      () => scrape(r2.url),
      (m) => m.get(`zego_stream_last_close_reason{stream_id="${id}",reason="kicked"}`) === 1,
      5000,
      50,
    );
  }, 30_000);

  it('a stream discovered from a callback at one replica is discovered by every replica whose patterns match, within its cap', async () => {
    const sec = Math.floor(Date.now() / 1000);
    for (const id of ['disc-a', 'disc-b', 'disc-c', 'other-a']) h.sim.setStream(id, { state: 'active', createTime: sec - 1 });
    // Posted where the pattern does not match: replica 2 does not watch it, the others discover it.
    expect(await postCallback(h.cbUrls[2]!, signedEvent('disc-a', 1))).toBe(200);
    expect(await postCallback(h.cbUrls[0]!, signedEvent('other-a', 1))).toBe(200);
    // The fan-out is read every 100 ms: disc-a is first at replicas 0 and 1 once both have it.
    await eventually(
      () => Promise.all([0, 1].map(async (i) => (await scrape(h.replicas[i]!.url)).get('zego_exporter_streams_discovered'))),
      (v) => v.every((x) => x === 1),
      3000,
      20,
    );
    expect(await postCallback(h.cbUrls[1]!, signedEvent('disc-b', 1))).toBe(200);
    expect(await postCallback(h.cbUrls[1]!, signedEvent('disc-c', 1))).toBe(200);
    const view = async (url: string): Promise<string> => {
      const m = await scrape(url);
      const ids = ['disc-a', 'disc-b', 'disc-c', 'other-a'].filter((id) => m.get(`zego_stream_active{stream_id="${id}",severity="none"}`) === 1);
      return `${ids.join(',')} discovered=${m.get('zego_exporter_streams_discovered')}`;
    };
    const all = await eventually(
      () => Promise.all(h.replicas.map((r) => view(r.url))),
      (v) => v.every((x) => x.endsWith('=2') || x.endsWith('=1')) && v[0] === v[1] && v[2] === 'other-a discovered=1',
      3000,
      20,
    );
    // Cap 2: disc-a and one of disc-b/disc-c (whichever came first there), never all three.
    expect(all[0]).toMatch(/^disc-a,disc-[bc] discovered=2$/);
  }, 20_000);

  it('broken entries in the shared stream (signed, so their fields are what is judged) are skipped, counted and logged once per kind; the fan-out goes on', async () => {
    const redis = new Redis(h.redis.url, { maxRetriesPerRequest: 0 });
    const key = `cbfleet:callbacks:${FLEET_APP_ID}:events`;
    const keys = [deriveFanoutKey(new Secret(FLEET_CALLBACK_SECRET))];
    const add = (...fields: string[]): Promise<unknown> => redis.xadd(key, '*', ...fields, 'mac', signEntry(keys, key, fields));
    try {
      const at = String(Date.now());
      const ok = ['event', 'stream_create', 'stream_id', 'fcb-8', 'stream_seq', '999', 'create_time_ms', at];
      await add('received_at_ms', at, ...ok); // no origin
      await add('origin', 'x', 'received_at_ms', 'soon', ...ok);
      await add('origin', 'x', 'received_at_ms', '99999999999999', ...ok);
      await add('origin', 'x', 'received_at_ms', at, ...ok.slice(0, 3), '../../etc', ...ok.slice(4));
      await add('origin', 'x', 'received_at_ms', at, 'event', 'stream_create', 'stream_id', 'fcb-8', 'stream_seq', '-1');
      await add('origin', 'x', 'received_at_ms', at, 'junk', 'y'.repeat(1000));
      await add('origin', 'x', 'received_at_ms', at, 'event', 'stream_create', 'stream_id', 'fcb-8', 'stream_seq', '1', 'create_time_ms', '0');
    } finally {
      redis.disconnect();
    }
    const id = 'fcb-9';
    const s = next(id);
    expect(await postCallback(h.cbUrls[0]!, signedEvent(id, s))).toBe(200);
    await eventually(
      () => Promise.all(h.replicas.map(async (r) => (await actives(r.url)).get(id))),
      (v) => v.every((x) => x === s % 2),
      2000,
      20,
    );
    for (const r of h.replicas) {
      expect(r.child.exitCode).toBeNull();
      expect((await actives(r.url)).get('fcb-8')).not.toBe(1);
      const warned = r.logs().filter((l) => l.msg === 'broken entry in the callback stream skipped');
      expect(warned.length).toBe(new Set(warned.map((l) => l['reason'])).size);
      expect(warned.length).toBeGreaterThanOrEqual(5);
      expect((await scrape(r.url)).get('zego_exporter_callbacks_fanout_rejected_total{reason="malformed"}')).toBe(7);
    }
  });

  it('with Redis killed each replica applies what it receives, says so once, and all converge when Redis returns', async () => {
    await h.redis.kill();
    await eventually(
      () => Promise.all(h.replicas.map((r) => scrape(r.url))),
      (all) => all.every((m) => m.get('zego_exporter_callbacks_fanout_connected') === 0),
      5000,
    );
    const a = 'fcb-5';
    const b = 'fcb-6';
    const sa = next(a);
    const sb = next(b);
    expect(await postCallback(h.cbUrls[0]!, signedEvent(a, sa))).toBe(200);
    expect(await postCallback(h.cbUrls[1]!, signedEvent(b, sb))).toBe(200);
    const wa = sa % 2 === 1 ? 1 : 0;
    const wb = sb % 2 === 1 ? 1 : 0;
    // The API says the same (the restarted replica may still be probing, at the fallback rate now).
    const sec = Math.floor(Date.now() / 1000);
    for (const [id, w] of [[a, wa] as const, [b, wb] as const]) {
      h.sim.setStream(id, w === 1 ? { state: 'active', createTime: sec - 1 } : { state: 'closed', createTime: sec - 600, closeTime: sec });
    }
    expect((await actives(h.replicas[0]!.url)).get(a)).toBe(wa);
    expect((await actives(h.replicas[1]!.url)).get(b)).toBe(wb);
    expect((await actives(h.replicas[2]!.url)).get(a)).not.toBe(wa);
    await h.redis.restart();
    await eventually(
      () => Promise.all(h.replicas.map(async (r) => [(await actives(r.url)).get(a), (await actives(r.url)).get(b)])),
      (v) => v.every(([x, y]) => x === wa && y === wb),
      5000,
      50,
    );
    // The fan-out is connected again once the fleet's one link is back, after its hysteresis
    // (PROBES_TO_RETURN probes, 1.5 s or more): converging does not wait for it, the gauge does.
    await eventually(
      () => Promise.all(h.replicas.map(async (r) => (await scrape(r.url)).get('zego_exporter_callbacks_fanout_connected'))),
      (v) => v.every((c) => c === 1),
      10_000,
      100,
    );
    for (const r of h.replicas) {
      const lost = r.logs().filter((l) => l.msg === LINK_DOWN_MESSAGE);
      expect(lost.length).toBeLessThanOrEqual(1);
    }
    expect(h.replicas[0]!.logs().filter((l) => l.msg === LINK_DOWN_MESSAGE)).toHaveLength(1);
  }, 30_000);
});
