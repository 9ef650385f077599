import type { IncomingMessage, ServerResponse } from 'node:http';
import { callbacksPart } from '../callbacks/part.js';
import type { Config } from '../config/types.js';
import type { LandingTable } from '../http/landing.js';
import type { Format } from '../metrics/exposition.js';
import type { ExtraGauge } from '../metrics/self.js';
import { mixPart } from '../mix/part.js';
import { outputsPart } from '../outputs/part.js';
import { roomsPart } from '../rooms/part.js';
import { webConfigPart } from '../http/web-part.js';
import type { Part, PartContext, PartFactory } from './part.js';

/**
 * Every optional feature, in start order (stopped in reverse): adding one is its folder plus one
 * line here. Fleet mode is not a part: it is the API service's backend (fleet/). Rooms come
 * before callbacks: a stream both find carries its room's labels. The web config's part is on with
 * --web.config.file.
 */
export const PARTS: readonly PartFactory[] = [roomsPart, callbacksPart, mixPart, outputsPart, webConfigPart];

/** The parts this config turns on, driven and read as one. */
export class Parts {
  readonly list: readonly Part[];

  constructor(config: Config, ctx: PartContext, factories: readonly PartFactory[] = PARTS) {
    this.list = factories.map((f) => f(config, ctx)).filter((p) => p !== null);
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
