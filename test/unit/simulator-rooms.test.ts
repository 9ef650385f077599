import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_ROOM_ID, DEMO_ROOM_STREAMS, demoRoomAt, startRoomDemoScript } from '../../simulator/rooms.js';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { FakeClock, control } from './simulator-helpers.js';

const APP = 31337;
const SECRET = 'control-secret';
let sim: Simulator | null = null;
let clock: FakeClock;

async function start(opts: Parameters<typeof startSimulator>[0] | null = null): Promise<Simulator> {
  clock = new FakeClock();
  sim = await startSimulator(opts ?? { apps: [{ appId: APP, secret: SECRET }], clock });
  return sim;
}

afterEach(async () => {
  await sim?.close();
  sim = null;
});

describe('/_sim/rooms control endpoints', () => {
  it('PUT a room sets its counts; PUT/DELETE a stream in it publishes and stops it in the one stream model', async () => {
    const s = await start();
    const nowSec = Math.floor(clock.wall / 1000);
    const room = encodeURIComponent('show\\1#main');
    expect(await control(s.url, 'PUT', `/_sim/rooms/${room}`, '{"userCount":40,"adminUserCount":2}')).toEqual({
      status: 200,
      json: { id: 'show\\1#main', streams: [], userCount: 40, adminUserCount: 2 },
    });
    expect((await control(s.url, 'PUT', `/_sim/rooms/${room}/streams/host`, '')).json).toEqual({
      id: 'show\\1#main',
      streams: ['host'],
      userCount: 40,
      adminUserCount: 2,
    });
    expect(s.streams()['host']).toEqual({ state: 'active', createTime: nowSec });
    clock.advance(3_000);
    expect(await control(s.url, 'DELETE', `/_sim/rooms/${room}/streams/host`)).toEqual({ status: 200, json: { id: 'show\\1#main', stopped: 'host' } });
    expect(s.streams()['host']).toEqual({ state: 'closed', createTime: nowSec, closeTime: nowSec + 3 });
    expect((await control(s.url, 'GET', '/_sim/rooms')).json).toEqual({ 'show\\1#main': { streams: [], userCount: 40, adminUserCount: 2 } });
    expect(await control(s.url, 'DELETE', `/_sim/rooms/${room}`)).toEqual({ status: 200, json: { deleted: 'show\\1#main' } });
    expect((await control(s.url, 'GET', '/_sim/rooms')).json).toEqual({});
  });

  it('closing a room stops its streams', async () => {
    const s = await start();
    s.publishInRoom('r', 'a');
    s.publishInRoom('r', 'b');
    expect(s.removeRoom('r')).toBe(true);
    expect(s.streams()['a']?.state).toBe('closed');
    expect(s.streams()['b']?.state).toBe('closed');
  });

  it('a stream publishes in one room at a time', async () => {
    const s = await start();
    s.publishInRoom('r1', 'a');
    s.publishInRoom('r2', 'a');
    expect(s.rooms()).toMatchObject({ r1: { streams: [] }, r2: { streams: ['a'] } });
  });

  it.each([
    ['PUT', `/_sim/rooms/${encodeURIComponent('has space')}`, '{}', 400],
    ['PUT', '/_sim/rooms/r', '{"userCount":-1}', 400],
    ['PUT', '/_sim/rooms/r', '{"userCount":1.5}', 400],
    ['PUT', '/_sim/rooms/r', '{"userCount":"9"}', 400],
    ['PUT', '/_sim/rooms/r', '{"userCount":1,"adminUserCount":2}', 400],
    ['PUT', '/_sim/rooms/r', '{"users":1}', 400],
    ['PUT', '/_sim/rooms/r', 'not json', 400],
    ['PUT', '/_sim/rooms/r/streams/bad%20id', '', 400],
    ['PUT', '/_sim/rooms/r/other/x', '', 404],
    ['DELETE', '/_sim/rooms/none', '', 404],
    ['DELETE', '/_sim/rooms/none/streams/x', '', 404],
    ['POST', '/_sim/rooms/r', '{}', 405],
    ['PUT', '/_sim/rooms/%E0%A4%A', '{}', 400],
  ])('%s %s %s → %i with an error, nothing changed', async (method, path, body, status) => {
    const s = await start();
    const r = await control(s.url, method, path, body);
    expect(r.status).toBe(status);
    expect(r.json).toHaveProperty('error');
    expect(s.rooms()).toEqual({});
  });

  it('rooms given at start are published and counted', async () => {
    clock = new FakeClock();
    const s = await start({ apps: [{ appId: APP, secret: SECRET }], clock, rooms: { r: { streams: ['x'], userCount: 5, adminUserCount: 1 } } });
    expect(s.rooms()).toEqual({ r: { streams: ['x'], userCount: 5, adminUserCount: 1 } });
    expect(s.streams()['x']?.state).toBe('active');
  });
});

describe('demo room', () => {
  it('keeps the host on while guests come and go, and the audience moves within 2..260', () => {
    const seen = new Set<string>();
    let audienceMin = Infinity;
    let audienceMax = 0;
    let changes = 0;
    let prev = demoRoomAt(0);
    for (let t = 0; t < 600; t++) {
      const r = demoRoomAt(t);
      expect(r.streams).toContain('room-host');
      for (const id of r.streams) seen.add(id);
      if (r.streams.join() !== prev.streams.join()) changes++;
      audienceMin = Math.min(audienceMin, r.userCount);
      audienceMax = Math.max(audienceMax, r.userCount);
      expect(r.adminUserCount).toBeLessThanOrEqual(r.userCount);
      prev = r;
    }
    expect([...seen].sort()).toEqual([...DEMO_ROOM_STREAMS].sort());
    expect(changes).toBeGreaterThanOrEqual(10);
    expect(audienceMin).toBeGreaterThanOrEqual(2);
    expect(audienceMax - audienceMin).toBeGreaterThan(100);
  });

  it('plays on a simulator: the room lists what the schedule says at each tick', async () => {
    const s = await start();
    const fns: (() => void)[] = [];
    const script = startRoomDemoScript(s, { timers: { setInterval: (fn) => fns.push(fn), clearInterval: () => fns.splice(0) } });
    for (let t = 0; t < 120; t++) {
      const want = demoRoomAt(t);
      const room = s.rooms()[DEMO_ROOM_ID];
      const listed = (room?.streams ?? []).filter((id) => s.streams()[id]?.state === 'active');
      expect(listed.sort(), `t=${t}`).toEqual([...want.streams].sort());
      expect(room?.userCount).toBe(want.userCount);
      for (const fn of fns) fn();
    }
    script.stop();
    expect(fns).toHaveLength(0);
  });
});
