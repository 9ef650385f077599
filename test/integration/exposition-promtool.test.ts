import { describe, expect, it } from 'vitest';
import { SelfMetrics, type ExporterStatus } from '../../src/metrics/self.js';
import { StreamFamilies } from '../../src/metrics/block-cache.js';
import { initialState, type StreamRecord } from '../../src/state/store.js';
import { promtool } from '../helpers/promtool.js';

const NOW_MS = 1_700_000_100_000;
const NOW_SEC = NOW_MS / 1000;

const STATUS: ExporterStatus = {
  apis: [
    {
      api: 'DescribeRTCStreamState',
      rateLimit: 38,
      rateLimitConfigured: 40,
      queueLength: 2,
      achievableRefreshSec: 12.5,
      achievableCallsPerSec: 30,
      demandPerSec: 3.2,
      slotsHeld: 1,
    },
  ],
  streamsWatched: 4,
  clockOffsetSec: -0.5,
  reloadSuccessful: true,
  reloadSuccessTimestampSec: 1_700_000_000,
  callbackDisagreements: 0,
};

function record(id: string, over: Partial<StreamRecord> = {}): StreamRecord {
  return { ...initialState({ id, intervalMs: 10_000, labels: {} }), ...over };
}

/** Prometheus's own linter over what a scrape returns: the real promtool (a missing one fails the test). */
describe('promtool check metrics', () => {
  it('accepts the text exposition with streams (every family, escaped labels) and self metrics', async () => {
    const self = new SelfMetrics({ status: () => STATUS, build: { version: '1.2.3', revision: 'abc' } });
    self.observe({ code: '0', outcome: { kind: 'active', createTimeSec: 1 }, durationMs: 30, sentAtMs: NOW_MS });
    const list = [
      record('unknown-1', { intervalMs: 30_000 }),
      record('live', {
        labels: { zone: 'eu', app: 'shop' },
        active: true,
        createTimeSec: NOW_SEC - 3600,
        probeSuccess: true,
        lastProbeMs: NOW_MS - 2000,
        lastSuccessMs: NOW_MS - 2000,
        source: 'probe',
      }),
      record('gone', {
        active: false,
        closeTimeSec: NOW_SEC - 60,
        probeSuccess: false,
        lastProbeMs: NOW_MS - 1000,
        closeReason: 'heartbeat_timeout',
        source: 'callback',
      }),
      record('esc', { labels: { note: 'a "q" \\ b\nc' }, active: true, createTimeSec: NOW_SEC - 5, probeSuccess: true }),
    ];
    const exposition = new StreamFamilies().render(list, NOW_MS, 'text') + (await self.render('text'));
    expect(exposition).toContain('zego_stream_last_close_reason{stream_id="gone",reason="heartbeat_timeout"} 1');
    const r = promtool(['check', 'metrics'], { input: exposition });
    expect(r.output.trim()).toBe('');
    expect(r.status).toBe(0);
  });
});
