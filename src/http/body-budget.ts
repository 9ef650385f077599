/**
 * Bytes of request bodies held in memory across every connection, whatever listener they came
 * through. Unfinished uploads cost no secret to send, so without a shared bound each connection
 * adds up to the per-request cap and memory grows with the number of sockets. A request that does
 * not fit is refused at once (503, Retry-After) instead of being buffered: ZEGO retries a refused
 * callback, an attacker only gets its connection closed.
 *
 * No client (client-key.ts: a peer address, an IPv6 /64, or the address a trusted proxy forwarded)
 * may hold more than a share of it: one address sending 256 slow 64 KiB bodies held the whole
 * budget and every signed callback from elsewhere got 503 for as long as the uploads lasted.
 */
export class BodyBudget {
  readonly limitBytes: number;
  /** The most one client may hold at once. */
  readonly perClientBytes: number;
  #held = 0;
  readonly #byClient = new Map<string, number>();

  constructor(limitBytes: number, perClientBytes: number = Math.floor(limitBytes / DEFAULT_CLIENT_SHARE_DIVISOR)) {
    this.limitBytes = limitBytes;
    this.perClientBytes = perClientBytes;
  }

  /** Bytes reserved now (for tests and diagnostics). */
  get held(): number {
    return this.#held;
  }

  /** Bytes one client holds now. */
  heldBy(client: string): number {
    return this.#byClient.get(client) ?? 0;
  }

  /** 'client': over this client's share; 'process': over the whole budget (someone else's share is in use). */
  tryReserve(bytes: number, client = ''): true | 'client' | 'process' {
    if (bytes <= 0) return true;
    const mine = this.#byClient.get(client) ?? 0;
    if (mine + bytes > this.perClientBytes) return 'client';
    if (this.#held + bytes > this.limitBytes) return 'process';
    this.#held += bytes;
    this.#byClient.set(client, mine + bytes);
    return true;
  }

  release(bytes: number, client = ''): void {
    if (bytes <= 0) return;
    this.#held = Math.max(0, this.#held - bytes);
    const left = (this.#byClient.get(client) ?? 0) - bytes;
    if (left > 0) this.#byClient.set(client, left);
    else this.#byClient.delete(client);
  }
}

/**
 * 16 MiB: 256 bodies at the 64 KiB per-request cap, or thousands of real callbacks (about 1 KiB
 * each) at once; small next to the exporter's own heap.
 */
export const DEFAULT_BODY_BUDGET_BYTES = 16 * 1024 * 1024;

/**
 * A client's share is 1/8 of the budget (2 MiB: 32 bodies at the 64 KiB cap, some 2000 real
 * callbacks): eight clients flooding at once still leave nothing for a ninth, but that takes eight
 * addresses (eight /64s) each sending as fast as the minimum upload rate demands.
 */
export const DEFAULT_CLIENT_SHARE_DIVISOR = 8;

/**
 * A body must arrive at 1 KiB/s on average once the first 2 s are over (body-reader.ts), else it is
 * answered 408 and its reservation freed at once. A real callback (about 1 KiB) arrives in one
 * packet; an upload at a byte a second is cut after 3 s instead of holding its share for the 30 s
 * request deadline.
 */
export const MIN_UPLOAD_BYTES_PER_SECOND = 1024;
export const MIN_UPLOAD_GRACE_MS = 2000;

/** One budget per process, so a reload that builds a new receiver does not reset what is held. */
export const processBodyBudget = new BodyBudget(DEFAULT_BODY_BUDGET_BYTES);
