import type { Logger } from 'pino';
import { HOLD_MS, type Gate, type GateTicket } from '../scheduler/budget.js';
import type { FleetLimiter, RestoreLease } from './limiter.js';

export interface FleetGateOptions {
  limiter: FleetLimiter;
  /** Probes whether Redis takes writes again (FleetLimiter.probe, bounded by the command timeout): a PING answers at maxmemory too. */
  ping: () => Promise<unknown>;
  /** The fleet's rate_limit: leases held at once, and 1/this is the fleet-wide gap between sends. */
  rateLimit: number;
  /** Calls/s this process may make while Redis is away. */
  fallbackRateLimit: number;
  /** The API call's own timeout: a lease must outlive the call. */
  callTimeoutMs: number;
  logger: Logger;
  /** Told on every switch between the shared budget and the local fallback. */
  onModeChange: (connected: boolean) => void;
  /** The last Sequence this process sent: the fleet's Sequence for the next call is above it. */
  lastSequence?: () => number;
  now?: () => number;
}

const LEASE_MARGIN_MS = 1000;
/** How often a PING asks whether Redis is back, once it has been lost. */
const RECHECK_MS = 500;
/** A release can free a slot earlier than the earliest expiry seen, so waits are short. */
const MAX_WAIT_MS = 100;
const STARTUP_GRACE_MS = 1500;
const STARTUP_RECHECK_MS = 50;
/**
 * Hysteresis: back to the shared budget only after this many probes in a row succeeded (1 s at
 * one per RECHECK_MS: also longer than every hold of a call sent before the loss). A Redis that
 * fails again within FLAP_WINDOW_MS of coming back doubles it, up to MAX_PROBES_TO_RETURN (60 s):
 * a Redis at maxmemory or flapping costs one warning per real transition, not two a second.
 */
export const PROBES_TO_RETURN = 3;
const MAX_PROBES_TO_RETURN = 120;
const FLAP_WINDOW_MS = 10_000;
/** Own leases with less left than this are not written back: they may have run out in Redis already. */
const RESTORE_MIN_MS = 200;

/**
 * The Budget's gate in fleet mode. While Redis answers, every send first takes a lease from the
 * fleet's budget; when Redis fails or is slow, the gate lets calls through at once and reports the
 * switch, so the fleet part caps the budget at the fallback rate (the local slot rule keeps holding). A
 * background PING notices Redis is back; calls made meanwhile are added to the fleet's budget as
 * leases before the first new grant, so the switch back causes no burst.
 */
export class FleetGate implements Gate {
  readonly #opts: FleetGateOptions;
  readonly #now: () => number;
  /** One acquirer at a time per process: the rest wait locally, not in Redis. */
  #chain: Promise<unknown> = Promise.resolve();
  #connected = false;
  /** The fallback has been logged (at start, Redis not reachable yet is not news until it fails). */
  #reportedDown = false;
  #recheck: NodeJS.Timeout | undefined;
  #closed = false;
  /** Ungated calls: in flight, and the local end of the hold of those that ended. */
  #ungatedInFlight = 0;
  #ungatedUntil: number[] = [];
  #rateLimit: number;
  #nextUngatedAt = 0;
  #everConnected = false;
  readonly #startedAt: number;
  /**
   * This process's leases and the local time each stops holding its slot: the worst case (timeout
   * + hold) while in flight, then 1 s after the response. Entries past it are dropped, so a ticket
   * never released cannot grow this.
   */
  readonly #leases = new Map<string, number>();
  /** Redis was lost since the last grant: empty keys then mean a loss, not a new fleet. */
  #lostSinceGrant = false;
  #okStreak = 0;
  #probesToReturn = PROBES_TO_RETURN;
  #connectedAt = -Infinity;
  /** When Redis was lost after being used: the fallback sends nothing for HOLD_MS from then. */
  #lostAt = -Infinity;

  constructor(opts: FleetGateOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#rateLimit = opts.rateLimit;
    this.#startedAt = this.#now();
    this.#scheduleRecheck(0);
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
    clearTimeout(this.#recheck);
  }

  /** The connection closed (even if it came back before any command failed): Redis may have restarted empty. */
  connectionLost(): void {
    if (this.#everConnected) this.#lostSinceGrant = true;
  }

  async #acquire(signal: AbortSignal): Promise<GateTicket | null> {
    for (;;) {
      if (signal.aborted || this.#closed) return null;
      if (!this.#connected && !this.#everConnected && !this.#reportedDown && this.#now() - this.#startedAt < STARTUP_GRACE_MS) {
        // Still connecting at start: a call sent now would take its Sequence from this host's
        // clock, possibly ahead of the fleet's, so wait for the first verdict (bounded by the grace).
        await sleep(STARTUP_RECHECK_MS, signal);
        continue;
      }
      if (!this.#connected) {
        // Calls already past the local queue when Redis went away must not go out at once: the
        // fallback keeps the same rule locally (fallback slots held until 1 s after the response).
        const waitMs = this.#ungatedWaitMs();
        if (waitMs <= 0) return this.#ungated();
        await sleep(Math.min(MAX_WAIT_MS, waitMs), signal);
        continue;
      }
      const adopt = this.#adoptable();
      const lost = this.#lostSinceGrant;
      let res;
      try {
        res = await this.#opts.limiter.acquire(
          this.#rateLimit,
          this.#opts.callTimeoutMs + HOLD_MS + LEASE_MARGIN_MS,
          Math.floor(1000 / this.#rateLimit),
          [...this.#ownLeases(), ...adopt],
          this.#opts.lastSequence?.() ?? 0,
          lost,
        );
      } catch (err) {
        this.#lost(err);
        continue;
      }
      if (adopt.length > 0) this.#ungatedUntil = [];
      if (lost) this.#lostSinceGrant = false;
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
        this.#opts.limiter.release(member, HOLD_MS).catch((err: unknown) => this.#lost(err));
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
    const quiet = this.#lostAt + HOLD_MS - now;
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

  #lost(err: unknown): void {
    this.#lostSinceGrant = true;
    if (!this.#connected || this.#closed) return;
    this.#connected = false;
    this.#lostAt = this.#now();
    // Lost again soon after coming back: Redis is flapping (or refusing writes); wait longer before trusting it.
    this.#probesToReturn = this.#now() - this.#connectedAt < FLAP_WINDOW_MS ? Math.min(MAX_PROBES_TO_RETURN, this.#probesToReturn * 2) : PROBES_TO_RETURN;
    this.#okStreak = 0;
    this.#reportDown(err);
    this.#scheduleRecheck(RECHECK_MS);
  }

  #reportDown(err: unknown): void {
    this.#reportedDown = true;
    this.#opts.logger.warn(
      { err: err instanceof Error ? err.message : String(err) },
      'fleet budget unreachable in Redis: falling back to fallback_rate_limit for this process',
    );
    this.#opts.onModeChange(false);
  }

  #scheduleRecheck(delayMs: number): void {
    clearTimeout(this.#recheck);
    if (this.#closed) return;
    this.#recheck = setTimeout(() => {
      this.#opts.ping().then(
        () => {
          if (this.#closed || this.#connected) return;
          // At start the first answer is enough; after a loss, several in a row (hysteresis).
          if (this.#everConnected && ++this.#okStreak < this.#probesToReturn) {
            this.#scheduleRecheck(RECHECK_MS);
            return;
          }
          this.#okStreak = 0;
          // Only a return from a loss starts the flap window: the first connection is no flap.
          if (this.#everConnected) this.#connectedAt = this.#now();
          this.#connected = true;
          this.#everConnected = true;
          this.#reportedDown = false;
          this.#opts.logger.info('fleet budget reachable in Redis: sharing the AppID budget with the fleet');
          this.#opts.onModeChange(true);
        },
        (err: unknown) => {
          this.#okStreak = 0;
          // While first connecting, a refused PING is not news yet.
          const starting = !this.#everConnected && this.#now() - this.#startedAt < STARTUP_GRACE_MS;
          if (!this.#reportedDown && !starting) this.#reportDown(err);
          this.#scheduleRecheck(starting ? STARTUP_RECHECK_MS : RECHECK_MS);
        },
      );
    }, delayMs);
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
