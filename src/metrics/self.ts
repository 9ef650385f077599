import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { CallbackEventLabel, CallbackResultLabel } from '../callbacks/labels.js';
import { outcomeLabel, type ProbeResult } from '../zego/outcome.js';
import { familyHeader, formatLabels, formatValue, sampleName, type Format, type MetricType } from './exposition.js';

/** Read at scrape time from the running parts; never computed on the probe path. */
export interface ExporterStatus {
  rateLimit: number;
  rateLimitConfigured: number;
  queueLength: number;
  achievableRefreshSec: number;
  /** What the budget yields at the measured latency L: rate_limit / (1 + L) (see Budget.achievableRate). */
  achievableProbesPerSec: number;
  demandPerSec: number;
  streamsWatched: number;
  slotsHeld: number;
  clockOffsetSec: number;
  reloadSuccessful: boolean;
  reloadSuccessTimestampSec: number;
  /** Probes that contradicted a callback's state, since start. */
  callbackDisagreements: number;
}

/** A gauge an optional feature adds (see parts/part.ts), read at scrape time. */
export interface ExtraGauge {
  name: string;
  help: string;
  read(): number;
}

export interface BuildInfo {
  version: string;
  revision: string;
}

/** The exporter's own metrics, kept in a registry of its own (never prom-client's global one). */
export class SelfMetrics {
  readonly registry = new Registry();
  #status: ExporterStatus | undefined;
  readonly #requests: Counter<'code' | 'outcome'>;
  readonly #duration: Histogram;
  readonly #callbacks: Counter<'event' | 'result'>;

  constructor(readStatus: () => ExporterStatus, build: BuildInfo, extraGauges: readonly ExtraGauge[] = []) {
    // Read once per scrape (render() clears it), not once per gauge: all of them show one moment.
    const status = (): ExporterStatus => (this.#status ??= readStatus());
    const registers = [this.registry];
    this.#requests = new Counter({
      name: 'zego_exporter_api_requests_total',
      help: 'DescribeRTCStreamState calls by ZEGO result code (or timeout/network/http_5xx/bad_response) and what the exporter read from them.',
      labelNames: ['code', 'outcome'],
      registers,
    });
    // Series that dashboards and alerts divide by or compare against exist from the start at 0,
    // rather than appearing with the first such answer.
    for (const [code, outcome] of [
      ['0', 'active'],
      ['41006', 'closed'],
      ['41004', 'not_found'],
      ['30002', 'throttled'],
    ] as const) {
      this.#requests.inc({ code, outcome }, 0);
    }
    this.#duration = new Histogram({
      name: 'zego_exporter_api_request_duration_seconds',
      help: 'Duration of DescribeRTCStreamState calls, from send to the end of the response.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#callbacks = new Counter({
      name: 'zego_exporter_callbacks_total',
      help: 'ZEGO stream callbacks received, by event and what became of them: accepted (state changed), duplicate, stale (older than what is known), unwatched, ignored (other events), bad_signature, expired (timestamp outside the window), replayed (nonce reused with another body), wrong_app, malformed, too_large, overloaded (refused with 503: request bodies in flight over the process budget).',
      labelNames: ['event', 'result'],
      registers,
    });
    for (const event of ['stream_create', 'stream_close'] as const) {
      for (const result of ['accepted', 'stale', 'bad_signature'] as const) this.#callbacks.inc({ event, result }, 0);
    }
    new Counter({
      name: 'zego_exporter_callback_disagreements_total',
      help: 'Probes sent after a callback that contradicted its state (the probe wins); a steady rise means callbacks and the API see different streams.',
      registers,
      collect() {
        this.reset();
        this.inc(status().callbackDisagreements);
      },
    });
    const gauge = (name: string, help: string, read: (s: ExporterStatus) => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(status()));
        },
      });
    };
    gauge(
      'zego_exporter_rate_limit',
      'API calls per second the exporter paces itself at now (configured rate_limit less throttling back-off).',
      (s) => s.rateLimit,
    );
    gauge('zego_exporter_rate_limit_configured', 'Configured rate_limit: API calls per second this exporter may spend.', (s) => s.rateLimitConfigured);
    gauge('zego_exporter_queue_length', 'Streams past their due time waiting for a slot in the budget.', (s) => s.queueLength);
    gauge(
      'zego_exporter_achievable_refresh_seconds',
      'Slowest refresh interval any watched stream gets from the budget (budget math at the current rate).',
      (s) => s.achievableRefreshSec,
    );
    gauge(
      'zego_exporter_achievable_probes_per_second',
      'API calls per second the budget yields at the measured call latency L (send to end of response): rate_limit / (1 + L), each call holding its slot until 1 s after its response.',
      (s) => s.achievableProbesPerSec,
    );
    gauge('zego_exporter_demand_probes_per_second', 'API calls per second the configured intervals ask for (sum of 1/interval).', (s) => s.demandPerSec);
    gauge('zego_exporter_streams_watched', 'Streams the exporter watches.', (s) => s.streamsWatched);
    gauge('zego_exporter_budget_slots_held', 'Budget slots held: calls in flight plus calls within 1 s of their response.', (s) => s.slotsHeld);
    gauge('zego_exporter_clock_offset_seconds', "ZEGO server clock minus this host's, learned from timestamp errors.", (s) => s.clockOffsetSec);
    gauge('zego_exporter_config_last_reload_successful', 'Whether the last configuration reload attempt succeeded.', (s) => (s.reloadSuccessful ? 1 : 0));
    gauge(
      'zego_exporter_config_last_reload_success_timestamp_seconds',
      'Unix time of the last successful configuration load.',
      (s) => s.reloadSuccessTimestampSec,
    );
    for (const g of extraGauges) gauge(g.name, g.help, () => g.read());
    const info = new Gauge({
      name: 'zego_exporter_build_info',
      help: 'Build information of the exporter; value is always 1.',
      labelNames: ['version', 'revision', 'nodejs'],
      registers,
    });
    info.set({ version: build.version, revision: build.revision, nodejs: process.version }, 1);
    collectDefaultMetrics({ register: this.registry });
    // prom-client's `nodejs_active_*_total` are gauges named like counters (promtool check metrics
    // flags them); each is the sum of its per-type `nodejs_active_*` gauge, so nothing is lost.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(name);
    }
  }

  observe(result: ProbeResult): void {
    this.#requests.inc({ code: result.code, outcome: outcomeLabel(result.outcome) });
    this.#duration.observe(result.durationMs / 1000);
  }

  observeCallback(event: CallbackEventLabel, result: CallbackResultLabel): void {
    this.#callbacks.inc({ event, result });
  }

  async render(format: Format): Promise<string> {
    this.#status = undefined;
    const families = await this.registry.getMetricsAsJSON();
    let out = '';
    for (const f of families) out += renderFamily(f, format);
    return out;
  }
}

function renderFamily(f: MetricObjectWithValues<MetricValue<string>>, format: Format): string {
  const type = String(f.type) as MetricType;
  let out = familyHeader(f.name, f.help, type, format);
  for (const v of f.values) {
    const name = sampleName((v as { metricName?: string }).metricName ?? f.name, type, format);
    out += `${name}${formatLabels(v.labels as Record<string, string | number>)} ${formatValue(v.value)}\n`;
  }
  return out;
}
