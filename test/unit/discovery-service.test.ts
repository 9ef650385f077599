import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import type { CallbacksConfig, Config } from '../../src/config/types.js';
import type { ProbeResult } from '../../src/zego/outcome.js';
import { discovering } from '../helpers/discovery.js';

const T0 = 1_700_000_000_000;
const MIN = 60_000;

function config(discover: CallbacksConfig['discover'] | null, room = { cap: 10, forgetAfterMs: 10 * MIN }, streams: string[] = []): Config {
  return {
    zego: {
      appId: 1234,
      serverSecret: new Secret('0123456789abcdef0123456789abcdef'),
      endpoint: 'http://127.0.0.1:9',
      isTest: false,
      rateLimit: 10,
      streamListRateLimit: 40,
      userNumRateLimit: 8,
      mixTaskInfoRateLimit: 8,
      timeoutMs: 2000,
    },
    probe: { intervalMs: 15_000, maxRoomStreams: room.cap, roomStreamsForgetAfterMs: room.forgetAfterMs },
    streams: streams.map((id) => ({ id, intervalMs: 10_000, labels: {} })),
    callbacks: {
      secret: new Secret('cb'),
      path: '/zego/callback',
      listenAddress: '127.0.0.1:0',
      listenAddressDefault: false,
      tls: 'off',
      fanoutAcceptUnsigned: false,
      ...(discover ? { discover } : {}),
    },
  };
}

const closed = (at: number): ProbeResult => ({
  outcome: { kind: 'closed', createTimeSec: null, closeTimeSec: at / 1000 },
  code: '0',
  sentAtMs: at,
  durationMs: 1,
});

describe('the discovery service over the config and the store', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("takes each source's cap and forget_after from its own keys, and its sweep runs by itself once started, at a tenth of the shortest", async () => {
    const h = discovering(config({ patterns: ['*'], maxStreams: 1, forgetAfterMs: MIN, streamsSeverity: 'none' }), pino({ level: 'silent' }));
    expect(h.ctx.discover('r', {}, 'room')).toBe('added');
    expect(h.ctx.discover('c', {}, 'callback')).toBe('added');
    // callbacks.discover.max_streams: 1; probe.max_room_streams: 10.
    expect(h.ctx.discover('c2', {}, 'callback')).toBe('full');
    expect(h.ctx.discover('r2', {}, 'room')).toBe('added');
    // The store's state changes time the ends.
    h.store.applyProbe('r', closed(T0));
    h.store.applyProbe('c', closed(T0));
    h.discovery.start();
    await vi.advanceTimersByTimeAsync(MIN + 6000);
    expect(h.store.get('c')).toBeUndefined();
    expect(h.store.get('r')).toBeDefined();
    await vi.advanceTimersByTimeAsync(9 * MIN);
    expect(h.store.get('r')).toBeUndefined();
    expect(h.store.get('r2')).toBeDefined();
    h.discovery.stop();
  });

  it('a reload without callbacks.discover forgets what callbacks found, active or not; listing an id hands it to the config', () => {
    const h = discovering(config({ patterns: ['*'], maxStreams: 5, forgetAfterMs: MIN, streamsSeverity: 'none' }), pino({ level: 'silent' }));
    h.ctx.discover('c', {}, 'callback');
    h.ctx.discover('r', { team: 'x' }, 'room');
    h.reload(config(null, undefined, ['r']), () => undefined);
    expect(h.store.get('c')).toBeUndefined();
    expect(h.ctx.discover('c', {}, 'callback')).toBe('off');
    expect(h.store.get('r')).toMatchObject({ origin: 'config', labels: {} });
    expect(h.ctx.discovered('room').size).toBe(0);
  });

  it('renders the source-labelled gauge and refusal counter in both formats', () => {
    const h = discovering(config(null, { cap: 1, forgetAfterMs: MIN }), pino({ level: 'silent' }));
    h.ctx.discover('a', {}, 'room');
    h.ctx.discover('b', {}, 'room');
    expect(h.discovery.metrics('text')).toBe(
      '# HELP zego_exporter_discovered Things watched because a source discovered them (streams: room, a watched room listed it; callback, a stream_create matched callbacks.discover; mix tasks: mix_callback, a mix_start matched callbacks.discover.mix_task_patterns; output, it feeds a watched output).\n' +
        '# TYPE zego_exporter_discovered gauge\n' +
        'zego_exporter_discovered{source="room"} 1\n' +
        'zego_exporter_discovered{source="callback"} 0\n' +
        'zego_exporter_discovered{source="mix_callback"} 0\n' +
        'zego_exporter_discovered{source="output"} 0\n' +
        "# HELP zego_exporter_discovery_refused_total Discoveries refused because the source's cap was full of active ones (none had ended to make room).\n" +
        '# TYPE zego_exporter_discovery_refused_total counter\n' +
        'zego_exporter_discovery_refused_total{source="room"} 1\n' +
        'zego_exporter_discovery_refused_total{source="callback"} 0\n' +
        'zego_exporter_discovery_refused_total{source="mix_callback"} 0\n' +
        'zego_exporter_discovery_refused_total{source="output"} 0\n',
    );
    expect(h.discovery.metrics('openmetrics')).toContain(
      '# TYPE zego_exporter_discovery_refused counter\nzego_exporter_discovery_refused_total{source="room"} 1\n',
    );
  });
});
