/** What the queue orders: something that ended at `endedAt`, and a generation that a change bumps. */
export interface Ending {
  endedAt: number | null;
  /** Bumped whenever `endedAt` changes or the thing leaves: older queue nodes of it are then stale. */
  gen: number;
}

interface Node<T extends Ending> {
  item: T;
  endedAt: number;
  gen: number;
  /** Ties on `endedAt` go to the one queued first. */
  seq: number;
}

/**
 * Ended things, the one that ended longest ago first: a binary min-heap with lazy removal (a node
 * whose item changed since, by its `gen`, is skipped when it reaches the top), so a thing that ends,
 * comes back or leaves costs O(log n) and never a pass over the others (100k discovered streams).
 */
export class EndedQueue<T extends Ending> {
  #heap: Node<T>[] = [];
  #seq = 0;

  /** `item` ended at `item.endedAt` (its `gen` already bumped by the caller). */
  push(item: T): void {
    if (item.endedAt === null) return;
    this.#heap.push({ item, endedAt: item.endedAt, gen: item.gen, seq: this.#seq++ });
    this.#up(this.#heap.length - 1);
  }

  /** The item that ended longest ago and is still ended as queued, or undefined. */
  peek(): T | undefined {
    for (;;) {
      const top = this.#heap[0];
      if (!top) return undefined;
      if (top.gen === top.item.gen && top.endedAt === top.item.endedAt) return top.item;
      this.#pop();
    }
  }

  /** Stale nodes pile up while things flap between ended and active: dropped once they outnumber the `live` items. */
  compact(live: number): void {
    if (this.#heap.length <= 2 * live + 64) return;
    const valid = this.#heap.filter((n) => n.gen === n.item.gen && n.endedAt === n.item.endedAt);
    this.#heap = [];
    for (const n of valid) {
      this.#heap.push(n);
      this.#up(this.#heap.length - 1);
    }
  }

  /** Nodes held, stale ones included (for tests of the compaction). */
  get length(): number {
    return this.#heap.length;
  }

  clear(): void {
    this.#heap = [];
  }

  #pop(): void {
    const last = this.#heap.pop();
    if (!last || this.#heap.length === 0) return;
    this.#heap[0] = last;
    this.#down(0);
  }

  #less(a: Node<T>, b: Node<T>): boolean {
    return a.endedAt < b.endedAt || (a.endedAt === b.endedAt && a.seq < b.seq);
  }

  #up(i: number): void {
    const h = this.#heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i]!, h[p]!)) return;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  #down(i: number): void {
    const h = this.#heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.#less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.#less(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
