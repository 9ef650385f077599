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
/** A hard cap on remembered nonces whatever the rate; the oldest are evicted first. */
const DEFAULT_MAX_NONCES = 100_000;
/**
 * And a cap in bytes, because a count alone lets the size of each entry decide: 16 MiB holds the
 * full 100 000 entries of short (ZEGO-sized) nonces, and far fewer only when the nonces are long.
 */
export const DEFAULT_MAX_NONCE_BYTES = 16 * 1024 * 1024;
/** What a remembered entry costs besides its strings (map slot, record, number): a rough upper figure. */
const ENTRY_OVERHEAD_BYTES = 120;

export type VerifyResult = { ok: true; duplicate: boolean } | { ok: false; result: 'bad_signature' | 'expired' | 'replayed'; reason: string };

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
    return { ok: true, duplicate: false };
  }

  remember(f: SignedFields): void {
    const now = this.#now();
    this.#prune(now);
    const k = key(f);
    if (this.#seen.has(k)) return;
    const cost = entryBytes(k, f.bodyDigest);
    while (this.#seen.size > 0 && (this.#seen.size >= this.#maxNonces || this.#bytes + cost > this.#maxBytes)) this.#evictOldest();
    this.#seen.set(k, { digest: f.bodyDigest, arrivedAtMs: now });
    this.#bytes += cost;
  }

  #evictOldest(): void {
    const oldest = this.#seen.entries().next();
    if (oldest.done) return;
    this.#seen.delete(oldest.value[0]);
    this.#bytes -= entryBytes(oldest.value[0], oldest.value[1].digest);
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
