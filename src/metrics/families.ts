import type { StreamRecord } from '../state/store.js';

const FROM_PROBES = 'From background probing of ZEGOCLOUD DescribeRTCStreamState; scrapes never call the API.';

export interface Family {
  name: string;
  help: string;
  /**
   * Gauges only: the block cache encodes a stream's lines once for both text and OpenMetrics,
   * which holds because a gauge's samples are named the same in both (a counter's are not).
   */
  type: 'gauge';
  /** undefined: no sample for this stream (its state is not known yet). */
  value: (s: Readonly<StreamRecord>, nowSec: number) => number | undefined;
  /** The value moves with the clock (uptime): rendered afresh on every scrape, never cached. No extra label. */
  clock?: boolean;
  /** One more label whose value comes from a small fixed set (no escaping needed). */
  label?: { name: string; value: (s: Readonly<StreamRecord>) => string | null };
}

/**
 * The per-stream families, in exposition order: adding a per-stream metric is one entry here.
 * streams.ts renders them (one line per stream with a value) and caches the encoded lines; a
 * value read from anything but the stream's state, or the clock for a `clock` family, would
 * defeat that cache, since it re-encodes a stream only when its state's version changes.
 */
export const FAMILIES: readonly Family[] = [
  {
    name: 'zego_stream_active',
    help: `1 if the stream is active, 0 if closed or not found; absent until first known, kept when probes fail. ${FROM_PROBES}`,
    type: 'gauge',
    value: (s) => (s.active === null ? undefined : s.active ? 1 : 0),
  },
  {
    name: 'zego_stream_uptime_seconds',
    help: `Seconds since the stream was created (now - create_time at scrape time) while active, else 0. ${FROM_PROBES}`,
    type: 'gauge',
    value: (s, now) =>
      s.active === null ? undefined : s.active && s.createTimeSec !== null ? Math.max(0, Math.round((now - s.createTimeSec) * 1000) / 1000) : 0,
    clock: true,
  },
  {
    name: 'zego_stream_start_timestamp_seconds',
    help: `Unix time the stream was created (create_time) while active, else 0. ${FROM_PROBES}`,
    type: 'gauge',
    value: (s) => (s.active === null ? undefined : s.active && s.createTimeSec !== null ? s.createTimeSec : 0),
  },
  {
    name: 'zego_stream_probe_success',
    help: 'Whether the last probe of the stream succeeded (1) or failed (0); a failed probe keeps the last known state.',
    type: 'gauge',
    value: (s) => (s.probeSuccess ? 1 : 0),
  },
  {
    name: 'zego_stream_last_probe_timestamp_seconds',
    help: 'Unix time of the last completed probe of the stream, successful or not (0 = never).',
    type: 'gauge',
    value: (s) => (s.lastProbeMs === null ? 0 : s.lastProbeMs / 1000),
  },
  {
    name: 'zego_stream_last_success_timestamp_seconds',
    help: 'Unix time of the last successful probe of the stream (0 = never).',
    type: 'gauge',
    value: (s) => (s.lastSuccessMs === null ? 0 : s.lastSuccessMs / 1000),
  },
  {
    // The data's age from every source: a stream a callback keeps current is fresh here even when
    // the probe budget reaches it only every N / rate_limit seconds (100 000 streams at 38/s: 44 min).
    name: 'zego_stream_last_update_timestamp_seconds',
    help: 'Unix time the state of the stream was last confirmed, by a successful probe or an applied stream_create / stream_close callback (0 = never); time() - this is its effective refresh (docs/budget.md).',
    type: 'gauge',
    value: (s) => Math.max(s.lastSuccessMs ?? 0, s.callbackAtMs ?? 0) / 1000,
  },
  {
    name: 'zego_stream_interval_seconds',
    help: 'Configured refresh interval of the stream.',
    type: 'gauge',
    value: (s) => s.intervalMs / 1000,
  },
  {
    name: 'zego_stream_last_close_reason',
    help: 'Why the stream last closed, from its stream_close callback: 1 on the series whose reason label holds it (normal_stop, heartbeat_timeout, relogin, kicked, tcp_disconnect, room_cleared, deleted, other); absent until a close callback arrives. Kept while the stream is up again.',
    type: 'gauge',
    value: (s) => (s.closeReason === null ? undefined : 1),
    label: { name: 'reason', value: (s) => s.closeReason },
  },
  {
    name: 'zego_stream_state_source',
    help: 'Where the current state of the stream came from: 1 on the series whose source label is callback (a ZEGO stream_create/stream_close callback not yet re-checked by a probe), probe, or room_list (the stream list of a watched room).',
    type: 'gauge',
    value: (s) => (s.source === null ? undefined : 1),
    label: { name: 'source', value: (s) => s.source },
  },
];
