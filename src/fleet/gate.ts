import { HOLD_MS, type Gate, type GateTicket } from '../scheduler/budget.js';
import type { FleetLimiter, RestoreLease } from './limiter.js';
import type { FleetLink } from './redis.js';

export interface FleetGateOptions {
  limiter: FleetLimiter;
  /** The process's one connected/fallback state machine (redis.ts): the gate reports failures to it and follows it. */
  link: FleetLink;
  /** The fleet's rate limit for this API: leases held at once, and 1/this is the fleet-wide gap between sends. */
  rateLimit: number;
  /** Calls/s this process may make for this API while Redis is away. */
  fallbackRateLimit: number;
  /** The API call's own timeout: a lease must outlive the call. */
  callTimeoutMs: number;
  /** The last Sequence this process sent: the fleet's Sequence for the next call is above it. */
  lastSequence?: () => number;
  now?: () => number;
}

const LEASE_MARGIN_MS = 1000;
/** A release can free a slot earlier than the earliest expiry seen, so waits are short. */
const MAX_WAIT_MS = 100;
const STARTUP_RECHECK_MS = 50;
/** Own leases with less left than this are not written back: they may have run out in Redis already. */
const RESTORE_MIN_MS = 200;

/**
 * A Budget's gate in fleet mode, one per API. While the link says Redis is there, every send first
 * takes a lease from the fleet's budget for its API; when a grant fails, the gate tells the link
 * (which switches the whole process to its fallback) and lets calls through on the fallback's own
 * slot rule. Once the link trusts Redis again, calls made meanwhile are added to the fleet's budget
 * as leases before the first new grant, so the switch back causes no burst.
 */
export class FleetGate implements Gate {
  readonly #opts: FleetGateOptions;
  readonly #link: FleetLink;
  readonly #now: () => number;
  /** One acquirer at a time per process: the rest wait locally, not in Redis. */
  #chain: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** Ungated calls: in flight, and the local end of the hold of those that ended. */
  #ungatedInFlight = 0;
  #ungatedUntil: number[] = [];
  #rateLimit: number;
  #nextUngatedAt = 0;
  /**
   * This process's leases and the local time each stops holding its slot: the worst case (timeout
   * + hold) while in flight, then 1 s after the response. Entries past it are dropped, so a ticket
   * never released cannot grow this.
   */
  readonly #leases = new Map<string, number>();
  /** The link's loss count at the last grant: a larger one means Redis was lost since, so empty keys are a loss, not a new fleet. */
  #grantEpoch = 0;

  constructor(opts: FleetGateOptions) {
    this.#opts = opts;
    this.#link = opts.link;
    this.#now = opts.now ?? Date.now;
    this.#rateLimit = opts.rateLimit;
  }

  setRateLimit(rate: number): void {
    this.#rateLimit = rate;
  }

  acquire(signal: AbortSignal): Promise<GateTicket | null> {
    const next = this.#chain.then(() => this.#acquire(signal));
    this.#chain = next.catch(() => undefined);
    return next;
  }

  close(): void {
    this.#closed = true;
  }

  async #acquire(signal: AbortSignal): Promise<GateTicket | null> {
    for (;;) {
      if (signal.aborted || this.#closed) return null;
      if (this.#link.starting) {
        // Still connecting at start: a call sent now would take its Sequence from this host's
        // clock, possibly ahead of the fleet's, so wait for the first verdict (bounded by the grace).
        await sleep(STARTUP_RECHECK_MS, signal);
        continue;
      }
      if (!this.#link.connected) {
        // Calls already past the local queue when Redis went away must not go out at once: the
        // fallback keeps the same rule locally (fallback slots held until 1 s after the response).
        const waitMs = this.#ungatedWaitMs();
        if (waitMs <= 0) return this.#ungated();
        await sleep(Math.min(MAX_WAIT_MS, waitMs), signal);
        continue;
      }
      const adopt = this.#adoptable();
      const epoch = this.#link.epoch;
      let res;
      try {
        res = await this.#opts.limiter.acquire(
          this.#rateLimit,
          this.#opts.callTimeoutMs + HOLD_MS + LEASE_MARGIN_MS,
          Math.floor(1000 / this.#rateLimit),
          [...this.#ownLeases(), ...adopt],
          this.#opts.lastSequence?.() ?? 0,
          epoch !== this.#grantEpoch,
        );
      } catch (err) {
        this.#link.failed(err);
        continue;
      }
      if (adopt.length > 0) this.#ungatedUntil = [];
      this.#grantEpoch = epoch;
      if (res.granted) return this.#leased(res.member, res.sequence);
      await sleep(Math.min(MAX_WAIT_MS, res.retryInMs) + 1, signal);
    }
  }

  #leased(member: string, sequence: number | null): GateTicket {
    let done = false;
    this.#leases.set(member, this.#now() + this.#opts.callTimeoutMs + HOLD_MS);
    return {
      ...(sequence !== null ? { sequence } : {}),
      release: () => {
        if (done) return;
        done = true;
        this.#leases.set(member, this.#now() + HOLD_MS);
        // A failed release leaves the long lease to expire by itself: safe, only slower.
        this.#opts.limiter.release(member, HOLD_MS).catch((err: unknown) => this.#link.failed(err));
      },
    };
  }

  /** This process's leases still holding a slot, to write back if Redis lost them. */
  #ownLeases(): RestoreLease[] {
    const now = this.#now();
    const out: RestoreLease[] = [];
    for (const [member, until] of this.#leases) {
      if (until <= now) this.#leases.delete(member);
      else if (until - now >= RESTORE_MIN_MS) out.push({ member, ms: until - now });
    }
    return out;
  }

  /** Own leases (in flight, or in their hold) count against the fallback's slots too: ZEGO counts those calls. */
  #ownLeasesHeld(): number {
    const now = this.#now();
    for (const [member, until] of this.#leases) if (until <= now) this.#leases.delete(member);
    return this.#leases.size;
  }

  #ungatedWaitMs(): number {
    const now = this.#now();
    this.#ungatedUntil = this.#ungatedUntil.filter((t) => t > now);
    const rate = this.#opts.fallbackRateLimit;
    // The fleet's window may be full of other processes' leases this one cannot see any more: they
    // stop counting at most HOLD_MS after their calls ended, so the fallback starts that long after the loss.
    const quiet = this.#link.lostAt + HOLD_MS - now;
    if (quiet > 0) return quiet;
    if (this.#ungatedInFlight + this.#ungatedUntil.length + this.#ownLeasesHeld() >= Math.max(1, Math.floor(rate))) {
      return this.#ungatedUntil.length > 0 ? Math.min(...this.#ungatedUntil) - now : MAX_WAIT_MS;
    }
    return this.#nextUngatedAt - now;
  }

  #ungated(): GateTicket {
    this.#nextUngatedAt = this.#now() + 1000 / this.#opts.fallbackRateLimit;
    this.#ungatedInFlight++;
    let done = false;
    return {
      release: () => {
        if (done) return;
        done = true;
        this.#ungatedInFlight--;
        this.#ungatedUntil.push(this.#now() + HOLD_MS);
      },
    };
  }

  /** Remaining hold of calls sent without a lease; those still in flight count their worst case. */
  #adoptable(): RestoreLease[] {
    const now = this.#now();
    this.#ungatedUntil = this.#ungatedUntil.filter((t) => t > now);
    const out = this.#ungatedUntil.map((t) => ({ ms: t - now }));
    for (let i = 0; i < this.#ungatedInFlight; i++) out.push({ ms: this.#opts.callTimeoutMs + HOLD_MS });
    return out;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
