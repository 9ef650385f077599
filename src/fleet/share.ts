import type { Redis } from 'ioredis';
import type { ProbeOutcome, ProbeResult } from '../zego/outcome.js';

/**
 * Shared work: replicas watching the same stream probe it once per interval between them. A
 * published result lives in Redis for exactly the rest of its interval (Redis expires it, on
 * Redis's clock), so "fresh" means "exists". Checking for a fresh result and claiming the probe is
 * one atomic script: once a result is out nobody claims until it expires, and while a claim is
 * held the others wait for its result.
 */
const CLAIM = `
local result = redis.call('GET', KEYS[1])
if result then return {'fresh', result} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'claimed', ''} end
return {'busy', tostring(redis.call('PTTL', KEYS[2]))}
`;

const PUBLISH = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
`;

interface ShareCommands {
  zegoShareClaim(result: string, claim: string, owner: string, claimMs: number): Promise<[string, string]>;
  zegoSharePublish(result: string, claim: string, json: string, ttlMs: number, owner: string): Promise<number>;
}

export type ClaimResult = { kind: 'fresh'; result: ProbeResult } | { kind: 'claimed' } | { kind: 'busy'; retryInMs: number };

export interface ResultShareOptions {
  redis: Redis;
  keyPrefix: string;
  appId: number;
  /** This process, as claim owner. */
  owner: string;
  callTimeoutMs: number;
  now?: () => number;
}

/** How often a replica looks again while another one's probe of the stream is under way. */
const BUSY_RECHECK_MS = 200;

export class ResultShare {
  readonly #redis: Redis & ShareCommands;
  readonly #opts: ResultShareOptions;
  readonly #now: () => number;

  constructor(opts: ResultShareOptions) {
    opts.redis.defineCommand('zegoShareClaim', { numberOfKeys: 2, lua: CLAIM });
    opts.redis.defineCommand('zegoSharePublish', { numberOfKeys: 2, lua: PUBLISH });
    this.#redis = opts.redis as Redis & ShareCommands;
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * A fresh result another replica published, or the right to probe, or "another replica is
   * probing it". When Redis fails, the caller probes on its own: sharing saves calls, it never
   * stops a stream from being watched.
   */
  async claim(streamId: string, intervalMs: number): Promise<ClaimResult> {
    try {
      // Held until the result is published; a claimer that died frees it after the call's worst case.
      const claimMs = Math.max(intervalMs, this.#opts.callTimeoutMs + 2000);
      const [kind, value] = await this.#redis.zegoShareClaim(this.#resultKey(streamId), this.#claimKey(streamId), this.#opts.owner, claimMs);
      if (kind === 'fresh') {
        const result = decodeResult(value);
        return result ? { kind: 'fresh', result } : { kind: 'claimed' };
      }
      if (kind === 'busy') return { kind: 'busy', retryInMs: Math.min(BUSY_RECHECK_MS, Math.max(1, Number(value))) };
      return { kind: 'claimed' };
    } catch {
      return { kind: 'claimed' };
    }
  }

  /** Publishes the result for the rest of its interval; results that say nothing are not shared. */
  async publish(streamId: string, result: ProbeResult, intervalMs: number): Promise<void> {
    const ttlMs = Math.floor(result.sentAtMs + intervalMs - this.#now());
    const claim = this.#claimKey(streamId);
    try {
      if (result.outcome.kind === 'failed' || ttlMs <= 0) {
        if ((await this.#redis.get(claim)) === this.#opts.owner) await this.#redis.del(claim);
        return;
      }
      await this.#redis.zegoSharePublish(this.#resultKey(streamId), claim, JSON.stringify(result), ttlMs, this.#opts.owner);
    } catch {
      // Redis away: the others probe themselves once the claim runs out.
    }
  }

  #resultKey(id: string): string {
    return `${this.#opts.keyPrefix}:result:${this.#opts.appId}:${id}`;
  }

  #claimKey(id: string): string {
    return `${this.#opts.keyPrefix}:claim:${this.#opts.appId}:${id}`;
  }
}

/** Whatever is in Redis is input like any other: checked, never trusted. */
export function decodeResult(text: string): ProbeResult | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  if (typeof r['code'] !== 'string' || typeof r['sentAtMs'] !== 'number' || typeof r['durationMs'] !== 'number') return null;
  if (!Number.isFinite(r['sentAtMs']) || !Number.isFinite(r['durationMs'])) return null;
  const outcome = decodeOutcome(r['outcome']);
  if (!outcome) return null;
  return { outcome, code: r['code'], sentAtMs: r['sentAtMs'], durationMs: r['durationMs'] };
}

function decodeOutcome(v: unknown): ProbeOutcome | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  const time = (x: unknown): number | null | undefined => (x === null ? null : typeof x === 'number' && Number.isFinite(x) ? x : undefined);
  switch (o['kind']) {
    case 'active': {
      const c = time(o['createTimeSec']);
      return c === undefined ? null : { kind: 'active', createTimeSec: c };
    }
    case 'closed': {
      const c = time(o['createTimeSec']);
      const d = time(o['closeTimeSec']);
      return c === undefined || d === undefined ? null : { kind: 'closed', createTimeSec: c, closeTimeSec: d };
    }
    case 'not_found':
      return { kind: 'not_found' };
    default:
      return null;
  }
}
