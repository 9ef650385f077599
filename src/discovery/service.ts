import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import { familyHeader, formatLabels, sampleName, type Format } from '../metrics/exposition.js';
import { Discovered, type DiscoverResult, type KindHooks, type Labels } from './discovered.js';
import { KINDS, SOURCE_NAMES, SOURCES, type DiscoveryKind, type DiscoverySource, type SourceOf } from './sources.js';

/** What one source holds now (a view, read at once). */
export interface DiscoveredView {
  readonly size: number;
  ids(): Iterable<string>;
  has(id: string): boolean;
}

export interface DiscoveryServiceOptions {
  config: Config;
  logger: Logger;
  now: () => number;
  /** Per kind, how the core watches what is discovered and times its end (a kind without hooks is held but watched by nobody). */
  hooks: { readonly [K in DiscoveryKind]?: KindHooks<SourceOf<K>> };
}

const NO_HOOKS: KindHooks = { watch: () => undefined, unwatch: () => undefined, endedAt: () => null };

/** The sweep runs at a tenth of the shortest forget_after, at least every minute and at most every second. */
const SWEEP_MIN_MS = 1000;
const SWEEP_MAX_MS = 60_000;

/**
 * Discovery as a core service: parts report what they find (`discover`) and what they no longer
 * hold (`forget`), per source; the service keeps each source's cap, evicts and forgets by one rule
 * (discovered.ts) with one sweep, and tells the core what to watch. Sources and kinds are rows of
 * sources.ts.
 */
export class DiscoveryService {
  readonly #now: () => number;
  readonly #kinds: ReadonlyMap<DiscoveryKind, Discovered>;
  #sweepEveryMs: number | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** The period #timer runs at, null while it does not. */
  #timerEveryMs: number | null = null;
  #running = false;

  constructor(opts: DiscoveryServiceOptions) {
    this.#now = opts.now;
    const kinds = new Map<DiscoveryKind, Discovered>();
    for (const kind of Object.keys(KINDS) as DiscoveryKind[]) {
      const sources = SOURCE_NAMES.filter((s) => SOURCES[s].kind === kind).map((name) => ({ name, capKey: SOURCES[name].capKey }));
      kinds.set(
        kind,
        new Discovered({ hooks: opts.hooks[kind] ?? NO_HOOKS, sources, logger: opts.logger, idField: KINDS[kind].idField, noun: KINDS[kind].noun }),
      );
    }
    this.#kinds = kinds;
    this.applyConfig(opts.config);
  }

  /** Listed ids, caps and forget_after from a (re)loaded config; see Discovered.configure. */
  applyConfig(config: Config): void {
    for (const [kind, d] of this.#kinds) d.configure(new Set(KINDS[kind].listed(config)), (s) => SOURCES[s].settings(config));
    const forgetAfter = SOURCE_NAMES.map((s) => SOURCES[s].settings(config)?.forgetAfterMs).filter((ms) => ms !== undefined);
    this.#sweepEveryMs = forgetAfter.length === 0 ? null : Math.min(SWEEP_MAX_MS, Math.max(SWEEP_MIN_MS, Math.min(...forgetAfter) / 10));
    this.#schedule();
  }

  discover(id: string, labels: Labels, source: DiscoverySource): DiscoverResult {
    return this.#of(source).discover(id, labels, source);
  }

  forget(id: string, source: DiscoverySource): void {
    this.#of(source).forget(id, source);
  }

  discovered(source: DiscoverySource): DiscoveredView {
    const d = this.#of(source);
    return { size: d.size(source), ids: () => d.ids(source), has: (id) => d.has(id, source) };
  }

  /** The state of `id` (of `kind`) changed: what the eviction and forget_after rule time. */
  observe(kind: DiscoveryKind, id: string): void {
    this.#kinds.get(kind)?.observe(id);
  }

  /** What is watched because of discovery, in discovery order; the source is the owner (its labels, its origin). */
  watched<K extends DiscoveryKind>(kind: K): Iterable<{ id: string; labels: Labels; source: SourceOf<K> }> {
    // A kind's Discovered holds only that kind's sources (built from SOURCES by kind).
    return (this.#kinds.get(kind)?.watched() ?? []) as Iterable<{ id: string; labels: Labels; source: SourceOf<K> }>;
  }

  /** Sweeps from now on (every few seconds, see SWEEP_*), until stop(). */
  start(): void {
    this.#running = true;
    this.#schedule();
  }

  stop(): void {
    this.#running = false;
    this.#schedule();
  }

  /** Forgets what ended forget_after ago or longer; the timer calls it, a test with a fake clock may too. */
  sweep(): void {
    const now = this.#now();
    for (const d of this.#kinds.values()) d.sweep(now);
  }

  /** `zego_exporter_discovered{source}` and `zego_exporter_discovery_refused_total{source}`, every source listed. */
  metrics(format: Format): string {
    let out = familyHeader(
      'zego_exporter_discovered',
      'Things watched because a source discovered them (streams: room, a watched room listed it; callback, a stream_create matched callbacks.discover; mix tasks: mix_callback, a mix_start matched callbacks.discover.mix_task_patterns; output, it feeds a watched output).',
      'gauge',
      format,
    );
    for (const s of SOURCE_NAMES) out += `zego_exporter_discovered${formatLabels({ source: s })} ${this.#of(s).size(s)}\n`;
    const name = 'zego_exporter_discovery_refused_total';
    out += familyHeader(name, "Discoveries refused because the source's cap was full of active ones (none had ended to make room).", 'counter', format);
    const sample = sampleName(name, 'counter', format);
    for (const s of SOURCE_NAMES) out += `${sample}${formatLabels({ source: s })} ${this.#of(s).refused(s)}\n`;
    return out;
  }

  #of(source: DiscoverySource): Discovered {
    const d = this.#kinds.get(SOURCES[source].kind);
    if (!d) throw new Error(`no discovery kind for source ${source}`);
    return d;
  }

  /** Restarts the timer only when its period changes: reloads more frequent than the sweep must not postpone it forever. */
  #schedule(): void {
    const every = this.#running ? this.#sweepEveryMs : null;
    if (every === this.#timerEveryMs) return;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#timerEveryMs = every;
    if (every === null) return;
    this.#timer = setInterval(() => this.sweep(), every);
    this.#timer.unref();
  }
}
