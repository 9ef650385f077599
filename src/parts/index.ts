import type { IncomingMessage, ServerResponse } from 'node:http';
import { callbacksPart } from '../callbacks/part.js';
import type { Config } from '../config/types.js';
import type { LandingTable } from '../http/landing.js';
import { fleetPart } from '../fleet/part.js';
import type { Format } from '../metrics/exposition.js';
import type { ExtraGauge } from '../metrics/self.js';
import { roomsPart } from '../rooms/part.js';
import { webConfigPart } from '../http/web-part.js';
import type { Gate } from '../scheduler/budget.js';
import type { SharedWork } from '../scheduler/scheduler.js';
import type { WatchedStream } from '../state/store.js';
import type { Part, PartContext, PartFactory } from './part.js';
import { MAX_PARTS, WatchedSet } from './watched.js';

/**
 * Every optional feature, in start order (stopped in reverse): adding one is its folder plus one
 * line here. Fleet comes first: its gate is what the budget asks before every send. Rooms come
 * before callbacks: a stream both find carries its room's labels. The web config's part is on with
 * --web.config.file.
 */
export const PARTS: readonly PartFactory[] = [fleetPart, roomsPart, callbacksPart, webConfigPart];

/**
 * What the Exporter gives the parts as one: a part's single watch changes reach it only when they
 * change what is watched (see WatchedSet), as `watchStart` / `watchStop`.
 */
export interface PartsContext extends Omit<PartContext, 'watchAdded' | 'watchRemoved'> {
  /** Nobody watched this stream: start probing it and showing its series. */
  watchStart(stream: WatchedStream): void;
  /** Nobody watches it any more: stop. */
  watchStop(id: string): void;
}

/** The parts this config turns on, driven and read as one. */
export class Parts {
  readonly list: readonly Part[];
  /** Each part with its bit in #watched (its place among the factories). */
  readonly #numbered: readonly [number, Part][];
  readonly #watched = new WatchedSet();

  constructor(config: Config, ctx: PartsContext, factories: readonly PartFactory[] = PARTS) {
    if (factories.length > MAX_PARTS) throw new Error(`at most ${MAX_PARTS} parts`);
    this.#numbered = factories.map((f, i) => [i, f(config, this.#context(ctx, i))] as const).filter((e): e is [number, Part] => e[1] !== null);
    this.list = this.#numbered.map(([, p]) => p);
  }

  /** The context of part number `n`: its single watch changes pass through #watched under its own bit. */
  #context(ctx: PartsContext, n: number): PartContext {
    const { watchStart, watchStop, ...shared } = ctx;
    return {
      ...shared,
      watchAdded: (w) => {
        if (this.#watched.add(n, w.id)) watchStart(w);
      },
      watchRemoved: (id) => {
        if (this.#watched.remove(n, id)) watchStop(id);
      },
    };
  }

  get gate(): Gate | undefined {
    return this.list.find((p) => p.gate)?.gate;
  }

  get share(): SharedWork | undefined {
    return this.list.find((p) => p.share)?.share;
  }

  get gauges(): ExtraGauge[] {
    return this.list.flatMap((p) => p.gauges ?? []);
  }

  /** In list order; when one rejects, those already started are stopped (in reverse) and the rejection passes on. */
  async start(): Promise<void> {
    const started: Part[] = [];
    try {
      for (const p of this.list) {
        await p.start();
        started.push(p);
      }
    } catch (err) {
      for (const p of started.reverse()) await p.stop(0);
      throw err;
    }
  }

  applyConfig(config: Config): void {
    for (const p of this.list) p.applyConfig(config);
  }

  async stop(graceMs: number): Promise<void> {
    for (const p of [...this.list].reverse()) await p.stop(graceMs);
  }

  /** For the main listener's `extra` hook: the first part that answers the request. */
  readonly route = (req: IncomingMessage, res: ServerResponse): boolean => this.list.some((p) => p.route?.(req, res) === true);

  /**
   * The whole watched set, read afresh: `config` (the config's streams) first, then what each part
   * adds, each id once (the first wins). Single changes after this go through watchAdded/watchRemoved.
   */
  watched(config: readonly WatchedStream[]): WatchedStream[] {
    const byPart: (Iterable<WatchedStream> | undefined)[] = [];
    for (const [n, p] of this.#numbered) byPart[n] = p.watched?.();
    return this.#watched.reset(config, byPart);
  }

  /** `rate` as every part caps it. */
  rateLimit(rate: number): number {
    return this.list.reduce((r, p) => p.rateLimit?.(r) ?? r, rate);
  }

  files(): string[] {
    return this.list.flatMap((p) => p.files?.() ?? []);
  }

  /** SIGHUP or a watched file changed: every part re-reads its own files, at once. */
  async reload(trigger: string): Promise<void> {
    await Promise.all(this.list.map((p) => p.reload?.(trigger)));
  }

  /** The parts' own families for /metrics. */
  metrics(format: Format): string {
    let out = '';
    for (const p of this.list) out += p.metrics?.(format) ?? '';
    return out;
  }

  /** The parts' lines and tables for the landing page, in list order. */
  landing(): { lines: string[]; tables: LandingTable[] } {
    const lines: string[] = [];
    const tables: LandingTable[] = [];
    for (const p of this.list) {
      const l = p.landing?.() ?? null;
      if (typeof l === 'string') lines.push(l);
      else if (l !== null) {
        lines.push(...(l.lines ?? []));
        if (l.table) tables.push(l.table);
      }
    }
    return { lines, tables };
  }
}
