import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CallbackSender, withCallbacks } from '../../simulator/callbacks.js';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { eventually, scrape, startExporter, stopAll } from '../helpers/exporter-process.js';

const APP_ID = 135792468;
const SECRET = 'disc0123456789abcdef0123456789ab';
const CB_SECRET = 'callback-secret-for-discovery';
const active = (id: string): string => `zego_stream_active{stream_id="${id}"}`;
/** A discovered stream's series: its only label is severity, callbacks.discover.streams_severity's default none. */
const discovered = (id: string, name = 'zego_stream_active'): string => `${name}{stream_id="${id}",severity="none"}`;

/**
 * Discovery through the real process: a stream_create for an unlisted id matching a pattern starts
 * watching (and probing) it, up to max_streams; a closed discovered stream is forgotten after
 * forget_after; listed streams never are.
 */
describe('discovery from stream_create callbacks (real process)', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
  });
  afterEach(async () => {
    await stopAll();
  });
  afterAll(async () => {
    await sim.close();
  });

  it('watches matching streams up to the cap, probes them, and forgets closed ones', async () => {
    const exp = await startExporter(
      `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  rate_limit: 10\nprobe:\n  interval: 1s\n` +
        `callbacks:\n  secret: \${CB}\n  listen_address: 127.0.0.1:0\n  discover:\n    patterns: ["live-*"]\n    max_streams: 2\n    forget_after: 2s\n` +
        `streams:\n  - listed\n`,
      { env: { S: SECRET, CB: CB_SECRET }, logLevel: 'info' },
    );
    const sender = new CallbackSender({ url: `${await exp.callbackUrl()}/zego/callback`, appId: APP_ID, secret: CB_SECRET, retryGapsMs: [200, 400] });
    const zego = withCallbacks(sim, sender);
    const now = (): number => Math.floor(Date.now() / 1000);

    zego.setStream('live-a', { state: 'active', createTime: now() });
    zego.setStream('other-x', { state: 'active', createTime: now() }); // does not match the pattern
    zego.setStream('live-b', { state: 'active', createTime: now() });
    zego.setStream('live-c', { state: 'active', createTime: now() }); // over max_streams
    zego.setStream('listed', { state: 'closed', createTime: now() - 100, closeTime: now() - 50 });

    const m = await eventually(
      () => scrape(exp.url),
      (m) => m.get(discovered('live-a')) === 1 && m.get(discovered('live-b')) === 1 && (m.get(discovered('live-b', 'zego_stream_probe_success')) ?? 0) === 1,
      5000,
    );
    expect(m.has(discovered('other-x'))).toBe(false);
    expect(m.has(discovered('live-c'))).toBe(false);
    expect(m.get('zego_exporter_streams_discovered')).toBe(2);
    // Discovered streams are probed too, not only told by callbacks.
    expect(sim.stats().streamCalls['live-a'] ?? 0).toBeGreaterThan(0);

    zego.setStream('live-a', { state: 'closed', createTime: now() - 10, closeTime: now() });
    await eventually(
      () => scrape(exp.url),
      (m) => m.get(discovered('live-a')) === 0,
      3000,
    );
    const forgotten = await eventually(
      () => scrape(exp.url),
      (m) => !m.has(discovered('live-a', 'zego_stream_probe_success')),
      8000,
      200,
    );
    expect(forgotten.get(discovered('live-b'))).toBe(1);
    expect(forgotten.get(active('listed'))).toBe(0); // listed and closed: never forgotten
    expect(forgotten.get('zego_exporter_streams_discovered')).toBe(1);
    expect(
      exp
        .logs()
        .filter((l) => l.msg === 'forgetting a closed discovered stream')
        .map((l) => l['stream_id']),
    ).toEqual(['live-a']);

    // Room again under the cap: a new matching stream is picked up.
    zego.setStream('live-d', { state: 'active', createTime: now() });
    await eventually(
      () => scrape(exp.url),
      (m) => m.get(discovered('live-d')) === 1,
      5000,
    );
  });
});
