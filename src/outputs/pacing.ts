/**
 * The outputs' own pacing (they spend no ZEGO budget): each output probed once per interval, the
 * probes of a set spread evenly over their interval so 600 outputs at 15 s start 40 a second
 * rather than 600 at once, and at most `concurrency` running at any moment. A probe due while
 * the slots are full waits, earliest due first; an output that fell behind by a whole interval
 * skips the probes it missed instead of bursting to catch up.
 */

export interface PacedOutput {
  readonly key: string;
  readonly intervalMs: number;
}

export interface PacingOptions {
  now: () => number;
  /** Probes one output; the slot is held until it settles (it should not reject: a rejection is reported to onError). */
  run: (key: string) => Promise<void>;
  concurrency: number;
  onError?: (key: string, err: unknown) => void;
}

interface Entry {
  key: string;
  intervalMs: number;
  dueMs: number;
  /** Index in the heap; -1 while running or removed. */
  at: number;
  running: boolean;
  removed: boolean;
}

export class PacingScheduler {
  readonly #now: () => number;
  readonly #run: (key: string) => Promise<void>;
  readonly #onError: ((key: string, err: unknown) => void) | undefined;
  #concurrency: number;
  readonly #entries = new Map<string, Entry>();
  /** Entries not running, ordered by due time (a binary min-heap). */
  readonly #heap: Entry[] = [];
  #running = 0;
  #timer: NodeJS.Timeout | null = null;
  #started = false;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(opts: PacingOptions) {
    this.#now = opts.now;
    this.#run = opts.run;
    this.#onError = opts.onError;
    this.#concurrency = Math.max(1, opts.concurrency);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Probes running now. */
  get running(): number {
    return this.#running;
  }

  /** Outputs whose probe is due and waiting for a slot. */
  get waiting(): number {
    const now = this.#now();
    let n = 0;
    for (const e of this.#heap) if (e.dueMs <= now) n++;
    return n;
  }

  /** Probes per second the set asks for: Σ 1/interval. */
  get demandPerSec(): number {
    let d = 0;
    for (const e of this.#entries.values()) d += 1000 / e.intervalMs;
    return d;
  }

  setConcurrency(n: number): void {
    this.#concurrency = Math.max(1, n);
    this.#pump();
  }

  /**
   * The outputs to probe: kept ones keep their schedule (a changed interval applies from their
   * next probe); new ones are spread evenly over their interval from now, in the order given.
   */
  setOutputs(list: readonly PacedOutput[]): void {
    const wanted = new Set(list.map((o) => o.key));
    for (const [key, e] of this.#entries) if (!wanted.has(key)) this.#remove(e);
    const added = list.filter((o) => !this.#entries.has(o.key));
    const now = this.#now();
    added.forEach((o, i) => {
      const e: Entry = {
        key: o.key,
        intervalMs: o.intervalMs,
        dueMs: now + Math.floor((i * o.intervalMs) / added.length),
        at: -1,
        running: false,
        removed: false,
      };
      this.#entries.set(o.key, e);
      this.#push(e);
    });
    for (const o of list) {
      const e = this.#entries.get(o.key);
      if (e) e.intervalMs = o.intervalMs;
    }
    this.#pump();
  }

  start(): void {
    this.#started = true;
    this.#pump();
  }

  /** No new probes; resolves when those running settle or `graceMs` passed. */
  async stop(graceMs = 0): Promise<void> {
    this.#started = false;
    this.#clearTimer();
    if (this.#inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.#inFlight]), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
  }

  /** Starts every due probe a slot allows, then sleeps until the next one is due. */
  #pump(): void {
    if (!this.#started) return;
    const now = this.#now();
    while (this.#running < this.#concurrency && this.#heap.length > 0 && this.#heap[0]!.dueMs <= now) {
      const e = this.#pop();
      this.#start(e, now);
    }
    this.#clearTimer();
    // With every slot taken, the next settle pumps again: no timer needed.
    if (this.#running >= this.#concurrency || this.#heap.length === 0) return;
    const next = this.#heap[0]!.dueMs;
    this.#timer = setTimeout(
      () => {
        this.#timer = null;
        this.#pump();
      },
      Math.max(0, next - now),
    );
    this.#timer.unref?.();
  }

  #start(e: Entry, now: number): void {
    e.running = true;
    this.#running++;
    // The next probe is one interval after this one was due; one that is a whole interval late starts the grid again from now.
    e.dueMs = e.dueMs + e.intervalMs <= now ? now + e.intervalMs : e.dueMs + e.intervalMs;
    let p: Promise<void>;
    try {
      p = this.#run(e.key);
    } catch (err) {
      p = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const done: Promise<void> = p
      .catch((err: unknown) => this.#onError?.(e.key, err))
      .finally(() => {
        this.#inFlight.delete(done);
        this.#running--;
        e.running = false;
        if (!e.removed) this.#push(e);
        this.#pump();
      });
    this.#inFlight.add(done);
  }

  #remove(e: Entry): void {
    e.removed = true;
    this.#entries.delete(e.key);
    if (!e.running && e.at >= 0) this.#removeAt(e.at);
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  // The heap, by dueMs.
  #push(e: Entry): void {
    e.at = this.#heap.length;
    this.#heap.push(e);
    this.#up(e.at);
  }

  #pop(): Entry {
    const top = this.#heap[0]!;
    this.#removeAt(0);
    return top;
  }

  #removeAt(i: number): void {
    const gone = this.#heap[i]!;
    const last = this.#heap.pop()!;
    gone.at = -1;
    if (last === gone) return;
    this.#heap[i] = last;
    last.at = i;
    this.#down(i);
    this.#up(last.at);
  }

  #up(i: number): void {
    const h = this.#heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.dueMs <= h[i]!.dueMs) break;
      this.#swap(i, p);
      i = p;
    }
  }

  #down(i: number): void {
    const h = this.#heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l]!.dueMs < h[m]!.dueMs) m = l;
      if (r < h.length && h[r]!.dueMs < h[m]!.dueMs) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }

  #swap(a: number, b: number): void {
    const h = this.#heap;
    const x = h[a]!;
    h[a] = h[b]!;
    h[b] = x;
    h[a].at = a;
    h[b].at = b;
  }
}
