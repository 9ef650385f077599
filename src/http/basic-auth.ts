import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { addressKey, AUTH_FAILURE_LIMIT, AUTH_FAILURE_WINDOW_MS, FailureLimiter, STANDING } from './auth-failures.js';
import { BcryptPool } from './bcrypt-pool.js';

/**
 * The salt and hash part of the decoy checked for unknown users. bcrypt runs its full cost on any
 * well-formed hash, so the decoy needs no password behind it, only the cost of a real user's.
 */
const DECOY_TAIL = '10a.OJkd9I2ni0qYyw2YbO3PFTWWGf8zkwRz2yTU5GJlg5Spxa6G2';
/** Verified (user, hash) pairs remembered; far more users than any web config lists. */
const CACHE_MAX = 1024;

/** What a check came to: 401, 429 (the address is over its failure limit) or 503 (no room to check now). */
export type AuthVerdict = { ok: true } | { ok: false; status: 401 } | { ok: false; status: 429 | 503; retryAfterSec: number };

export interface BasicAuthOptions {
  now?: () => number;
  /** bcrypt workers (default: one per spare core, at most two). */
  poolSize?: number;
  /** An address has just reached the failure limit (to be logged; an address is no secret). */
  onLimited?: (address: string, failures: number, forSec: number) => void;
}

interface Verified {
  user: string;
  hash: string;
  digest: Buffer;
}

/**
 * Basic auth against exporter-toolkit's `basic_auth_users`. bcrypt runs on worker threads
 * (bcrypt-pool.ts), never on the event loop. A verified password is remembered as the SHA-256 of
 * it per (user, hash) and compared in constant time, so Prometheus scraping every second pays
 * bcrypt once; the memory survives a reload that keeps that user's hash (a certificate rotation).
 * An address that fails AUTH_FAILURE_LIMIT checks in a window is refused without hashing until the
 * window ends, and addresses that have passed a check, or have not failed, are served first, so a
 * flood of wrong passwords neither slows the scrapes nor keeps a right password out. An unknown
 * user costs a bcrypt run at a configured user's cost. Passwords and hashes are never logged or
 * returned.
 */
export class BasicAuth {
  #users: ReadonlyMap<string, string>;
  /** The configured users' costs, sorted: an unknown name is given one of them. */
  #costs: number[] = [];
  readonly #verified = new Map<string, Verified>();
  readonly #limiter = new FailureLimiter();
  /** Checks waiting or running per address: only an address's first one is served as clean. */
  readonly #pending = new Map<string, number>();
  readonly #pool: BcryptPool;
  readonly #now: () => number;
  readonly #onLimited: BasicAuthOptions['onLimited'];
  /** Per process: which cost an unknown name gets cannot be worked out from outside. */
  readonly #decoyKey = randomBytes(32);

  constructor(users: ReadonlyMap<string, string>, opts: BasicAuthOptions = {}) {
    this.#users = users;
    this.#costs = costsOf(users);
    this.#pool = new BcryptPool(opts.poolSize);
    this.#now = opts.now ?? Date.now;
    this.#onLimited = opts.onLimited;
  }

  get enabled(): boolean {
    return this.#users.size > 0;
  }

  /** bcrypt runs so far, for tests: a cached scrape must not add one. */
  get bcryptRuns(): number {
    return this.#pool.runs;
  }

  /** New users: remembered passwords stay for every user whose hash did not change. */
  setUsers(users: ReadonlyMap<string, string>): void {
    this.#users = users;
    this.#costs = costsOf(users);
    for (const [k, v] of this.#verified) if (users.get(v.user) !== v.hash) this.#verified.delete(k);
  }

  /** The hash an unknown user is checked against: the cost of a configured user, chosen per name. */
  decoyFor(user: string): string {
    const i = createHmac('sha256', this.#decoyKey).update(user).digest().readUInt32BE(0) % Math.max(1, this.#costs.length);
    return `$2b$${String(this.#costs[i] ?? 10).padStart(2, '0')}$${DECOY_TAIL}`;
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  /** Whether an `Authorization` header from `remote` names a user and their password; a Promise only when bcrypt must run. */
  check(authorization: string | undefined, remote?: string): AuthVerdict | Promise<AuthVerdict> {
    if (!this.enabled) return { ok: true };
    const creds = parseBasic(authorization);
    if (!creds) return { ok: false, status: 401 };
    const hash = this.#users.get(creds.user);
    const known = hash !== undefined;
    const h = hash ?? this.decoyFor(creds.user);
    const key = createHash('sha256').update(creds.user).update('\0').update(h).digest('hex');
    const digest = createHash('sha256').update(creds.password).digest();
    const seen = this.#verified.get(key);
    if (known && seen !== undefined && timingSafeEqual(seen.digest, digest)) return { ok: true };

    const address = addressKey(remote);
    const now = this.#now();
    const blockedMs = this.#limiter.blockedForMs(address, now);
    if (blockedMs > 0) return { ok: false, status: 429, retryAfterSec: Math.ceil(blockedMs / 1000) };
    // A burst from a new address is served as one clean check, then as failing ones: newcomers
    // after it (a right password arriving during a flood) wait behind one check per address, not all.
    const waiting = this.#pending.get(address) ?? 0;
    const standing = this.#limiter.standing(address, now);
    const cls = standing === STANDING.clean && waiting > 0 ? STANDING.failing : standing;
    this.#pending.set(address, waiting + 1);
    return this.#pool.compare(creds.password, h, cls, address).then((r): AuthVerdict => {
      const left = (this.#pending.get(address) ?? 1) - 1;
      if (left === 0) this.#pending.delete(address);
      else this.#pending.set(address, left);
      const now2 = this.#now();
      if (r === true && known) {
        this.#limiter.succeeded(address, now2);
        // The users may have changed while this waited: remember only against the hash still configured.
        if (this.#users.get(creds.user) === h) {
          if (this.#verified.size >= CACHE_MAX) this.#verified.delete(this.#verified.keys().next().value!);
          this.#verified.set(key, { user: creds.user, hash: h, digest });
        }
        return { ok: true };
      }
      if (typeof r !== 'boolean' && r.refused === 'closed') return { ok: false, status: 503, retryAfterSec: 1 };
      // A check refused for want of room counts against its address like a wrong password: an
      // address that floods reaches its limit, and then costs nothing, however fast it sends.
      if (this.#limiter.failed(address, now2)) this.#onLimited?.(address, AUTH_FAILURE_LIMIT, Math.ceil(this.#limiter.blockedForMs(address, now2) / 1000));
      // Its other checks still waiting now wait behind addresses that have not failed.
      if (this.#limiter.standing(address, now2) === STANDING.failing) this.#pool.demote(address, STANDING.failing);
      if (typeof r !== 'boolean') return { ok: false, status: r.refused === 'key' ? 429 : 503, retryAfterSec: 1 };
      return { ok: false, status: 401 };
    });
  }
}

/** The cost field of each hash ($2b$10$… → 10), sorted, one per user. */
function costsOf(users: ReadonlyMap<string, string>): number[] {
  return [...users.values()].map((h) => Number(h.slice(4, 6))).sort((a, b) => a - b);
}

/** For the docs and log lines: the failure rule in words. */
export const AUTH_LIMIT_RULE = `${AUTH_FAILURE_LIMIT} failed checks within ${AUTH_FAILURE_WINDOW_MS / 1000}s`;

/** `Basic base64(user:password)`, split at the first colon (RFC 7617); anything else is no credentials. */
export function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  if (header === undefined) return undefined;
  const m = /^Basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i.exec(header);
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = text.indexOf(':');
  return i < 0 ? undefined : { user: text.slice(0, i), password: text.slice(i + 1) };
}
