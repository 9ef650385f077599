import { afterEach, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { FakeClock, apiUrl, call, control } from './simulator-helpers.js';

const APP = 31337;
const SECRET = 'control-secret';
let sim: Simulator | null = null;
let clock: FakeClock;
let seq = 1;

async function start(): Promise<Simulator> {
  clock = new FakeClock();
  // The stream tests read 41006 close times: the app has the history permission.
  sim = await startSimulator({ apps: [{ appId: APP, secret: SECRET, history: true }], clock });
  return sim;
}

function query(streamId: string): Promise<Awaited<ReturnType<typeof call>>> {
  if (sim === null) throw new Error('no simulator');
  return call(apiUrl(sim.url, clock, { appId: APP, secret: SECRET, streamId, sequence: seq++ }));
}

afterEach(async () => {
  await sim?.close();
  sim = null;
});

describe('/_sim control endpoints', () => {
  it('PUT/DELETE /_sim/streams/<id> drive what the API answers, with simulator-clock times', async () => {
    const s = await start();
    const nowSec = Math.floor(clock.wall / 1000);
    let r = await control(s.url, 'PUT', '/_sim/streams/cam-1', '{"state":"active"}');
    expect(r).toEqual({ status: 200, json: { id: 'cam-1', state: 'active', createTime: nowSec } });
    expect((await query('cam-1')).body).toMatchObject({ Code: 0, Data: { create_time: String(nowSec), close_time: '' } });

    // Already active: create_time stays.
    clock.advance(5_000);
    await control(s.url, 'PUT', '/_sim/streams/cam-1', '{"state":"active"}');
    clock.advance(5_000);
    r = await control(s.url, 'PUT', '/_sim/streams/cam-1', '{"state":"closed"}');
    expect(r.json).toEqual({ id: 'cam-1', state: 'closed', createTime: nowSec, closeTime: nowSec + 10 });
    expect((await query('cam-1')).body).toMatchObject({
      Code: 41006,
      Data: { create_time: String(nowSec), close_time: String(nowSec + 10) },
    });

    // Reactivation starts a new stream.
    clock.advance(1_000);
    await control(s.url, 'PUT', '/_sim/streams/cam-1', '{"state":"active"}');
    expect((await control(s.url, 'GET', '/_sim/streams')).json).toEqual({
      'cam-1': { state: 'active', createTime: nowSec + 11 },
    });

    expect((await control(s.url, 'DELETE', '/_sim/streams/cam-1')).status).toBe(200);
    expect((await query('cam-1')).body.Code).toBe(41004);
    expect((await control(s.url, 'DELETE', '/_sim/streams/cam-1')).status).toBe(404);
  });

  it('GET /_sim/stats and POST /_sim/stats/reset', async () => {
    const s = await start();
    await query('a');
    await query('a');
    let st = (await control(s.url, 'GET', '/_sim/stats')).json;
    expect(st).toMatchObject({ arrivals: 2, accepted: 2, streamCalls: { a: 2 }, codes: { '41004': 2 } });
    expect((await control(s.url, 'POST', '/_sim/stats/reset')).json).toEqual({ ok: true });
    st = (await control(s.url, 'GET', '/_sim/stats')).json;
    expect(st).toMatchObject({ arrivals: 0, accepted: 0, streamCalls: {}, codes: {}, peakWindow: { all: 0, admitted: 0 } });
    // Peaks restart after a reset even though the limiter still remembers the earlier calls.
    await query('a');
    expect(s.stats().peakWindow).toEqual({ admitted: 1, all: 1 });
  });

  it('PUT /_sim/faults applies a partial and returns the full faults', async () => {
    const s = await start();
    const r = await control(s.url, 'PUT', '/_sim/faults', '{"forceCode":40005}');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ forceCode: 40005, latencyMs: 0 });
    expect((await query('a')).body.Code).toBe(40005);
    await control(s.url, 'PUT', '/_sim/faults', '{"forceCode":null}');
    expect((await query('a')).body.Code).toBe(41004);
    expect((await control(s.url, 'GET', '/_sim/faults')).json).toMatchObject({ forceCode: null });
  });

  it('answers bad input with a 4xx JSON error and keeps serving', async () => {
    const s = await start();
    const cases: Array<[string, string, string | undefined, number]> = [
      ['PUT', '/_sim/faults', 'not json', 400],
      ['PUT', '/_sim/faults', '{"http500":3}', 400],
      ['PUT', '/_sim/faults', '{"nope":1}', 400],
      ['PUT', '/_sim/faults', '[1]', 400],
      ['PUT', '/_sim/streams/x', '{"state":"paused"}', 400],
      ['PUT', '/_sim/streams/x', '', 400],
      ['PUT', '/_sim/streams/x', 'null', 400],
      ['PUT', '/_sim/streams/a%20b', '{"state":"active"}', 400],
      ['PUT', '/_sim/streams/%E0%A4%A', '{"state":"active"}', 400],
      ['PUT', `/_sim/streams/${'x'.repeat(257)}`, '{"state":"active"}', 400],
      ['PUT', '/_sim/faults', 'x'.repeat(70_000), 413],
      ['POST', '/_sim/stats', '{}', 405],
      ['GET', '/_sim/stats/reset', undefined, 405],
      ['GET', '/_sim/nothing', undefined, 404],
    ];
    for (const [method, path, body, status] of cases) {
      const r = await control(s.url, method, path, body);
      expect(r.status, `${method} ${path}`).toBe(status);
      expect(r.json).toHaveProperty('error');
    }
    expect(s.streams()).toEqual({});
    expect(s.faults()).toMatchObject({ http500: 0 });
    expect((await query('a')).body.Code).toBe(41004);
  });
});
