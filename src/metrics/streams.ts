import type { StreamState } from '../state/store.js';
import { familyHeader, formatLabels, type Format } from './exposition.js';

const FROM_PROBES = 'From background probing of ZEGOCLOUD DescribeRTCStreamState; scrapes never call the API.';

interface Family {
  name: string;
  help: string;
  /** undefined: no sample for this stream (its state is not known yet). */
  value: (s: Readonly<StreamState>, nowSec: number) => number | undefined;
  /** One more label whose value comes from a small fixed set (no escaping needed). */
  label?: { name: string; value: (s: Readonly<StreamState>) => string | null };
}

const FAMILIES: readonly Family[] = [
  {
    name: 'zego_stream_active',
    help: `1 if the stream is active, 0 if closed or not found; absent until first known, kept when probes fail. ${FROM_PROBES}`,
    value: (s) => (s.active === null ? undefined : s.active ? 1 : 0),
  },
  {
    name: 'zego_stream_uptime_seconds',
    help: `Seconds since the stream was created (now - create_time at scrape time) while active, else 0. ${FROM_PROBES}`,
    value: (s, now) => (s.active === null ? undefined : s.active && s.createTimeSec !== null ? Math.max(0, now - s.createTimeSec) : 0),
  },
  {
    name: 'zego_stream_start_timestamp_seconds',
    help: `Unix time the stream was created (create_time) while active, else 0. ${FROM_PROBES}`,
    value: (s) => (s.active === null ? undefined : s.active && s.createTimeSec !== null ? s.createTimeSec : 0),
  },
  {
    name: 'zego_stream_probe_success',
    help: 'Whether the last probe of the stream succeeded (1) or failed (0); a failed probe keeps the last known state.',
    value: (s) => (s.probeSuccess ? 1 : 0),
  },
  {
    name: 'zego_stream_last_probe_timestamp_seconds',
    help: 'Unix time of the last completed probe of the stream, successful or not (0 = never).',
    value: (s) => (s.lastProbeMs === null ? 0 : s.lastProbeMs / 1000),
  },
  {
    name: 'zego_stream_last_success_timestamp_seconds',
    help: 'Unix time of the last successful probe of the stream (0 = never).',
    value: (s) => (s.lastSuccessMs === null ? 0 : s.lastSuccessMs / 1000),
  },
  {
    name: 'zego_stream_interval_seconds',
    help: 'Configured refresh interval of the stream.',
    value: (s) => s.intervalMs / 1000,
  },
  {
    name: 'zego_stream_last_close_reason',
    help:
      'Why the stream last closed, from its stream_close callback: 1 on the series whose reason label holds it (normal_stop, heartbeat_timeout, relogin, kicked, tcp_disconnect, room_cleared, deleted, other); absent until a close callback arrives. Kept while the stream is up again.',
    value: (s) => (s.closeReason === null ? undefined : 1),
    label: { name: 'reason', value: (s) => s.closeReason },
  },
  {
    name: 'zego_stream_state_source',
    help: 'Where the current state of the stream came from: 1 on the series whose source label is callback (a ZEGO stream_create/stream_close callback not yet re-checked by a probe) or probe.',
    value: (s) => (s.source === null ? undefined : 1),
    label: { name: 'source', value: (s) => s.source },
  },
];

/**
 * Per-stream families, written straight from the state snapshot. Each stream's label set is
 * formatted once and cached until a reload gives it new labels, so a scrape of 10k streams
 * is string concatenation only.
 */
export class StreamFamilies {
  readonly #labelCache = new WeakMap<Readonly<StreamState>, { labels: object; text: string }>();

  render(streams: Iterable<Readonly<StreamState>>, nowMs: number, format: Format): string {
    const list = Array.isArray(streams) ? (streams as Readonly<StreamState>[]) : [...streams];
    const nowSec = nowMs / 1000;
    const labels = list.map((s) => this.#labels(s));
    // One array joined once: repeated += on a multi-megabyte string leaves ropes for the GC.
    const parts: string[] = [];
    for (const f of FAMILIES) {
      parts.push(familyHeader(f.name, f.help, 'gauge', format));
      for (let i = 0; i < list.length; i++) {
        const v = f.value(list[i]!, nowSec);
        if (v === undefined) continue;
        const extra = f.label?.value(list[i]!);
        parts.push(extra ? `${f.name}${labels[i]!.slice(0, -1)},${f.label!.name}="${extra}"} ${v}\n` : `${f.name}${labels[i]} ${v}\n`);
      }
    }
    return parts.join('');
  }

  #labels(s: Readonly<StreamState>): string {
    const hit = this.#labelCache.get(s);
    if (hit && hit.labels === s.labels) return hit.text;
    const text = formatLabels({ stream_id: s.id, ...sortedLabels(s.labels) });
    this.#labelCache.set(s, { labels: s.labels, text });
    return text;
  }
}

function sortedLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
