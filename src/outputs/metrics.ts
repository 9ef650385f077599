import { familyHeader, formatLabels, formatValue, sampleName, type Format } from '../metrics/exposition.js';
import type { OutputLayer } from './diagnosis.js';
import type { OutputState } from './output-state.js';
import { OUTPUT_FAILURE_REASONS, type OutputFailureReason, type OutputKind } from './types.js';

/** One output as the renderer reads it. */
export interface OutputRow {
  /** The URL without its query string: the `output` label. */
  name: string;
  kind: OutputKind;
  https: boolean;
  intervalMs: number;
  labels: Readonly<Record<string, string>>;
  streamId: string | undefined;
  mixTask: string | undefined;
  state: OutputState;
  layer: OutputLayer | null;
}

interface Family {
  name: string;
  help: string;
  value: (o: OutputRow, nowMs: number) => number | undefined;
}

const FROM_PROBES = 'From background probes of the output as a viewer plays it; scrapes never fetch it.';

/** The per-output gauges, names fixed by issue 24, labelled output, kind and the output's labels. */
const FAMILIES: readonly Family[] = [
  {
    name: 'zego_output_up',
    help: `Whether the output plays (1: live and fresh) or not (0: the reason is in zego_output_failures_total); absent until a probe reached it; a probe that cannot reach the CDN keeps the last value. ${FROM_PROBES}`,
    value: (o) => (o.state.up === null ? undefined : o.state.up ? 1 : 0),
  },
  {
    name: 'zego_output_probe_success',
    help: 'Whether the last probe reached the CDN (1; up or down) or could not (0: DNS, connect, TLS or no answer in time: the state is the last known); absent before the first.',
    value: (o) => (o.state.probeSuccess === null ? undefined : o.state.probeSuccess ? 1 : 0),
  },
  {
    name: 'zego_output_last_success_timestamp_seconds',
    help: 'Unix time the last probe that reached the CDN ended (0 = never).',
    value: (o) => (o.state.lastSuccessMs === null ? 0 : o.state.lastSuccessMs / 1000),
  },
  {
    name: 'zego_output_interval_seconds',
    help: 'How often the output is probed.',
    value: (o) => o.intervalMs / 1000,
  },
  {
    name: 'zego_output_media_age_seconds',
    help: 'Seconds since the media last advanced: the HLS media sequence or last segment, or the HTTP-FLV timestamps; absent until seen.',
    value: (o, now) => (o.state.mediaAdvancedAtMs === null ? undefined : Math.max(0, (now - o.state.mediaAdvancedAtMs) / 1000)),
  },
  {
    name: 'zego_output_first_byte_seconds',
    help: "Time from the probe's first request to the first byte of the playlist or the FLV stream, in the last probe that got one.",
    value: (o) => o.state.firstByteSeconds ?? undefined,
  },
  {
    name: 'zego_output_bitrate_bits_per_second',
    help: 'HTTP-FLV: bits received per second over the probe window; HLS: the newest segment size divided by its duration.',
    value: (o) => o.state.bitrateBps ?? undefined,
  },
  {
    name: 'zego_output_target_duration_seconds',
    help: 'HLS: the media playlist EXT-X-TARGETDURATION.',
    value: (o) => (o.kind === 'hls' ? (o.state.targetDurationSeconds ?? undefined) : undefined),
  },
];

const TLS = 'zego_output_tls_not_after_timestamp_seconds';
const TLS_HELP = "HTTPS outputs: the CDN server certificate's notAfter (Unix time); labelled output only.";

/**
 * The reason series every output has from the start, so that rate() sees their first failure: the
 * ones any output meets (a CDN away, an output gone). The others appear with their first count:
 * pre-rendering all 14 for 600 outputs would make them 80% of a scrape's bytes.
 */
const ALWAYS: readonly OutputFailureReason[] = ['unreachable', 'not_found'];

const FAILURES = 'zego_output_failures_total';
const FAILURES_HELP =
  'Probes that found the output down or could not reach it, by reason (docs/outputs.md#reasons): unreachable, timeout, not_found, http_status, redirect, too_large, bad_playlist, endlist, stale, regression, bad_segment, bad_flv, no_media, no_keyframe.';
const INFO = 'zego_output_info';
const INFO_HELP = 'The output, its kind and what feeds it (stream_id, mix_task; empty when not known); always 1.';
const DIAGNOSIS = 'zego_output_diagnosis';
const DIAGNOSIS_HELP =
  'The first layer that fails for the output (docs/outputs.md#diagnosis): publisher (the feeding stream, or the mix task room streams), mixer (the mix task), delivery (the output itself) or none; always 1, absent until the output state is known.';

/** Every family of every output; rendered on each scrape (outputs are hundreds, not tens of thousands). */
export function renderOutputs(rows: readonly OutputRow[], nowMs: number, format: Format): string {
  if (rows.length === 0) return '';
  const labels = rows.map((o) => formatLabels({ output: o.name, kind: o.kind, ...o.labels }));
  let out = '';
  for (const f of FAMILIES) {
    let body = '';
    rows.forEach((o, i) => {
      const v = f.value(o, nowMs);
      if (v !== undefined) body += `${f.name}${labels[i]!} ${formatValue(v)}\n`;
    });
    if (body !== '') out += familyHeader(f.name, f.help, 'gauge', format) + body;
  }
  let tls = '';
  for (const o of rows)
    if (o.https && o.state.tlsNotAfterMs !== null) tls += `${TLS}{output="${escape(o.name)}"} ${formatValue(o.state.tlsNotAfterMs / 1000)}\n`;
  if (tls !== '') out += familyHeader(TLS, TLS_HELP, 'gauge', format) + tls;
  out += familyHeader(FAILURES, FAILURES_HELP, 'counter', format);
  const failures = sampleName(FAILURES, 'counter', format);
  for (const o of rows) {
    const prefix = `${failures}{output="${escape(o.name)}",reason="`;
    for (const reason of OUTPUT_FAILURE_REASONS) {
      const n = o.state.failures[reason];
      if (n > 0 || ALWAYS.includes(reason)) out += `${prefix}${reason}"} ${n}\n`;
    }
  }
  out += familyHeader(INFO, INFO_HELP, 'gauge', format);
  for (const o of rows) out += `${INFO}${formatLabels({ output: o.name, kind: o.kind, stream_id: o.streamId ?? '', mix_task: o.mixTask ?? '' })} 1\n`;
  let diag = '';
  for (const o of rows) if (o.layer !== null) diag += `${DIAGNOSIS}${formatLabels({ output: o.name, layer: o.layer })} 1\n`;
  if (diag !== '') out += familyHeader(DIAGNOSIS, DIAGNOSIS_HELP, 'gauge', format) + diag;
  return out;
}

function escape(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}
