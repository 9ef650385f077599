import type { Config, OutputProbeSettings } from '../config/types.js';
import { DEFAULT_OUTPUT_PROBE } from '../config/sections/outputs-probe.js';
import type { Format } from '../metrics/exposition.js';
import type { Part, PartContext, PartGauge } from '../parts/part.js';
import { diagnose, mixFeed, roomLiveness, streamFeed, type FeedState, type OutputLayer } from './diagnosis.js';
import { renderOutputs, type OutputRow } from './metrics.js';
import { OutputState } from './output-state.js';
import { PacingScheduler } from './pacing.js';
import { HttpOutputProber } from './prober.js';
import type { OutputProber } from './types.js';

/** Builds the one prober of the process from the `probe.outputs` bounds (its connection pools are sized once, at start). */
export type ProberFactory = (settings: OutputProbeSettings) => OutputProber;

/** The product's prober: HLS and HTTP-FLV over undici, bounded as probe.outputs says. */
export function httpProber(s: OutputProbeSettings): OutputProber {
  const common = { timeoutMs: s.timeoutMs, maxRedirects: s.maxRedirects, flvWindowMs: s.flvWindowMs };
  return new HttpOutputProber({
    limits: { hls: { ...common, maxBytes: s.maxBytes }, flv: { ...common, maxBytes: s.flvMaxBytes } },
    connectionsPerHost: s.connectionsPerHost,
    flvConnectionsPerHost: s.flvConnectionsPerHost,
  });
}

/** The labels of a stream watched only because it feeds an output: it raises no stream alert of its own. */
const FEED_LABELS: Readonly<Record<string, string>> = Object.freeze({ severity: 'none' });

/** What the renderer reads, less the diagnosis (made at scrape time), plus the URL with its query (never rendered). */
interface Output extends Omit<OutputRow, 'layer'> {
  url: string;
}

/**
 * Outputs (issue 24): probes every watched HLS / HTTP-FLV output as a viewer plays it, paced on its
 * own (pacing.ts: no ZEGO budget is spent), keeps each one's state (output-state.ts), renders the
 * zego_output_* families and names the first failing layer (diagnosis.ts) from what the core
 * already knows: the stream state in the store, the mix task through ctx.mix. This file is the
 * lifecycle and the wiring.
 */
export class OutputsPart implements Part {
  readonly name = 'outputs';
  readonly gauges: readonly PartGauge[];
  readonly #ctx: PartContext;
  readonly #prober: OutputProber;
  readonly #pacing: PacingScheduler;
  readonly #outputs = new Map<string, Output>();
  /** Feed streams ever seen active (the diagnosis tells a stream published straight to a CDN from a closed one by it). */
  readonly #everActive = new Set<string>();
  /** Feed streams this part asked discovery to watch. */
  #feeds = new Set<string>();
  #started = false;

  constructor(config: Config, ctx: PartContext, makeProber: ProberFactory = httpProber) {
    this.#ctx = ctx;
    const settings = config.probe.outputs ?? DEFAULT_OUTPUT_PROBE;
    this.#prober = makeProber(settings);
    this.#pacing = new PacingScheduler({
      now: ctx.now,
      concurrency: settings.concurrency,
      run: (name) => this.#probe(name),
      onError: (name, err) => ctx.logger.error({ output: name, err: err instanceof Error ? err.message : String(err) }, 'output probe failed unexpectedly'),
    });
    this.gauges = [
      { name: 'zego_exporter_outputs_watched', help: 'Outputs (HLS, HTTP-FLV) the exporter probes.', read: () => this.#outputs.size },
      {
        name: 'zego_exporter_output_probes_in_flight',
        help: 'Output probes running now (at most probe.outputs.concurrency).',
        read: () => this.#pacing.running,
      },
    ];
    this.#configure(config);
  }

  async start(): Promise<void> {
    // Not in the constructor: the core can watch what is discovered only once every part is built.
    this.#started = true;
    this.#watchFeeds();
    if (this.#outputs.size > 0) {
      const hls = [...this.#outputs.values()].filter((o) => o.kind === 'hls').length;
      this.#ctx.logger.info(
        { outputs: this.#outputs.size, hls, flv: this.#outputs.size - hls, probes_per_sec: Math.round(this.#pacing.demandPerSec * 100) / 100 },
        'probing outputs',
      );
    }
    this.#pacing.start();
  }

  applyConfig(config: Config): void {
    this.#pacing.setConcurrency((config.probe.outputs ?? DEFAULT_OUTPUT_PROBE).concurrency);
    this.#configure(config);
  }

  async stop(graceMs: number): Promise<void> {
    await this.#pacing.stop(graceMs);
    await this.#prober.close();
  }

  metrics(format: Format): string {
    return renderOutputs(this.rows(), this.#ctx.now(), format);
  }

  landing(): string | null {
    if (this.#outputs.size === 0) return null;
    let up = 0;
    let down = 0;
    const layers = new Map<OutputLayer, number>();
    for (const r of this.rows()) {
      if (r.state.up === true) up++;
      if (r.state.up === false) down++;
      if (r.layer !== null && r.layer !== 'none') layers.set(r.layer, (layers.get(r.layer) ?? 0) + 1);
    }
    const failing = [...layers].map(([l, n]) => `${n} ${l}`).join(', ');
    return `Outputs: ${this.#outputs.size} probed, ${up} up, ${down} down${failing === '' ? '' : ` (first failing layer: ${failing})`}.`;
  }

  /** Every output with its diagnosis, as the metrics and the landing page read them. */
  rows(): OutputRow[] {
    const now = this.#ctx.now();
    let rooms: Map<string, boolean> | null = null;
    const roomsLive = (roomId: string): boolean | null => {
      rooms ??= roomLiveness(this.#ctx.store.snapshot());
      return rooms.get(roomId) ?? null;
    };
    return [...this.#outputs.values()].map((o) => ({
      name: o.name,
      kind: o.kind,
      https: o.https,
      intervalMs: o.intervalMs,
      labels: o.labels,
      streamId: o.streamId,
      mixTask: o.mixTask,
      state: o.state,
      layer: diagnose(o.state, this.#feed(o, now, roomsLive)),
    }));
  }

  #feed(o: Output, now: number, roomsLive: (roomId: string) => boolean | null): FeedState | null {
    if (o.streamId !== undefined) {
      const s = this.#ctx.store.get(o.streamId);
      if (s?.active === true) this.#everActive.add(o.streamId);
      return streamFeed(s, this.#everActive.has(o.streamId));
    }
    if (o.mixTask !== undefined) return mixFeed(this.#ctx.mix?.task(o.mixTask, now) ?? null, roomsLive);
    return null;
  }

  async #probe(name: string): Promise<void> {
    const o = this.#outputs.get(name);
    if (!o) return;
    const outcome = await this.#prober.probe({ url: o.url, kind: o.kind, intervalSeconds: o.intervalMs / 1000 }, o.state.memory, this.#ctx.now());
    // Removed or replaced while its probe ran.
    if (this.#outputs.get(name) !== o) return;
    const was = o.state.up;
    const changed = o.state.apply(outcome, this.#ctx.now());
    if (o.streamId !== undefined) {
      if (this.#ctx.store.get(o.streamId)?.active === true) this.#everActive.add(o.streamId);
      // Held for as long as the output is: discovery may have forgotten it after it ended (O(1) when held).
      this.#ctx.discover(o.streamId, FEED_LABELS, 'output');
    }
    const r = outcome.result;
    if (!r.reached) {
      this.#ctx.logger.debug({ output: o.name, reason: r.reason, detail: r.detail }, 'output probe did not reach the CDN; keeping its last state');
      return;
    }
    if (!changed) return;
    if (r.up) this.#ctx.logger.info({ output: o.name, kind: o.kind }, was === null ? 'output is up' : 'output went up');
    else this.#ctx.logger.warn({ output: o.name, kind: o.kind, reason: r.reason, detail: r.detail }, was === null ? 'output is down' : 'output went down');
  }

  #configure(config: Config): void {
    const list = config.outputs ?? [];
    const wanted = new Set(list.map((c) => c.name));
    for (const name of this.#outputs.keys()) if (!wanted.has(name)) this.#outputs.delete(name);
    for (const c of list) {
      const o = this.#outputs.get(c.name);
      const fields = {
        url: c.url,
        kind: c.kind,
        https: c.url.startsWith('https:'),
        intervalMs: c.intervalMs,
        labels: c.labels,
        streamId: c.streamId,
        mixTask: c.mixTask,
      };
      // Another kind is another probe: its state starts again.
      if (o && o.kind === c.kind) Object.assign(o, fields);
      else this.#outputs.set(c.name, { name: c.name, ...fields, state: new OutputState() });
    }
    this.#pacing.setOutputs(list.map((c) => ({ key: c.name, intervalMs: c.intervalMs })));
    if (this.#started) this.#watchFeeds();
  }

  /** A feed stream nothing else watches is watched through discovery (severity none); one no output names any more is let go. */
  #watchFeeds(): void {
    const feeds = new Set<string>();
    for (const o of this.#outputs.values()) if (o.streamId !== undefined) feeds.add(o.streamId);
    for (const id of this.#feeds) if (!feeds.has(id)) this.#ctx.forget(id, 'output');
    for (const id of feeds) this.#ctx.discover(id, FEED_LABELS, 'output');
    for (const id of this.#everActive) if (!feeds.has(id)) this.#everActive.delete(id);
    this.#feeds = feeds;
  }
}

/** Always built (a reload may add outputs); idle while none is listed. */
export function outputsPart(config: Config, ctx: PartContext): Part {
  return new OutputsPart(config, ctx);
}
