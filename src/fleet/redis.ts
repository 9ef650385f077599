import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * Fleet mode's two connections per process and the one state machine that says whether the fleet
 * is there. Everything fleet-wide (every API's budget, the room holds, the Sequence, shared results,
 * callback nonces and the fan-out's writes) runs on the command connection; the fan-out's reads run
 * on the read connection, whose longer timeout never holds up a budget grant behind it.
 */

/** Redis slower than this counts as down: a send or a callback's nonce verdict must not wait on the coordinator. */
export const COMMAND_TIMEOUT_MS = 150;
/** A fan-out read not answered within this means Redis is not there (paused, overloaded). */
export const READ_TIMEOUT_MS = 1000;

function connect(url: string, commandTimeout: number, connectionName: string): Redis {
  const redis = new Redis(url, {
    // CLIENT LIST names the process and the connection's job (the owner is host:pid:random, no secret).
    connectionName,
    // Fail at once while disconnected rather than queue: callers fall back instead of waiting.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout,
    connectTimeout: 1000,
    retryStrategy: (times) => Math.min(times * 100, 1000),
  });
  // ioredis reports every failed reconnect; the link logs the switch once instead.
  redis.on('error', () => undefined);
  return redis;
}

/** How often a write probe asks whether Redis is back, once it has been lost. */
const RECHECK_MS = 500;
export const STARTUP_GRACE_MS = 1500;
const STARTUP_RECHECK_MS = 50;
/**
 * Hysteresis: back to the fleet only after this many probes in a row succeeded (1 s at one per
 * RECHECK_MS: also longer than every hold of a call sent before the loss). A Redis that fails
 * again within FLAP_WINDOW_MS of coming back doubles it, up to MAX_PROBES_TO_RETURN (60 s): a
 * Redis at maxmemory or flapping costs one warning per real transition, not two a second.
 */
export const PROBES_TO_RETURN = 3;
const MAX_PROBES_TO_RETURN = 120;
const FLAP_WINDOW_MS = 10_000;

export const LINK_DOWN_MESSAGE =
  'fleet Redis unreachable: every API on its share of fallback_rate_limit, rooms held by this process alone, callbacks applied where received';
export const LINK_UP_MESSAGE = 'fleet Redis reachable: sharing the AppID budgets, room holds and callbacks with the fleet';

export interface FleetLinkOptions {
  /** Whether Redis takes writes now (a PING answers at maxmemory too); bounded by the command timeout. */
  ping: () => Promise<unknown>;
  logger: Pick<Logger, 'info' | 'warn'>;
  now?: () => number;
}

/**
 * The one connected/fallback state machine of a process. Any user of Redis that sees a command
 * fail reports it (`failed`); a write probe every RECHECK_MS then decides when Redis is trusted
 * again. Each transition is logged once and told to every listener.
 */
export class FleetLink {
  readonly #opts: FleetLinkOptions;
  readonly #now: () => number;
  readonly #listeners: ((connected: boolean) => void)[] = [];
  readonly #startedAt: number;
  #connected = false;
  #everConnected = false;
  /** The fallback has been logged (at start, Redis not reached yet is not news until the grace ends). */
  #reportedDown = false;
  #recheck: NodeJS.Timeout | undefined;
  #closed = false;
  #okStreak = 0;
  #probesToReturn = PROBES_TO_RETURN;
  #connectedAt = -Infinity;
  #lostAt = -Infinity;
  #epoch = 0;

  constructor(opts: FleetLinkOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#startedAt = this.#now();
    this.#scheduleRecheck(0);
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** Still making the first connection (within the start-up grace): neither the fleet nor the fallback yet. */
  get starting(): boolean {
    return !this.#connected && !this.#everConnected && !this.#reportedDown && this.#now() - this.#startedAt < STARTUP_GRACE_MS;
  }

  /** When Redis was last lost after being used (-Infinity before). */
  get lostAt(): number {
    return this.#lostAt;
  }

  /** Grows with every loss seen (a failed command, a closed connection): a user compares it with the value at its last grant. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Told on every transition, after the log line. */
  onChange(listener: (connected: boolean) => void): void {
    this.#listeners.push(listener);
  }

  /** A command failed or timed out: the fleet is away until the probes say otherwise. */
  failed(err: unknown): void {
    // Before the first connection nothing was granted, so nothing can have been lost.
    if (this.#everConnected) this.#epoch++;
    if (!this.#connected || this.#closed) return;
    this.#connected = false;
    this.#lostAt = this.#now();
    // Lost again soon after coming back: Redis is flapping (or refusing writes); wait longer before trusting it.
    this.#probesToReturn = this.#now() - this.#connectedAt < FLAP_WINDOW_MS ? Math.min(MAX_PROBES_TO_RETURN, this.#probesToReturn * 2) : PROBES_TO_RETURN;
    this.#okStreak = 0;
    this.#reportDown(err);
    this.#scheduleRecheck(RECHECK_MS);
  }

  /** The connection closed (even if it came back before any command failed): Redis may have restarted empty. */
  connectionLost(): void {
    if (this.#everConnected) this.#epoch++;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#recheck);
  }

  #reportDown(err: unknown): void {
    this.#reportedDown = true;
    this.#opts.logger.warn({ err: err instanceof Error ? err.message : String(err) }, LINK_DOWN_MESSAGE);
    this.#tell(false);
  }

  #tell(connected: boolean): void {
    for (const l of this.#listeners) l(connected);
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
          this.#opts.logger.info(LINK_UP_MESSAGE);
          this.#tell(true);
        },
        (err: unknown) => {
          if (this.#closed) return;
          this.#okStreak = 0;
          // While first connecting, a refused probe is not news yet.
          const starting = !this.#everConnected && this.#now() - this.#startedAt < STARTUP_GRACE_MS;
          if (!this.#reportedDown && !starting) this.#reportDown(err);
          this.#scheduleRecheck(starting ? STARTUP_RECHECK_MS : RECHECK_MS);
        },
      );
    }, delayMs);
  }
}

/** A small write that fails as a grant would (OOM at maxmemory, READONLY on a replica). */
const PROBE = `
redis.call('SET', KEYS[1], '1', 'PX', 5000)
return 1
`;

interface ProbeCommands {
  zegoFleetProbe(key: string): Promise<unknown>;
}

export interface FleetRedisOptions {
  url: string;
  /** This process (`host:pid:random`): the connections are named `zego-exporter:<owner>:command` / `:read`. */
  owner: string;
  /** The key the write probe sets (a few bytes, 5 s). */
  probeKey: string;
  logger: Pick<Logger, 'info' | 'warn'>;
  now?: () => number;
}

/** The two connections and the link over them: built once per process, closed once. */
export class FleetRedis {
  /** Budgets, room holds, Sequence, shared results, nonces, fan-out writes. */
  readonly command: Redis;
  /** The fan-out's reads only. */
  readonly read: Redis;
  readonly link: FleetLink;

  constructor(opts: FleetRedisOptions) {
    this.command = connect(opts.url, COMMAND_TIMEOUT_MS, `zego-exporter:${opts.owner}:command`);
    this.read = connect(opts.url, READ_TIMEOUT_MS, `zego-exporter:${opts.owner}:read`);
    this.command.defineCommand('zegoFleetProbe', { numberOfKeys: 1, lua: PROBE });
    const cmd = this.command as Redis & ProbeCommands;
    this.link = new FleetLink({
      // A write, not a PING: a Redis that refuses writes (maxmemory) answers PING but grants nothing.
      ping: () => cmd.zegoFleetProbe(opts.probeKey),
      logger: opts.logger,
      ...(opts.now ? { now: opts.now } : {}),
    });
    this.command.on('close', () => this.link.connectionLost());
  }

  async close(): Promise<void> {
    this.link.close();
    this.read.disconnect();
    await this.command.quit().catch(() => this.command.disconnect());
  }
}
