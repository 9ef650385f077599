import { connectionsShed, SHED_REASONS } from '../http/connection-cap.js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { CallResult } from '../api/actions.js';
import type { ApiBudgetStatus } from '../api/service.js';
import { outcomeLabel, type ProbeResult, type RoomStreamsResult, type UserCountResult } from '../zego/outcome.js';
import type { ApiAction } from '../zego/protocol.js';
import { familyHeader, formatLabels, formatValue, sampleName, type Format, type MetricType } from './exposition.js';

/** Read at scrape time from the running parts; never computed on the probe path. */
export interface ExporterStatus {
  /** Every API's budget (the API service's status), DescribeRTCStreamState's first: their series carry `api="<Action>"`. */
  apis: readonly ApiBudgetStatus[];
  streamsWatched: number;
  clockOffsetSec: number;
  reloadSuccessful: boolean;
  reloadSuccessTimestampSec: number;
  /** Probes that contradicted a callback's state, since start. */
  callbackDisagreements: number;
  /** Configuration errors per API and code since start: 1 while one lasts, 0 after. */
  configErrors?: readonly { api: string; code: string; active: boolean }[];
}

export type { ApiBudgetStatus };

/** What any Action's call reports to the self-metrics (the product's three, or a row's own). */
export type ApiCallResult = ProbeResult | RoomStreamsResult | UserCountResult | CallResult;

const STREAM_STATE: ApiAction = 'DescribeRTCStreamState';

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
export interface SelfMetricsOptions {
  /** The exporter's status, read once per scrape. */
  status: () => ExporterStatus;
  build: BuildInfo;
  /** Gauges the parts add (see parts/part.ts). */
  gauges?: readonly ExtraGauge[];
}

export class SelfMetrics {
  readonly registry = new Registry();
  #status: ExporterStatus | undefined;
  readonly #requests: Counter<'api' | 'code' | 'outcome'>;
  readonly #duration: Histogram<'api'>;

  constructor(opts: SelfMetricsOptions) {
    const { status: readStatus, build, gauges: extraGauges = [] } = opts;
    // Read once per scrape (render() clears it), not once per gauge: all of them show one moment.
    const status = (): ExporterStatus => (this.#status ??= readStatus());
    const registers = [this.registry];
    this.#requests = new Counter({
      name: 'zego_exporter_api_requests_total',
      help: 'ZEGO API calls by Action (api), ZEGO result code (or timeout/network/http_5xx/bad_response) and what the exporter read from them.',
      labelNames: ['api', 'code', 'outcome'],
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
      this.#requests.inc({ api: STREAM_STATE, code, outcome }, 0);
    }
    this.#duration = new Histogram({
      name: 'zego_exporter_api_request_duration_seconds',
      help: 'Duration of ZEGO API calls by Action (api), from send to the end of the response.',
      labelNames: ['api'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    new Counter({
      name: 'zego_exporter_http_connections_shed_total',
      help: "Connections closed by the listeners' bounds, by listener (main, callbacks) and reason: per_address (over the connections one address may hold), idle_at_cap (the longest-idle connection, closed to make room at the listener's cap), refused_at_cap (at the cap with every connection in a request), handshake_at_cap (the oldest TLS handshake in progress, at the handshake cap). A rise is a flood or a listener too small for its clients.",
      labelNames: ['listener', 'reason'],
      registers,
      collect() {
        this.reset();
        for (const listener of ['main', 'callbacks'] as const)
          for (const reason of SHED_REASONS) this.inc({ listener, reason }, connectionsShed.get(`${listener}/${reason}`) ?? 0);
      },
    });
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
    // Each API has a budget of its own (the API service's): these carry `api`.
    const budgetGauge = (name: string, help: string, read: (b: ApiBudgetStatus) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['api'],
        registers,
        collect() {
          this.reset();
          for (const b of status().apis) this.set({ api: b.api }, read(b));
        },
      });
    };
    budgetGauge(
      'zego_exporter_rate_limit',
      'API calls per second the exporter paces itself at now, per API (configured budget less throttling back-off).',
      (b) => b.rateLimit,
    );
    budgetGauge(
      'zego_exporter_rate_limit_configured',
      'Configured budget per API (rate_limit for DescribeRTCStreamState): calls per second this exporter may spend.',
      (b) => b.rateLimitConfigured,
    );
    budgetGauge('zego_exporter_queue_length', 'Calls past their due time waiting for a slot in their API budget.', (b) => b.queueLength);
    budgetGauge(
      'zego_exporter_achievable_refresh_seconds',
      'Slowest refresh interval any watched stream (or room) gets from its API budget (budget math at the current rate).',
      (b) => b.achievableRefreshSec,
    );
    budgetGauge(
      'zego_exporter_achievable_probes_per_second',
      'API calls per second the budget yields at the measured call latency L (send to end of response): rate_limit / (1 + L), each call holding its slot until 1 s after its response.',
      (b) => b.achievableCallsPerSec,
    );
    budgetGauge(
      'zego_exporter_demand_probes_per_second',
      'API calls per second the configured intervals ask for (sum of 1/interval), per API.',
      (b) => b.demandPerSec,
    );
    new Gauge({
      name: 'zego_exporter_api_config_error',
      help: 'ZEGO answered this API with a configuration error (a code no retry fixes: service not enabled, unknown AppID, IsTest, no permission): 1 while it lasts, 0 once the API answers otherwise. Absent until one happens.',
      labelNames: ['api', 'code'],
      registers,
      collect() {
        this.reset();
        for (const e of status().configErrors ?? []) this.set({ api: e.api, code: e.code }, e.active ? 1 : 0);
      },
    });
    gauge('zego_exporter_streams_watched', 'Streams the exporter watches.', (s) => s.streamsWatched);
    budgetGauge('zego_exporter_budget_slots_held', 'Budget slots held per API: calls in flight plus calls within 1 s of their response.', (b) => b.slotsHeld);
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

  /** One call of `api` (DescribeRTCStreamState unless named). */
  observe(result: ApiCallResult, api: string = STREAM_STATE): void {
    this.#requests.inc({ api, code: result.code, outcome: outcomeLabel(result.outcome) });
    this.#duration.observe({ api }, result.durationMs / 1000);
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
