import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { eventually, scrape, startExporter, stopAll } from '../helpers/exporter-process.js';

const APP_ID = 987650001;
const SECRET = '0123456789abcdef0123456789abcdef';

/**
 * ZEGO destroys a room when its last user leaves, and the list API then answers "room does not
 * exist" (104): the simulator's production default. A watched room that empties must read as
 * empty — 0 streams, a successful read — and the streams that were in it as inactive, never as a
 * failing probe.
 */
describe('a watched room that empties (ZEGO answers 104)', () => {
  let sim: Simulator;

  beforeAll(async () => {
    sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
    sim.publishInRoom('stage', 'guest-1');
  }, 30_000);
  afterEach(async () => {
    await stopAll();
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('reads 0 streams with probe success 1, its stream inactive, the calls counted as code 104 outcome ok', async () => {
    const m = await startExporter(
      `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\nprobe:\n  interval: 24h\nrooms:\n  - { id: stage, interval: 10s }\n`,
      { env: { S: SECRET }, logLevel: 'info' },
    );
    let metrics = await eventually(
      () => scrape(m.url),
      (x) => x.get('zego_room_streams{room_id="stage"}') === 1,
      10_000,
      200,
    );
    expect(
      metrics.get('zego_stream_active{stream_id="guest-1",severity="none"}') ?? metrics.get('zego_stream_active{severity="none",stream_id="guest-1"}'),
    ).toBe(1);

    sim.unpublishFromRoom('stage', 'guest-1');
    metrics = await eventually(
      () => scrape(m.url),
      (x) => x.get('zego_room_streams{room_id="stage"}') === 0,
      15_000,
      250,
    );
    expect(metrics.get('zego_room_probe_success{room_id="stage"}')).toBe(1);
    expect(metrics.get('zego_room_last_success_timestamp_seconds{room_id="stage"}')).toBeGreaterThan(Date.now() / 1000 - 15);
    expect(
      metrics.get('zego_stream_active{stream_id="guest-1",severity="none"}') ?? metrics.get('zego_stream_active{severity="none",stream_id="guest-1"}'),
    ).toBe(0);
    expect(metrics.get('zego_exporter_api_requests_total{api="DescribeSimpleStreamList",code="104",outcome="ok"}')).toBeGreaterThanOrEqual(1);
    expect([...metrics.keys()].some((k) => k.startsWith('zego_exporter_api_config_error'))).toBe(false);
    // Every call said IsTest (required of projects created before 2021-11-16: the simulator's default).
    const st = sim.stats();
    expect(st.apis.DescribeSimpleStreamList.arrivals + st.apis.DescribeUserNum.arrivals).toBeGreaterThan(1);
    expect(st.missingIsTest).toBe(0);
  }, 40_000);
});
