import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { SignedFields } from './verify.js';

/**
 * The replay check across a fleet: every replica behind one callback URL sees only some of
 * ZEGO's posts, so a nonce remembered per process lets a captured signature be replayed, with a
 * forged body, at another replica. One script claims `timestamp:nonce` with the body's digest,
 * atomically: the first claim anywhere wins; the same body again is a retry (duplicate); another
 * body is a replay. The key holds the digest for two windows, as the local memory does (a
 * timestamp admitted at arrival leaves the window at most two windows later), and is named by a
 * hash so an unauthenticated sender cannot choose its size (nonces are bounded by parse.ts too).
 */
const CLAIM = `
local v = redis.call('GET', KEYS[1])
if v then
  if v == ARGV[1] then return 1 end
  return 2
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 0
`;

export type FleetClaim = 'new' | 'duplicate' | 'replayed';

interface ClaimCommands {
  zegoCallbackNonce(key: string, digest: string, ttlMs: number): Promise<unknown>;
}

export interface FleetNoncesOptions {
  redis: Redis;
  keyPrefix: string;
  appId: number;
  /** The callback window (verify.ts): the claim is kept twice as long. */
  windowMs: number;
}

export class FleetNonces {
  readonly #redis: Redis & ClaimCommands;
  readonly #prefix: string;
  readonly #ttlMs: number;

  constructor(opts: FleetNoncesOptions) {
    opts.redis.defineCommand('zegoCallbackNonce', { numberOfKeys: 1, lua: CLAIM });
    this.#redis = opts.redis as Redis & ClaimCommands;
    this.#prefix = `${opts.keyPrefix}:callbacks:${opts.appId}:nonce:`;
    this.#ttlMs = 2 * opts.windowMs;
  }

  /** The fleet's verdict, or null when Redis cannot give one (the caller falls back to its local memory). */
  async claim(f: Pick<SignedFields, 'timestamp' | 'nonce' | 'bodyDigest'>): Promise<FleetClaim | null> {
    const key = this.#prefix + createHash('sha1').update(`${f.timestamp}:${f.nonce}`).digest('hex');
    try {
      const r = await this.#redis.zegoCallbackNonce(key, f.bodyDigest, this.#ttlMs);
      // Anything but the script's three answers (a foreign script under the name, a proxy) is no verdict.
      return r === 0 ? 'new' : r === 1 ? 'duplicate' : r === 2 ? 'replayed' : null;
    } catch {
      return null;
    }
  }
}
