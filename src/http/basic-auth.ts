import { createHash, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import PQueue from 'p-queue';

/**
 * A bcrypt hash nobody's password matches, checked for unknown users so that an unknown user costs
 * the same bcrypt as a known one (no user enumeration by timing).
 */
const DECOY_HASH = '$2b$10$10a.OJkd9I2ni0qYyw2YbO3PFTWWGf8zkwRz2yTU5GJlg5Spxa6G2';
/** Verified (user, hash) pairs remembered; far more users than any web config lists. */
const CACHE_MAX = 1024;
/** bcrypt checks waiting at most: beyond, a request is refused at once instead of queueing CPU work. */
const QUEUE_MAX = 64;

/**
 * Basic auth against exporter-toolkit's `basic_auth_users`. A bcrypt check costs ~100 ms of CPU
 * (cost 10, pure JS), so a verified password is remembered as the SHA-256 of it per (user, hash):
 * Prometheus scraping every second pays bcrypt once, and the remembered digest is compared in
 * constant time. Changing a user's hash (a reload) makes the old entry unreachable. The checks
 * that do run bcrypt run one at a time, as in exporter-toolkit, so a flood of wrong passwords
 * costs one core at most. Passwords and hashes are never logged or returned.
 */
export class BasicAuth {
  #users: ReadonlyMap<string, string>;
  readonly #verified = new Map<string, Buffer>();
  readonly #queue = new PQueue({ concurrency: 1 });
  /** bcrypt runs, for tests: a cached scrape must not add one. */
  bcryptRuns = 0;

  constructor(users: ReadonlyMap<string, string>) {
    this.#users = users;
  }

  get enabled(): boolean {
    return this.#users.size > 0;
  }

  setUsers(users: ReadonlyMap<string, string>): void {
    this.#users = users;
    this.#verified.clear();
  }

  /** Whether an `Authorization` header names a user and their password; a Promise only when bcrypt must run. */
  check(authorization: string | undefined): boolean | Promise<boolean> {
    if (!this.enabled) return true;
    const creds = parseBasic(authorization);
    if (!creds) return false;
    const hash = this.#users.get(creds.user);
    const known = hash !== undefined;
    const h = hash ?? DECOY_HASH;
    const key = createHash('sha256').update(creds.user).update('\0').update(h).digest('hex');
    const digest = createHash('sha256').update(creds.password).digest();
    const seen = this.#verified.get(key);
    if (known && seen !== undefined && timingSafeEqual(seen, digest)) return true;
    if (this.#queue.size >= QUEUE_MAX) return false;
    return this.#queue.add(async () => {
      this.bcryptRuns++;
      const ok = (await bcrypt.compare(creds.password, h)) && known;
      // The users may have changed while this waited: remember only against the hash still configured.
      if (ok && this.#users.get(creds.user) === h) {
        if (this.#verified.size >= CACHE_MAX) this.#verified.delete(this.#verified.keys().next().value!);
        this.#verified.set(key, digest);
      }
      return ok;
    });
  }
}

/** `Basic base64(user:password)`, split at the first colon (RFC 7617); anything else is no credentials. */
export function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  if (header === undefined) return undefined;
  const m = /^Basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i.exec(header);
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = text.indexOf(':');
  return i < 0 ? undefined : { user: text.slice(0, i), password: text.slice(i + 1) };
}
