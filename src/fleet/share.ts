import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { isPlausibleTimeMs } from '../zego/time.js';
import type { ProbeOutcome, ProbeResult } from '../zego/outcome.js';

/**
 * Shared work: replicas watching the same stream probe it once per interval between them. A
 * published result lives in Redis for exactly the rest of its interval (Redis expires it, on
 * Redis's clock), so "fresh" means "exists". Checking for a fresh result and claiming the probe is
 * one atomic script: once a result is out nobody claims until it expires, and while a claim is
 * held the others wait for its result.
 */
/** A result or claim TTL more than this many claim periods away was not set by an exporter. */
const MAX_TTL_FACTOR = 10;
/** Hosts' clocks differ; a result sent further ahead than this is broken, not skewed. */
const MAX_SENT_AHEAD_MS = 60_000;

const CLAIM = `
local broken = {}
for i = 1, 2 do
  local kind = redis.call('TYPE', KEYS[i])['ok']
  if kind ~= 'string' and kind ~= 'none' then
    redis.call('DEL', KEYS[i])
    broken[#broken + 1] = i == 1 and 'result_type' or 'claim_type'
  end
end
local claimMs = tonumber(ARGV[2])
local result = redis.call('GET', KEYS[1])
if result then
  -- A result lives for the rest of its interval; one without a TTL (or with an absurd one) would be
  -- "fresh" for ever and no replica would probe the stream again.
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 or ttl > ${MAX_TTL_FACTOR} * claimMs then
    redis.call('DEL', KEYS[1])
    broken[#broken + 1] = 'result_ttl'
  else
    return {'fresh', result, table.concat(broken, ',')}
  end
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', claimMs) then return {'claimed', '', table.concat(broken, ',')} end
local ttl = redis.call('PTTL', KEYS[2])
if ttl < 0 or ttl > ${MAX_TTL_FACTOR} * claimMs then
  -- A claim that never runs out has no live owner: take it over rather than wait for ever.
  redis.call('SET', KEYS[2], ARGV[1], 'PX', claimMs)
  broken[#broken + 1] = 'claim_ttl'
  return {'claimed', '', table.concat(broken, ',')}
end
return {'busy', tostring(ttl), table.concat(broken, ',')}
`;

/** Deletes a result only if it still holds the value found broken (a fresh one may have replaced it). */
const DROP = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`;

const PUBLISH = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1
`;

interface ShareCommands {
  zegoShareClaim(result: string, claim: string, owner: string, claimMs: number): Promise<[string, string, string?]>;
  zegoShareDrop(result: string, value: string): Promise<number>;
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
  /** Told once per kind when a key read from Redis was broken (and repaired or ignored). */
  logger?: Pick<Logger, 'warn'>;
}

/** How often a replica looks again while another one's probe of the stream is under way. */
const BUSY_RECHECK_MS = 200;

export class ResultShare {
  readonly #redis: Redis & ShareCommands;
  readonly #opts: ResultShareOptions;
  readonly #now: () => number;
  readonly #reported = new Set<string>();

  constructor(opts: ResultShareOptions) {
    opts.redis.defineCommand('zegoShareClaim', { numberOfKeys: 2, lua: CLAIM });
    opts.redis.defineCommand('zegoShareDrop', { numberOfKeys: 1, lua: DROP });
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
      const resultKey = this.#resultKey(streamId);
      for (let attempt = 0; ; attempt++) {
        const [kind, value, broken] = await this.#redis.zegoShareClaim(resultKey, this.#claimKey(streamId), this.#opts.owner, claimMs);
        if (broken) this.#report(broken, streamId);
        if (kind === 'fresh') {
          const result = decodeResult(value, { nowMs: this.#now(), intervalMs });
          if (result) return { kind: 'fresh', result };
          this.#report('result_value', streamId);
          // Dropped, so the next look claims the probe (and its publish replaces the bad value).
          await this.#redis.zegoShareDrop(resultKey, value);
          if (attempt === 0) continue;
          return { kind: 'claimed' };
        }
        if (kind === 'busy') {
          const ttl = Number(value);
          return { kind: 'busy', retryInMs: Number.isFinite(ttl) ? Math.min(BUSY_RECHECK_MS, Math.max(1, ttl)) : BUSY_RECHECK_MS };
        }
        return { kind: 'claimed' };
      }
    } catch {
      return { kind: 'claimed' };
    }
  }

  #report(broken: string, streamId: string): void {
    for (const kind of broken.split(',')) {
      if (this.#reported.has(kind)) continue;
      this.#reported.add(kind);
      this.#opts.logger?.warn({ kind, stream_id: streamId }, 'fleet result-share key in Redis was broken: ignored or repaired, the stream is probed');
    }
  }

  /** Kinds of broken keys met so far (for tests and diagnostics). */
  get repaired(): ReadonlySet<string> {
    return this.#reported;
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

/**
 * Whatever is in Redis is input like any other: checked, never trusted. With `at`, the times are
 * checked too: sent no later than a minute ahead of this host (clocks differ), no earlier than its
 * interval (twice, plus a minute) ago, and the stream's times plausible; the code must be the one
 * its outcome comes from (it becomes a label value).
 */
export function decodeResult(text: string, at?: { nowMs: number; intervalMs: number }): ProbeResult | null {
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
  if (r['code'] !== OUTCOME_CODE[outcome.kind]) return null;
  const sentAtMs = r['sentAtMs'];
  const durationMs = r['durationMs'];
  if (durationMs < 0 || durationMs > 600_000) return null;
  if (at) {
    if (sentAtMs > at.nowMs + MAX_SENT_AHEAD_MS || sentAtMs < at.nowMs - 2 * at.intervalMs - MAX_SENT_AHEAD_MS) return null;
    const times = outcome.kind === 'active' ? [outcome.createTimeSec] : outcome.kind === 'closed' ? [outcome.createTimeSec, outcome.closeTimeSec] : [];
    for (const sec of times) if (sec !== null && !isPlausibleTimeMs(sec * 1000, at.nowMs)) return null;
  }
  return { outcome, code: r['code'], sentAtMs, durationMs };
}

/** Only these outcomes are shared, and each comes from exactly one Code. */
const OUTCOME_CODE: Readonly<Record<string, string>> = { active: '0', closed: '41006', not_found: '41004' };

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
