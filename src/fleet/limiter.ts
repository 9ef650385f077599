import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ApiAction } from '../zego/protocol.js';

/**
 * One sliding-window budget for every exporter of an AppID, kept in Redis. A grant is a lease: a
 * member of a sorted set scored with its expiry. The API counts a call when it arrives, which lies
 * somewhere between send and response end, so a lease is taken before the send (long enough to
 * outlive the call's timeout) and cut to "1 s from now" when the response has ended: every call a
 * server second can count still holds its lease at that second's end, hence the fleet never has
 * more than `limit` calls in any 1 s window. Leases of a crashed process expire by themselves.
 * Redis's own TIME is the clock, so the hosts' clocks don't matter. One round trip per grant.
 */
/**
 * No call holds a lease longer than its timeout plus the hold: a lease scored further ahead than
 * this (or twice the caller's lease) was not written by an exporter and would hold a slot for ever.
 */
const MAX_LEASE_AHEAD_MS = 120_000;
/** next_start is at most one spacing ahead (1 s at 1 call/s); 10 s leaves room for any sane config. */
const MAX_NEXT_START_AHEAD_MS = 10_000;

const ACQUIRE = `
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local leaseMs = tonumber(ARGV[2])
local spacingMs = tonumber(ARGV[3])
local member = ARGV[4]
-- Whatever else wrote these keys is checked and repaired here, never trusted: a wrong type, a
-- lease that outlives any call, a next_start that is not a number or lies far ahead. Each repair
-- is reported back (4th element) so the process can log it, and the grant goes on.
local broken = {}
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'zset' and kind ~= 'none' then
  redis.call('DEL', KEYS[1])
  broken[#broken + 1] = 'leases_type'
end
kind = redis.call('TYPE', KEYS[2])['ok']
if kind ~= 'string' and kind ~= 'none' then
  redis.call('DEL', KEYS[2])
  broken[#broken + 1] = 'next_start_type'
end
-- Calls this process made while it could not reach Redis: counted before anything is granted.
local adopt = tonumber(ARGV[5])
for i = 1, adopt do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[5 + i]), member .. ':adopted:' .. i)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local maxLeaseMs = math.max(2 * leaseMs, ${MAX_LEASE_AHEAD_MS})
if redis.call('ZREMRANGEBYSCORE', KEYS[1], '(' .. (now + maxLeaseMs), '+inf') > 0 then
  broken[#broken + 1] = 'lease_far_future'
end
local held = redis.call('ZCARD', KEYS[1])
local report = table.concat(broken, ',')
if held >= limit then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, math.max(1, tonumber(first[2]) - now), held, report}
end
local raw = redis.call('GET', KEYS[2])
local nextStart = tonumber(raw or '0')
-- NaN is the one value not equal to itself.
if nextStart == nil or nextStart ~= nextStart or nextStart > now + math.max(2 * spacingMs, ${MAX_NEXT_START_AHEAD_MS}) then
  redis.call('DEL', KEYS[2])
  broken[#broken + 1] = 'next_start'
  report = table.concat(broken, ',')
  nextStart = 0
end
if nextStart > now then
  return {0, nextStart - now, held, report}
end
redis.call('ZADD', KEYS[1], now + leaseMs, member)
redis.call('PEXPIRE', KEYS[1], maxLeaseMs)
if spacingMs > 0 then
  redis.call('SET', KEYS[2], now + spacingMs, 'PX', spacingMs)
end
return {1, 0, held + 1, report}
`;

/** Cuts a lease to holdMs from now, never lengthens it; a lease already gone stays gone. */
const RELEASE = `
redis.replicate_commands()
if redis.call('TYPE', KEYS[1])['ok'] ~= 'zset' then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
local expiry = now + tonumber(ARGV[2])
if expiry < tonumber(score) then
  redis.call('ZADD', KEYS[1], 'XX', expiry, ARGV[1])
end
return 1
`;

type AcquireReply = [number, number, number, string?];

/**
 * Each API has a budget of its own: `<prefix>:budget:<AppId>:<Action>`. DescribeRTCStreamState
 * keeps the key it had before there were other APIs (`<prefix>:budget:<AppId>`), so a fleet
 * upgraded one process at a time still shares one budget for it.
 */
export function budgetKeyBase(keyPrefix: string, appId: number, api: ApiAction): string {
  return api === 'DescribeRTCStreamState' ? `${keyPrefix}:budget:${appId}` : `${keyPrefix}:budget:${appId}:${api}`;
}

interface FleetCommands {
  zegoFleetAcquire(leases: string, nextStart: string, ...args: (string | number)[]): Promise<AcquireReply>;
  zegoFleetRelease(leases: string, member: string, holdMs: number): Promise<number>;
}

export interface FleetLimiterOptions {
  redis: Redis;
  /** Key prefix and AppID: exporters sharing both share one budget (per API). */
  keyPrefix: string;
  appId: number;
  /** The API whose budget this is; default DescribeRTCStreamState. */
  api?: ApiAction;
  /** Unique per process (several processes may share a host). */
  memberPrefix: string;
  /** Told once per kind when the script had to repair a broken key. */
  logger?: Pick<Logger, 'warn'>;
}

export type AcquireResult = { granted: true; member: string; held: number } | { granted: false; retryInMs: number; held: number };

export class FleetLimiter {
  readonly #redis: Redis & FleetCommands;
  readonly #leases: string;
  readonly #nextStart: string;
  readonly #memberPrefix: string;
  readonly #logger: Pick<Logger, 'warn'> | undefined;
  readonly #reported = new Set<string>();
  #seq = 0;

  constructor(opts: FleetLimiterOptions) {
    opts.redis.defineCommand('zegoFleetAcquire', { numberOfKeys: 2, lua: ACQUIRE });
    opts.redis.defineCommand('zegoFleetRelease', { numberOfKeys: 1, lua: RELEASE });
    this.#redis = opts.redis as Redis & FleetCommands;
    const base = budgetKeyBase(opts.keyPrefix, opts.appId, opts.api ?? 'DescribeRTCStreamState');
    this.#leases = `${base}:leases`;
    this.#nextStart = `${base}:next_start`;
    this.#memberPrefix = opts.memberPrefix;
    this.#logger = opts.logger;
  }

  /** Kinds of broken keys repaired so far (for tests and diagnostics). */
  get repaired(): ReadonlySet<string> {
    return this.#reported;
  }

  /**
   * One attempt. `leaseMs` must outlive the call (timeout + hold + margin); `spacingMs` is the
   * fleet-wide minimal gap between sends; `adoptMs` are remaining hold times of calls made without
   * Redis, added as leases first.
   */
  async acquire(limit: number, leaseMs: number, spacingMs: number, adoptMs: readonly number[] = []): Promise<AcquireResult> {
    const member = `${this.#memberPrefix}:${++this.#seq}`;
    const args = [limit, Math.ceil(leaseMs), Math.floor(spacingMs), member, adoptMs.length, ...adoptMs.map((ms) => Math.max(1, Math.ceil(ms)))];
    const [ok, waitMs, held, broken] = await this.#redis.zegoFleetAcquire(this.#leases, this.#nextStart, ...args);
    if (broken) this.#report(broken);
    return ok === 1 ? { granted: true, member, held } : { granted: false, retryInMs: waitMs, held };
  }

  #report(broken: string): void {
    for (const kind of broken.split(',')) {
      if (this.#reported.has(kind)) continue;
      this.#reported.add(kind);
      this.#logger?.warn({ kind, leases_key: this.#leases, next_start_key: this.#nextStart }, 'fleet budget key in Redis was broken and has been repaired');
    }
  }

  /** The response has ended: the lease now runs out holdMs from now. */
  async release(member: string, holdMs: number): Promise<void> {
    await this.#redis.zegoFleetRelease(this.#leases, member, holdMs);
  }

  /** Unexpired leases (for tests and diagnostics). */
  async held(): Promise<number> {
    const [t] = await this.#redis.time();
    return this.#redis.zcount(this.#leases, `(${Number(t) * 1000}`, '+inf');
  }
}
