import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { eventually, scrape, startExporter, stopAll } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/ports.js';

const APP_ID = 987654322;
const SECRET = '0123456789abcdef0123456789abcdef';
const CB_SECRET = 'mix-discovery-secret';

/**
 * Discovery by mix_start as a real process: the strict simulator starts more matching mix tasks
 * than callbacks.discover.max_mix_tasks allows and sends each mix_start (task_id AppID-prefixed,
 * as ZEGO does) to the exporter's callback listener.
 */
describe('mix task discovery by mix_start (real process, strict simulator)', () => {
  let sim: Simulator;
  let cbPort: number;

  beforeAll(async () => {
    cbPort = await freePort();
    sim = await startSimulator({
      apps: [{ appId: APP_ID, secret: SECRET }],
      callbacks: { url: `http://127.0.0.1:${cbPort}/zego/callback`, secret: CB_SECRET, retryGapsMs: [200, 400] },
    });
  }, 30_000);
  afterEach(async () => {
    await stopAll();
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('discovery capped: more mix_starts than max_mix_tasks → the cap holds, the refused are counted; a stopped one is forgotten and makes room', async () => {
    const m = await startExporter(
      `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  timeout: 2s\n` +
        // streams: is required unless rooms or mix tasks are listed (discovery alone is not enough).
        `streams: [host]\ncallbacks:\n  secret: \${CB}\n  listen_address: 127.0.0.1:${cbPort}\n` +
        `  discover:\n    mix_task_patterns: ["show-*"]\n    max_mix_tasks: 3\n    forget_after: 2s\n`,
      { env: { S: SECRET, CB: CB_SECRET }, logLevel: 'info' },
    );
    for (let i = 1; i <= 5; i++) sim.startMix(`show-${i}`, { inputs: [`in-${i}`] });
    sim.startMix('other', { inputs: ['in-x'] });
    const id = (n: number): string => `${APP_ID}:show-${n}`;
    let x = await eventually(
      () => scrape(m.url),
      (s) =>
        s.get('zego_exporter_discovery_refused_total{source="mix_callback"}') === 2 &&
        [1, 2, 3].every((n) => s.get(`zego_mix_task_probe_success{task_id="${id(n)}"}`) === 1),
      10_000,
      100,
    );
    expect(x.get('zego_exporter_discovered{source="mix_callback"}')).toBe(3);
    expect(x.get('zego_exporter_mix_tasks_watched')).toBe(3);
    // Watched by task_id as ZEGO sent it, polled as the customer's TaskId (the simulator knows no other): running.
    for (const n of [1, 2, 3]) expect(x.get(`zego_mix_task_active{task_id="${id(n)}"}`)).toBe(1);
    for (const n of [4, 5]) expect(x.has(`zego_mix_task_active{task_id="${id(n)}"}`)).toBe(false);
    expect([...x.keys()].some((k) => k.includes('other'))).toBe(false);
    expect(x.get('zego_exporter_callbacks_total{event="mix_start",result="accepted"}')).toBe(3);
    expect(x.get('zego_exporter_callbacks_total{event="mix_start",result="unwatched"}')).toBe(3);

    // mix_stop ends one; after forget_after it is forgotten, and the next mix_start takes its place.
    sim.stopMix('show-1');
    x = await eventually(
      () => scrape(m.url),
      (s) => !s.has(`zego_mix_task_active{task_id="${id(1)}"}`),
      8000,
      100,
    );
    expect(x.get(`zego_mix_task_active{task_id="${id(2)}"}`)).toBe(1);
    sim.startMix('show-6', { inputs: ['in-6'] });
    x = await eventually(
      () => scrape(m.url),
      (s) => s.get(`zego_mix_task_active{task_id="${id(6)}"}`) === 1,
      5000,
      100,
    );
    expect(x.get('zego_exporter_discovered{source="mix_callback"}')).toBe(3);
    expect(x.get('zego_exporter_discovery_refused_total{source="mix_callback"}')).toBe(2);
  }, 60_000);
});
