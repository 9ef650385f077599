import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { FaultsError, parseFaultsPatch, rollTransportFault, DEFAULT_FAULTS } from '../../simulator/faults.js';
import { FakeClock, apiUrl, call, scriptedRandom } from './simulator-helpers.js';

const APP = 4242;
const SECRET = 'fault-secret';
let sim: Simulator | null = null;
let clock: FakeClock;
let seq = 1;

async function start(random: () => number = () => 0.99): Promise<Simulator> {
  clock = new FakeClock();
  sim = await startSimulator({
    apps: [{ appId: APP, secret: SECRET }],
    streams: { live: { state: 'active', createTime: 100 } },
    clock,
    random,
  });
  return sim;
}

function url(sequence: number = seq++): string {
  if (sim === null) throw new Error('no simulator');
  return apiUrl(sim.url, clock, { appId: APP, secret: SECRET, streamId: 'live', sequence });
}

afterEach(async () => {
  await sim?.close();
  sim = null;
});

describe('fault selection', () => {
  it('maps one draw onto exclusive bands: reset, hang, http500, badJson', () => {
    const f = { ...DEFAULT_FAULTS, reset: 0.1, hang: 0.1, http500: 0.1, badJson: 0.1 };
    expect(rollTransportFault(f, () => 0.05)).toBe('reset');
    expect(rollTransportFault(f, () => 0.15)).toBe('hang');
    expect(rollTransportFault(f, () => 0.25)).toBe('http500');
    expect(rollTransportFault(f, () => 0.35)).toBe('badJson');
    expect(rollTransportFault(f, () => 0.45)).toBeNull();
  });

  it('validates patches strictly', () => {
    expect(parseFaultsPatch({ jitterMs: 20, forceCode: null })).toEqual({ jitterMs: 20, forceCode: null });
    for (const bad of [null, [], 'x', { http500: 1.5 }, { latencyMs: -1 }, { latency: 5 }, { throttleRate: 2.5 }, { forceCode: '40005' }]) {
      expect(() => parseFaultsPatch(bad), JSON.stringify(bad)).toThrow(FaultsError);
    }
  });
});

describe('faults over HTTP', () => {
  it('latencyMs delays every response; jitterMs adds random() * jitter', async () => {
    const s = await start(() => 0.5);
    s.setFaults({ latencyMs: 150 });
    let t0 = performance.now();
    expect((await call(url())).body.Code).toBe(0);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    s.setFaults({ latencyMs: 0, jitterMs: 300 });
    t0 = performance.now();
    expect((await call(url())).body.Code).toBe(0);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('http500 answers 500/502/503 with a non-JSON body and consumes no Sequence', async () => {
    // Draws per request: fault band, then status choice.
    const s = await start(scriptedRandom([0, 0, 0, 0.5, 0, 0.9]));
    s.setFaults({ http500: 1 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(url(7));
      statuses.push(res.status);
      const text = await res.text();
      expect(() => JSON.parse(text) as unknown).toThrow();
      expect(res.headers.get('date')).not.toBeNull();
    }
    expect(statuses).toEqual([500, 502, 503]);
    s.setFaults({ http500: 0 });
    expect((await call(url(7))).body.Code).toBe(0);
    expect(s.stats()).toMatchObject({ arrivals: 4, faults: { http500: 3 }, codes: { '0': 1 } });
  });

  it('badJson answers 200 with a body that does not parse', async () => {
    const s = await start(scriptedRandom([0, 0, 0, 0.3, 0, 0.6, 0, 0.9]));
    s.setFaults({ badJson: 1 });
    for (let i = 0; i < 4; i++) {
      const res = await fetch(url());
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(() => JSON.parse(text) as unknown, text).toThrow();
    }
    expect(s.stats().faults.badJson).toBe(4);
  });

  it('reset destroys the socket without a response (the Sequence is consumed)', async () => {
    const s = await start(() => 0);
    s.setFaults({ reset: 1 });
    await expect(fetch(url(50))).rejects.toThrow();
    s.setFaults({ reset: 0 });
    expect((await call(url(50))).body.Code).toBe(30010);
    expect(s.stats().faults.reset).toBe(1);
  });

  it('hang never answers; the client times out, and close() cleans hung sockets up', async () => {
    const s = await start(() => 0);
    s.setFaults({ hang: 1 });
    await expect(fetch(url(), { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    // A second hung request with no client timeout: close() must not wait for it.
    const pending = fetch(url()).then(
      () => 'answered',
      () => 'failed',
    );
    // Until it has arrived (and hangs): a fixed wait is too short on a loaded machine.
    for (const deadline = Date.now() + 5000; s.stats().faults.hang < 2 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 10));
    const t0 = performance.now();
    await s.close();
    sim = null;
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(await pending).toBe('failed');
    expect(s.stats().faults.hang).toBe(2);
  });

  it('close() also drops responses still waiting out their latency', async () => {
    const s = await start();
    s.setFaults({ latencyMs: 10_000 });
    const pending = fetch(url()).then(
      () => 'answered',
      () => 'failed',
    );
    await new Promise((r) => setTimeout(r, 50));
    await s.close();
    sim = null;
    expect(await pending).toBe('failed');
  });

  it('throttleRate lowers the effective limit', async () => {
    const s = await start();
    s.setFaults({ throttleRate: 5 });
    for (let i = 0; i < 5; i++) expect((await call(url())).body.Code).toBe(0);
    expect((await call(url())).body.Code).toBe(30002);
    s.setFaults({ throttleRate: null });
    clock.advance(1000);
    for (let i = 0; i < 40; i++) expect((await call(url())).body.Code).toBe(0);
  });

  it("listThrottleRate lowers the list API's AppID limit only: the excess answers 206", async () => {
    const s = await start();
    s.setFaults({ listThrottleRate: 3 });
    const list = (room: string): Promise<{ body: { Code: number } }> =>
      call(
        `${apiUrl(s.url, clock, { appId: APP, secret: SECRET, streamId: 'x', sequence: 0, action: 'DescribeSimpleStreamList', omit: ['StreamId', 'Sequence'] })}&RoomId=${room}`,
      );
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await list(`r${i}`)).body.Code);
    expect(codes).toEqual([104, 104, 104, 206, 206]);
    // The stream API keeps its own limit.
    for (let i = 0; i < 10; i++) expect((await call(url())).body.Code).toBe(0);
  });

  it('forceCode answers every request with that Code, and still counts arrivals against the limit', async () => {
    const s = await start();
    s.setFaults({ forceCode: 40005 });
    const r = await call(url());
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ Code: 40005, Message: 'Authentication failed', Data: {} });
    s.setFaults({ forceCode: 30002 });
    for (let i = 0; i < 5; i++) expect((await call(url())).body.Code).toBe(30002);
    s.setFaults({ forceCode: 12345678 });
    expect((await call(url())).body).toMatchObject({ Code: 12345678, Message: 'simulated error' });
    s.setFaults({ forceCode: null });
    expect((await call(url())).body.Code).toBe(0);
    expect(s.stats()).toMatchObject({ arrivals: 8, accepted: 8, faults: { forced: 7 }, codes: { '30002': 5, '40005': 1 } });
  });

  it('setFaults rejects bad input and keeps the previous faults', async () => {
    const s = await start();
    s.setFaults({ latencyMs: 5 });
    expect(() => s.setFaults({ http500: 2 })).toThrow(FaultsError);
    expect(s.faults().latencyMs).toBe(5);
    expect(s.faults().http500).toBe(0);
  });
});
