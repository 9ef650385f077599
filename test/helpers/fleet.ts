import { startFleetHarness, type FleetHarness } from '../../bench/callbacks-fleet.js';
import { eventually, scrape } from './exporter-process.js';

/**
 * `n` replicas sharing callbacks through a real Redis (bench/callbacks-fleet.ts), returned once
 * every replica's fan-out reads the shared stream (`zego_exporter_callbacks_fanout_connected` 1),
 * so the first callback a test posts reaches them all. A fleet that never connects is stopped.
 */
export async function startConnectedFleet(n: number, streams: string[], opts: Parameters<typeof startFleetHarness>[2] = {}): Promise<FleetHarness> {
  const h = await startFleetHarness(n, streams, opts);
  try {
    await eventually(
      () => Promise.all(h.replicas.map((r) => scrape(r.url))),
      (all) => all.every((m) => m.get('zego_exporter_callbacks_fanout_connected') === 1),
      5000,
    );
  } catch (err) {
    await h.stop();
    throw err;
  }
  return h;
}
