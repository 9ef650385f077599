import { isIPv6 } from 'node:net';

/** Failed basic-auth checks one address may make in a window; then it is answered 429 without a check until the window ends. */
export const AUTH_FAILURE_LIMIT = 10;
export const AUTH_FAILURE_WINDOW_MS = 60_000;
/** An address that passed a check within this is served first (Prometheus, after a password change). */
export const AUTH_TRUSTED_MS = 60 * 60_000;
/** Addresses remembered; beyond, the least recently seen is forgotten. About 100 bytes each. */
export const AUTH_TRACKED_ADDRESSES = 10_000;

/**
 * How an address stands, which is also its queue class (0 is served first): trusted passed a
 * check within AUTH_TRUSTED_MS, clean has no failure in the current window, failing has some.
 */
export const STANDING = { trusted: 0, clean: 1, failing: 2 } as const;
export type Standing = (typeof STANDING)[keyof typeof STANDING];

interface Entry {
  failures: number;
  /** When the current window began (its first failure). */
  sinceMs: number;
  okAtMs: number | undefined;
}

/**
 * The address a limit applies to: IPv4 as is (an IPv4-mapped IPv6 address as its IPv4), IPv6 by
 * its /64, since one host is routinely given a whole /64 and could otherwise change address at
 * every attempt.
 */
export function addressKey(remote: string | undefined): string {
  if (remote === undefined || remote === '') return 'unknown';
  const bare = remote.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return mapped[1]!;
  if (!isIPv6(bare)) return bare;
  const [head = '', tail] = bare.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

/**
 * Failed checks per address in a fixed window from the first failure: at AUTH_FAILURE_LIMIT the
 * address is refused without hashing until the window ends, so a password guesser costs at most
 * that many bcrypt runs a minute per address. Successes are remembered too, to serve an address
 * that has proven a password before ahead of the others. Bounded by AUTH_TRACKED_ADDRESSES.
 */
export class FailureLimiter {
  readonly #entries = new Map<string, Entry>();

  /** How long the address is still refused, 0 when it is not. */
  blockedForMs(key: string, nowMs: number): number {
    const e = this.#current(key, nowMs);
    return e && e.failures >= AUTH_FAILURE_LIMIT ? e.sinceMs + AUTH_FAILURE_WINDOW_MS - nowMs : 0;
  }

  standing(key: string, nowMs: number): Standing {
    const e = this.#current(key, nowMs);
    if (!e) return STANDING.clean;
    if (e.okAtMs !== undefined && nowMs - e.okAtMs < AUTH_TRUSTED_MS) return STANDING.trusted;
    return e.failures === 0 ? STANDING.clean : STANDING.failing;
  }

  /** Counts a failure; true when it is the one that reaches the limit (to be logged once). */
  failed(key: string, nowMs: number): boolean {
    const e = this.#current(key, nowMs) ?? { failures: 0, sinceMs: nowMs, okAtMs: undefined };
    if (e.failures === 0) e.sinceMs = nowMs;
    e.failures++;
    this.#put(key, e);
    return e.failures === AUTH_FAILURE_LIMIT;
  }

  succeeded(key: string, nowMs: number): void {
    const e = this.#current(key, nowMs) ?? { failures: 0, sinceMs: nowMs, okAtMs: undefined };
    e.okAtMs = nowMs;
    this.#put(key, e);
  }

  /** The entry with its window rolled over: failures of an ended window are forgotten. */
  #current(key: string, nowMs: number): Entry | undefined {
    const e = this.#entries.get(key);
    if (e && e.failures > 0 && nowMs - e.sinceMs >= AUTH_FAILURE_WINDOW_MS) e.failures = 0;
    return e;
  }

  /** Most recently used last, so the first is the one to forget. */
  #put(key: string, e: Entry): void {
    this.#entries.delete(key);
    if (this.#entries.size >= AUTH_TRACKED_ADDRESSES) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, e);
  }
}
