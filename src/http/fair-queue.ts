/** Why push() turned an item away. */
export type Refusal = 'key' | 'full';

/**
 * A bounded queue served by class first (0 is best), and within a class round-robin over keys
 * (remote addresses), so one key's many items wait behind other keys' first ones. When it is full,
 * an item of a better class, or of a key with fewer items waiting, takes the place of the newest
 * item of the key with the most items in the worst class: a flood from some addresses cannot keep
 * a newcomer out. Never grows beyond `max` items, nor `perKeyMax` for one key.
 */
export class FairQueue<T> {
  /** Per class, key → its items in arrival order; a Map's order is the round-robin. */
  readonly #classes: Map<string, T[]>[];
  readonly #perKey = new Map<string, number>();
  readonly #max: number;
  readonly #perKeyMax: number;
  #size = 0;

  constructor(classes: number, max: number, perKeyMax: number) {
    this.#classes = Array.from({ length: classes }, () => new Map<string, T[]>());
    this.#max = max;
    this.#perKeyMax = perKeyMax;
  }

  get size(): number {
    return this.#size;
  }

  /** Queues the item, or says why not; `dropped` is an item pushed out to make room (the caller answers it). */
  push(cls: number, key: string, item: T): { ok: true; dropped?: T } | { ok: false; why: Refusal } {
    const mine = this.#perKey.get(key) ?? 0;
    if (mine >= this.#perKeyMax) return { ok: false, why: 'key' };
    let dropped: T | undefined;
    if (this.#size >= this.#max) {
      dropped = this.#evictFor(cls, mine);
      if (dropped === undefined) return { ok: false, why: 'full' };
    }
    const q = this.#classes[cls]!;
    const list = q.get(key);
    if (list) list.push(item);
    else q.set(key, [item]);
    this.#perKey.set(key, mine + 1);
    this.#size++;
    return dropped === undefined ? { ok: true } : { ok: true, dropped };
  }

  /** The next item: best class first, the key at the head of that class's rotation. */
  shift(): T | undefined {
    for (const q of this.#classes) {
      const first = q.entries().next();
      if (first.done) continue;
      const [key, list] = first.value;
      const item = list.shift()!;
      q.delete(key);
      // Back of the rotation: the other keys of this class go first.
      if (list.length > 0) q.set(key, list);
      this.#take(key);
      return item;
    }
    return undefined;
  }

  /** Moves the key's items waiting in a better class than `cls` to the back of `cls` (its standing fell). */
  demote(key: string, cls: number): void {
    const target = this.#classes[cls]!;
    for (let c = 0; c < cls; c++) {
      const list = this.#classes[c]!.get(key);
      if (list === undefined) continue;
      this.#classes[c]!.delete(key);
      const there = target.get(key);
      if (there) there.push(...list);
      else target.set(key, list);
    }
  }

  /** Every item, emptied out (on close). */
  drain(): T[] {
    const out: T[] = [];
    for (let x = this.shift(); x !== undefined; x = this.shift()) out.push(x);
    return out;
  }

  /** The newest item of the busiest key in the worst class that yields to (cls, a key with `mine` items waiting). */
  #evictFor(cls: number, mine: number): T | undefined {
    for (let c = this.#classes.length - 1; c >= cls; c--) {
      const q = this.#classes[c]!;
      let victim: [string, T[]] | undefined;
      for (const entry of q) if (!victim || entry[1].length > victim[1].length) victim = entry;
      if (!victim) continue;
      // The same class yields only to a key with fewer items waiting than the victim's.
      if (c === cls && victim[1].length <= mine + 1) return undefined;
      const [key, list] = victim;
      const item = list.pop()!;
      if (list.length === 0) q.delete(key);
      this.#take(key);
      return item;
    }
    return undefined;
  }

  #take(key: string): void {
    const n = (this.#perKey.get(key) ?? 1) - 1;
    if (n === 0) this.#perKey.delete(key);
    else this.#perKey.set(key, n);
    this.#size--;
  }
}
