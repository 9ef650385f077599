import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { FairQueue, type Refusal } from './fair-queue.js';

/** bcrypt checks waiting at most, all addresses together: about 2 s of work at cost 10 for one worker. */
export const BCRYPT_QUEUE_MAX = 32;
/** bcrypt checks one address may have waiting. */
export const BCRYPT_QUEUE_PER_ADDRESS = 4;
/** Queue classes (see auth-failures.ts's STANDING); the last is addresses that have failed. */
const CLASSES = 3;
/**
 * The share of one core each queue class may take: after a check a worker rests until the check's
 * run time is that share of the time since it started (a check of a failing address: three times
 * as long as it ran). A flood of wrong passwords then costs a quarter of a core, its first check
 * per address half, not a whole core (a container limited to 500m would otherwise spend all of it
 * on bcrypt and throttle the scrapes). Addresses that have passed a check run at full speed.
 */
export const BCRYPT_SHARE: readonly number[] = [1, 0.5, 0.25];

/**
 * The worker's whole program. bcryptjs is loaded by its resolved path so the worker finds it
 * wherever the process runs from, and the code is the same under the test runner and built.
 */
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptjs);
parentPort.on('message', (m) => {
  let ok = false;
  try { ok = bcrypt.compareSync(m.password, m.hash); } catch { ok = false; }
  parentPort.postMessage({ id: m.id, ok });
});
`;

/** What a check came to: the answer, or why it never ran. */
export type CompareResult = boolean | { refused: Refusal | 'dropped' | 'closed' };

interface Job {
  id: number;
  cls: number;
  password: string;
  hash: string;
  resolve: (r: CompareResult) => void;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
  startedAt: number;
  /** Resting after a check for a failing address (see BCRYPT_FAILING_SHARE). */
  rest: NodeJS.Timeout | undefined;
}

/** One worker on a 2-core machine (the other core keeps serving scrapes), two at most. */
export function defaultPoolSize(): number {
  return Math.max(1, Math.min(2, availableParallelism() - 1));
}

/**
 * bcrypt (pure JavaScript, ~65 ms of CPU at cost 10) on worker threads, so the event loop that
 * serves /metrics never runs it. Checks wait in a FairQueue: by class, then round-robin over
 * addresses, bounded. Workers start on first use and do not keep the process alive.
 */
export class BcryptPool {
  readonly #queue = new FairQueue<Job>(CLASSES, BCRYPT_QUEUE_MAX, BCRYPT_QUEUE_PER_ADDRESS);
  readonly #slots: (Slot | undefined)[];
  readonly #bcryptjs = createRequire(import.meta.url).resolve('bcryptjs');
  #nextId = 0;
  #closed = false;
  /** Checks handed to a worker, for tests. */
  runs = 0;

  constructor(size = defaultPoolSize()) {
    this.#slots = Array.from({ length: size }, () => undefined);
  }

  /** Whether the password matches the hash; `cls` and `key` place it in the queue. Never rejects. */
  compare(password: string, hash: string, cls: number, key: string): Promise<CompareResult> {
    if (this.#closed) return Promise.resolve({ refused: 'closed' });
    return new Promise((resolve) => {
      const job: Job = { id: this.#nextId++, cls, password, hash, resolve };
      const r = this.#queue.push(cls, key, job);
      if (!r.ok) return resolve({ refused: r.why });
      r.dropped?.resolve({ refused: 'dropped' });
      this.#pump();
    });
  }

  /** The address's waiting checks go to class `cls` if they were in a better one. */
  demote(key: string, cls: number): void {
    this.#queue.demote(key, cls);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#queue.drain()) job.resolve({ refused: 'closed' });
    await Promise.all(
      this.#slots.map(async (s, i) => {
        this.#slots[i] = undefined;
        clearTimeout(s?.rest);
        s?.job?.resolve({ refused: 'closed' });
        await s?.worker.terminate();
      }),
    );
  }

  #pump(): void {
    for (let i = 0; i < this.#slots.length && this.#queue.size > 0; i++) {
      const slot = this.#slots[i] ?? this.#spawn(i);
      if (slot.job !== undefined || slot.rest !== undefined) continue;
      const job = this.#queue.shift()!;
      slot.job = job;
      slot.startedAt = performance.now();
      this.runs++;
      slot.worker.postMessage({ id: job.id, password: job.password, hash: job.hash });
    }
  }

  #spawn(i: number): Slot {
    const worker = new Worker(WORKER_CODE, { eval: true, workerData: { bcryptjs: this.#bcryptjs } });
    worker.unref();
    const slot: Slot = { worker, job: undefined, startedAt: 0, rest: undefined };
    this.#slots[i] = slot;
    worker.on('message', (m: { id: number; ok: boolean }) => {
      const job = slot.job;
      if (job === undefined || job.id !== m.id) return;
      slot.job = undefined;
      job.resolve(m.ok === true);
      const share = BCRYPT_SHARE[job.cls] ?? 1;
      if (share < 1) {
        const ranMs = performance.now() - slot.startedAt;
        slot.rest = setTimeout(
          () => {
            slot.rest = undefined;
            this.#pump();
          },
          ranMs * (1 / share - 1),
        );
        slot.rest.unref();
      }
      this.#pump();
    });
    // A worker that dies (out of memory, a bug) fails its check as refused; the next check starts a new one.
    const lost = (): void => {
      if (this.#slots[i] === slot) this.#slots[i] = undefined;
      clearTimeout(slot.rest);
      slot.job?.resolve({ refused: 'dropped' });
      slot.job = undefined;
      if (!this.#closed) this.#pump();
    };
    worker.once('error', lost);
    worker.once('exit', lost);
    return slot;
  }
}
