import { Secret } from '../../src/config/secret.js';
import type { CallbacksConfig, Config, ProbeConfig, StreamConfig, ZegoConfig } from '../../src/config/types.js';

/** An address nothing answers on: unit tests hand the client a MockAgent, or expect no call at all. */
export const TEST_ENDPOINT = 'http://127.0.0.1:9';
export const TEST_SERVER_SECRET = '0123456789abcdef0123456789abcdef';

export interface TestConfigOptions {
  /** Stream ids (each at `streamIntervalMs`, with `streamLabels`), or full stream entries. */
  streams?: readonly (string | StreamConfig)[];
  /** Interval of the streams given by id (default 10 s). */
  streamIntervalMs?: number;
  /** Labels of the streams given by id (default none). */
  streamLabels?: Record<string, string>;
  zego?: Partial<ZegoConfig>;
  probe?: Partial<ProbeConfig>;
  /** The rest of the config as it is (callbacks, fleet, rooms). */
  extra?: Omit<Partial<Config>, 'zego' | 'probe' | 'streams'>;
}

/**
 * A validated Config as the loader would return it, for unit tests that build the Exporter or a
 * part without a file: production limits (rate_limit 10, stream list 40, user count 8), a 2 s
 * timeout, the default probe interval of 10 s and no rooms, callbacks or fleet unless given.
 */
export function testConfig(opts: TestConfigOptions = {}): Config {
  const intervalMs = opts.streamIntervalMs ?? 10_000;
  const labels = opts.streamLabels ?? {};
  return {
    zego: {
      appId: 1234,
      serverSecret: new Secret(TEST_SERVER_SECRET),
      endpoint: TEST_ENDPOINT,
      isTest: false,
      rateLimit: 10,
      streamListRateLimit: 40,
      userNumRateLimit: 8,
      mixTaskInfoRateLimit: 80,
      timeoutMs: 2000,
      ...opts.zego,
    },
    probe: { intervalMs: 10_000, maxRoomStreams: 1000, roomStreamsForgetAfterMs: 3_600_000, ...opts.probe },
    streams: (opts.streams ?? []).map((s) => (typeof s === 'string' ? { id: s, intervalMs, labels: { ...labels } } : s)),
    ...opts.extra,
  };
}

/** The callbacks section as the loader fills its defaults (a listener of its own on a random port, no TLS). */
export function testCallbacks(secret: string, over: Partial<CallbacksConfig> = {}): CallbacksConfig {
  return {
    secret: new Secret(secret),
    path: '/zego/callback',
    listenAddress: '127.0.0.1:0',
    listenAddressDefault: false,
    tls: 'off',
    fanoutAcceptUnsigned: false,
    ...over,
  };
}
