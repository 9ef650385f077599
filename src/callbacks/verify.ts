import { createHash, timingSafeEqual } from 'node:crypto';
import type { Secret } from '../config/secret.js';

/**
 * ZEGO's callback signature: sort [secret, timestamp, nonce] as strings, concatenate, sha1, hex.
 * Exported for the simulator's sender, which must sign exactly as ZEGO does.
 */
export function callbackSignature(secret: string, timestamp: string, nonce: string): string {
  const parts = [secret, timestamp, nonce].sort();
  return createHash('sha1').update(parts.join('')).digest('hex');
}

/**
 * ZEGO retries a callback up to 62 s after the first attempt (2+4+8+16+32 s) and the signature
 * does not cover the body, so the window must admit retries plus some clock skew, yet stay short
 * because every accepted nonce is remembered for the whole window. 5 minutes does both.
 */
export const DEFAULT_WINDOW_MS = 5 * 60_000;
/**
 * A hard cap on remembered nonces whatever the rate. A nonce is never forgotten inside its
 * window (that would let a captured callback be replayed): at the cap a new nonce is refused
 * with 503 and ZEGO retries it. 250 000 holds a burst of 100 000 callbacks (a large app's
 * discovery) on top of what the window already holds: ~240 bytes of heap a ZEGO-sized entry
 * (measured), 24 MB for 100 000, 60 MB full.
 */
export const DEFAULT_MAX_NONCES = 250_000;
/**
 * And a cap in bytes, because a count alone lets the size of each entry decide: 64 MiB holds the
 * full 250 000 entries of short (ZEGO-sized) nonces, and fewer only when the nonces are long.
 */
export const DEFAULT_MAX_NONCE_BYTES = 64 * 1024 * 1024;
/** What a remembered entry costs besides its strings (map slot, record, number): a rough upper figure. */
const ENTRY_OVERHEAD_BYTES = 120;

export type VerifyResult = { ok: true; duplicate: boolean } | { ok: false; result: 'bad_signature' | 'expired' | 'replayed' | 'overloaded'; reason: string };

export interface VerifierOptions {
  secret: Secret;
  /** While rotating (callbacks.previous_secret): signatures made with it pass too. */
  previousSecret?: Secret | undefined;
  windowMs?: number;
  maxNonces?: number;
  maxNonceBytes?: number;
  now?: () => number;
}

export interface SignedFields {
  timestamp: string;
  nonce: string;
  signature: string;
  /** Digest of the whole body: the signature does not cover it, so a reused nonce must bring the same body. */
  bodyDigest: string;
}

/**
 * Signature, timestamp window and nonce replay. A nonce seen again with the same body is a
 * retry of something already accepted (`duplicate`, harmless); with another body it is a replay
 * of a captured signature onto forged content (`replayed`).
 */
export class CallbackVerifier {
  #secrets: readonly Secret[];
  readonly #windowMs: number;
  readonly #maxNonces: number;
  readonly #maxBytes: number;
  readonly #now: () => number;
  /** `timestamp:nonce` → body digest and arrival time, in arrival order. */
  readonly #seen = new Map<string, { digest: string; arrivedAtMs: number }>();
  #bytes = 0;

  constructor(opts: VerifierOptions) {
    this.#secrets = secretsOf(opts.secret, opts.previousSecret);
    this.#windowMs = opts.windowMs ?? DEFAULT_WINDOW_MS;
    this.#maxNonces = opts.maxNonces ?? DEFAULT_MAX_NONCES;
    this.#maxBytes = opts.maxNonceBytes ?? DEFAULT_MAX_NONCE_BYTES;
    this.#now = opts.now ?? Date.now;
  }

  setSecret(secret: Secret, previous?: Secret): void {
    this.#secrets = secretsOf(secret, previous);
  }

  get remembered(): number {
    return this.#seen.size;
  }

  /** Estimated memory of the remembered nonces (UTF-16 strings plus a per-entry overhead). */
  get rememberedBytes(): number {
    return this.#bytes;
  }

  /** Checks without remembering; call remember() once the event has been handled. */
  check(f: SignedFields): VerifyResult {
    const given = Buffer.from(f.signature.toLowerCase(), 'utf8');
    let match = false;
    for (const s of this.#secrets) {
      const expected = Buffer.from(callbackSignature(s.reveal(), f.timestamp, f.nonce), 'utf8');
      match = (given.length === expected.length && timingSafeEqual(given, expected)) || match;
    }
    if (!match) {
      return { ok: false, result: 'bad_signature', reason: 'signature does not match' };
    }
    const ts = Number(f.timestamp);
    if (!/^\d{1,12}$/.test(f.timestamp) || !Number.isSafeInteger(ts)) {
      return { ok: false, result: 'expired', reason: 'timestamp is not Unix seconds' };
    }
    const now = this.#now();
    if (Math.abs(now - ts * 1000) > this.#windowMs) {
      return { ok: false, result: 'expired', reason: `timestamp outside the ${this.#windowMs / 1000} s window` };
    }
    this.#prune(now);
    const prev = this.#seen.get(key(f));
    if (prev) {
      return prev.digest === f.bodyDigest ? { ok: true, duplicate: true } : { ok: false, result: 'replayed', reason: 'nonce already used' };
    }
    // Full: refuse rather than forget a nonce still inside its window (an empty memory takes any one).
    if (this.#seen.size > 0 && (this.#seen.size >= this.#maxNonces || this.#bytes + entryBytes(key(f), f.bodyDigest) > this.#maxBytes)) {
      return {
        ok: false,
        result: 'overloaded',
        reason: `replay protection holds ${this.#seen.size} nonces of the last ${(2 * this.#windowMs) / 60_000} min, its cap; retry later`,
      };
    }
    return { ok: true, duplicate: false };
  }

  /**
   * Remembers a nonce check() admitted, never evicting one: the caps are applied by check(), so
   * they are exceeded at most by the callbacks admitted and not yet remembered (in fleet mode,
   * those waiting for Redis's verdict), a number the listener's connection cap bounds.
   */
  remember(f: SignedFields): void {
    const now = this.#now();
    this.#prune(now);
    const k = key(f);
    if (this.#seen.has(k)) return;
    this.#seen.set(k, { digest: f.bodyDigest, arrivedAtMs: now });
    this.#bytes += entryBytes(k, f.bodyDigest);
  }

  #prune(now: number): void {
    // A nonce only matters while its timestamp is inside the window, and a timestamp admitted at
    // arrival leaves it at most two windows later: forget by arrival order, oldest first.
    for (const [k, v] of this.#seen) {
      if (v.arrivedAtMs + 2 * this.#windowMs > now) break;
      this.#seen.delete(k);
      this.#bytes -= entryBytes(k, v.digest);
    }
  }
}

function secretsOf(secret: Secret, previous: Secret | undefined): readonly Secret[] {
  return previous && !previous.equals(secret) ? [secret, previous] : [secret];
}

function entryBytes(k: string, digest: string): number {
  return 2 * (k.length + digest.length) + ENTRY_OVERHEAD_BYTES;
}

function key(f: SignedFields): string {
  return `${f.timestamp}:${f.nonce}`;
}
