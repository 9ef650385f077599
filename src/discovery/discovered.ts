import type { Logger } from 'pino';
import { EndedQueue } from './ended-queue.js';
import type { DiscoverySource, SourceSettings } from './sources.js';

export type Labels = Readonly<Record<string, string>>;

/**
 * What became of a discovery: `added` (now held by this source), `known` (held already; its labels
 * follow), `listed` (the config lists it: nothing to do), `full` (the cap is full of active ones:
 * refused and counted), `off` (the source is off in the config).
 */
export type DiscoverResult = 'added' | 'known' | 'listed' | 'full' | 'off';

/** What one kind's set needs of the core: watching (the state and the schedule), and when a thing ended. */
export interface KindHooks<S extends DiscoverySource = DiscoverySource> {
  /** Watch `id` with these labels on behalf of `source`; for one watched already, its labels and origin change to these. */
  watch(id: string, labels: Labels, source: S): void;
  /** Nobody holds `id` any more (and the config does not list it): stop watching it. */
  unwatch(id: string): void;
  /** When `id` ended (ms), or null while it is active or not known yet. */
  endedAt(id: string): number | null;
}

/** A thing one source holds. */
interface Entry {
  readonly id: string;
  labels: Labels;
  endedAt: number | null;
  gen: number;
}

/** One source's share: its entries in discovery order, the ended ones in end order, its settings. */
class Source {
  readonly entries = new Map<string, Entry>();
  readonly ended = new EndedQueue<Entry>();
  settings: SourceSettings | null = null;
  /** Discoveries refused because the cap was full of active ones, since start. */
  refused = 0;
  /** The cap's log line is written once until something leaves. */
  fullLogged = false;

  constructor(
    readonly name: DiscoverySource,
    readonly capKey: string,
  ) {}
}

export interface DiscoveredOptions {
  hooks: KindHooks;
  /** This kind's sources and the config key of each one's cap. */
  sources: readonly { name: DiscoverySource; capKey: string }[];
  logger: Logger;
  /** The log field naming one thing (`stream_id`). */
  idField: string;
  /** What one thing is called in log lines (`stream`). */
  noun: string;
}

/**
 * One kind's discovered things over all its sources, and the one rule for them: each source holds
 * at most its cap; at a full cap the thing that ended longest ago makes room, never an active one
 * (all active: the new one is refused and counted); a thing ended for the source's forget_after is
 * forgotten; a cap lowered below what is held forgets ended ones, oldest first, and the rest as they
 * end. Ids the config lists are never held. A thing is watched while any source holds it (or the
 * config lists it), with the labels of the source that found it first. Every step is O(1) or
 * O(log n) in what is held, whatever the burst.
 */
export class Discovered {
  readonly #hooks: KindHooks;
  readonly #log: Logger;
  readonly #idField: string;
  readonly #noun: string;
  readonly #sources = new Map<DiscoverySource, Source>();
  /** Per held id, the sources holding it, the first (its owner: labels and origin) first; in discovery order. */
  readonly #holders = new Map<string, DiscoverySource[]>();
  #listed: ReadonlySet<string> = new Set();

  constructor(opts: DiscoveredOptions) {
    this.#hooks = opts.hooks;
    this.#log = opts.logger;
    this.#idField = opts.idField;
    this.#noun = opts.noun;
    for (const s of opts.sources) this.#sources.set(s.name, new Source(s.name, s.capKey));
  }

  /**
   * The config's listed ids and each source's settings (null: off). A listed id leaves every
   * source (the config watches it now); an off source forgets all it held; a lower cap forgets
   * ended ones, oldest first, until it is kept.
   */
  configure(listed: ReadonlySet<string>, settings: (source: DiscoverySource) => SourceSettings | null): void {
    this.#listed = listed;
    for (const id of [...this.#holders.keys()]) if (listed.has(id)) for (const s of this.#holdersOf(id)) this.#drop(s, s.entries.get(id)!);
    for (const s of this.#sources.values()) {
      s.settings = settings(s.name);
      if (s.settings === null) for (const e of [...s.entries.values()]) this.#drop(s, e);
      else this.#fit(s);
    }
  }

  discover(id: string, labels: Labels, source: DiscoverySource): DiscoverResult {
    const s = this.#source(source);
    const cap = s.settings?.cap;
    if (cap === undefined) return 'off';
    if (this.#listed.has(id)) return 'listed';
    const known = s.entries.get(id);
    if (known) {
      if (known.labels !== labels) {
        known.labels = labels;
        if (this.#holders.get(id)?.[0] === source) this.#hooks.watch(id, labels, source);
      }
      return 'known';
    }
    if (s.entries.size >= cap) {
      const oldest = s.ended.peek();
      if (!oldest) return this.#refuse(s, id, cap);
      this.#log.info(
        { [this.#idField]: oldest.id, source, ended_at: new Date(oldest.endedAt!).toISOString() },
        `forgetting the longest-closed discovered ${this.#noun} to make room`,
      );
      this.#drop(s, oldest);
      if (s.entries.size >= cap) return this.#refuse(s, id, cap);
    }
    const e: Entry = { id, labels, endedAt: null, gen: 0 };
    s.entries.set(id, e);
    const holders = this.#holders.get(id);
    if (holders) holders.push(source);
    else {
      this.#holders.set(id, [source]);
      this.#hooks.watch(id, labels, source);
    }
    // Another source may have watched it for a while: it may have ended already.
    this.#setEnded(s, e, this.#hooks.endedAt(id));
    return 'added';
  }

  forget(id: string, source: DiscoverySource): void {
    const s = this.#source(source);
    const e = s.entries.get(id);
    if (e) this.#drop(s, e);
  }

  /** `id`'s state changed (it ended, or came back): each source holding it re-times it. O(sources). */
  observe(id: string): void {
    const holders = this.#holders.get(id);
    if (!holders) return;
    const endedAt = this.#hooks.endedAt(id);
    for (const name of [...holders]) {
      const s = this.#source(name);
      const e = s.entries.get(id);
      if (!e || e.endedAt === endedAt) continue;
      this.#setEnded(s, e, endedAt);
      // Over a lowered cap every ended one has gone already: this one is the longest-ended.
      if (endedAt !== null && s.settings !== null && s.entries.size > s.settings.cap) this.#drop(s, e);
    }
  }

  /** Forgets what ended at least forget_after ago, per source: returns how many. O(forgotten · log n). */
  sweep(nowMs: number): number {
    let n = 0;
    for (const s of this.#sources.values()) {
      const forgetAfterMs = s.settings?.forgetAfterMs;
      if (forgetAfterMs === undefined) continue;
      for (let e = s.ended.peek(); e && nowMs - e.endedAt! >= forgetAfterMs; e = s.ended.peek()) {
        this.#log.info({ [this.#idField]: e.id, source: s.name }, `forgetting a closed discovered ${this.#noun}`);
        this.#drop(s, e);
        n++;
      }
      s.ended.compact(s.entries.size);
    }
    return n;
  }

  /** What is watched because of discovery, each id once with its owner's labels, in discovery order. */
  *watched(): Iterable<{ id: string; labels: Labels; source: DiscoverySource }> {
    for (const [id, holders] of this.#holders) {
      const source = holders[0]!;
      yield { id, labels: this.#source(source).entries.get(id)!.labels, source };
    }
  }

  /** The ids one source holds, in discovery order. */
  ids(source: DiscoverySource): IterableIterator<string> {
    return this.#source(source).entries.keys();
  }

  has(id: string, source: DiscoverySource): boolean {
    return this.#source(source).entries.has(id);
  }

  size(source: DiscoverySource): number {
    return this.#source(source).entries.size;
  }

  refused(source: DiscoverySource): number {
    return this.#source(source).refused;
  }

  #source(name: DiscoverySource): Source {
    const s = this.#sources.get(name);
    if (!s) throw new Error(`no discovery source ${name} for this kind`);
    return s;
  }

  #holdersOf(id: string): Source[] {
    return (this.#holders.get(id) ?? []).map((n) => this.#source(n));
  }

  #setEnded(s: Source, e: Entry, endedAt: number | null): void {
    e.endedAt = endedAt;
    e.gen++;
    s.ended.push(e);
  }

  #refuse(s: Source, id: string, cap: number): 'full' {
    s.refused++;
    if (!s.fullLogged) {
      s.fullLogged = true;
      this.#log.warn({ source: s.name, [this.#idField]: id, cap }, `${s.capKey} reached: new ones are refused until a watched one ends`);
    }
    return 'full';
  }

  /** Ended ones, oldest first, until the source is within its cap (active ones stay: they go as they end). */
  #fit(s: Source): void {
    const cap = s.settings?.cap ?? 0;
    for (let e = s.ended.peek(); e && s.entries.size > cap; e = s.ended.peek()) this.#drop(s, e);
  }

  #drop(s: Source, e: Entry): void {
    s.entries.delete(e.id);
    e.gen++;
    s.fullLogged = false;
    const holders = this.#holders.get(e.id);
    if (!holders) return;
    const at = holders.indexOf(s.name);
    if (at >= 0) holders.splice(at, 1);
    if (holders.length === 0) {
      this.#holders.delete(e.id);
      if (!this.#listed.has(e.id)) this.#hooks.unwatch(e.id);
    } else if (at === 0 && !this.#listed.has(e.id)) {
      // Its owner let go: the next source's labels and origin take over.
      const next = this.#source(holders[0]!);
      this.#hooks.watch(e.id, next.entries.get(e.id)!.labels, next.name);
    }
  }
}
