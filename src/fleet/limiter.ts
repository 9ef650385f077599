import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

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
 * No call holds a lease longer than the longest timeout (`zego.timeout` at most 60 s) plus the 1 s
 * hold and the 1 s margin: a lease scored further ahead was not written by an exporter. Each lease
 * also names its own length (`…@<ms>`), and one scored further ahead than that is repaired too, so
 * a forged lease holds a slot for at most this long, and an exporter's never past its own maximum.
 */
export const MAX_LEASE_MS = 62_000;
/** Redis's clock may step back a little between a grant and a later check. */
const LEASE_CLOCK_SLACK_MS = 1000;
/** Leases checked against their own length per grant (highest scores first): bounds the script's time. */
const LEASE_SCAN = 256;
/**
 * After Redis lost its keys (a restart without persistence), every lease of the last second is
 * gone. The first grant that finds the keys empty while a caller knows it had leases there fills
 * the budget for this long (the hold of every call that ended before the loss), while the owners
 * write their own leases back.
 */
export const RESTART_HOLD_MS = 1000;
/** The marker that the budget's keys are Redis's own, not empty after a loss: renewed by every grant. */
const ALIVE_KEEP_MS = 86_400_000;
/** next_start is at most one spacing ahead (1 s at 1 call/s); 10 s leaves room for any sane config. */
const MAX_NEXT_START_AHEAD_MS = 10_000;
/**
 * ZEGO's Sequence rule spans 10 s; the fleet's last Sequence is kept longer, so a host clock up to
 * a minute ahead (whose local values raise it) cannot make it go back while it matters.
 */
const SEQUENCE_KEEP_MS = 60_000;
/** A caller's own last Sequence (or the stored one) further ahead of Redis's clock than this is ignored (repaired). */
const MAX_SEQUENCE_AHEAD_MS = 60_000;

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
kind = redis.call('TYPE', KEYS[3])['ok']
if kind ~= 'string' and kind ~= 'none' then
  redis.call('DEL', KEYS[3])
  broken[#broken + 1] = 'sequence_type'
end
kind = redis.call('TYPE', KEYS[4])['ok']
if kind ~= 'string' and kind ~= 'none' then
  redis.call('DEL', KEYS[4])
end
-- This process's leases (named) and calls made while it could not reach Redis (unnamed): written
-- back before anything is granted. A named one that was missing means Redis lost its keys.
local restore = tonumber(ARGV[7])
local restored = 0
for i = 1, restore do
  local name = ARGV[6 + 2 * i]
  local ms = tonumber(ARGV[7 + 2 * i])
  if name == '' then
    redis.call('ZADD', KEYS[1], now + ms, member .. ':adopted:' .. i .. '@' .. ms)
  else
    restored = restored + redis.call('ZADD', KEYS[1], 'NX', now + ms, name)
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local maxLeaseMs = ${MAX_LEASE_MS}
if redis.call('ZREMRANGEBYSCORE', KEYS[1], '(' .. (now + maxLeaseMs + ${LEASE_CLOCK_SLACK_MS}), '+inf') > 0 then
  broken[#broken + 1] = 'lease_far_future'
end
-- A lease that names its length may not be scored beyond it.
local live = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', '(' .. (now + ${LEASE_CLOCK_SLACK_MS}), 'WITHSCORES', 'LIMIT', 0, ${LEASE_SCAN})
for i = 1, #live, 2 do
  local own = tonumber(string.match(live[i], '@(%d+)$') or '')
  if own ~= nil and tonumber(live[i + 1]) > now + own + ${LEASE_CLOCK_SLACK_MS} then
    redis.call('ZREM', KEYS[1], live[i])
    if broken[#broken] ~= 'lease_far_future' then broken[#broken + 1] = 'lease_far_future' end
  end
end
-- Keys lost (the marker is gone while a caller that lost Redis, or whose leases were missing, asks):
-- hold the whole budget for the hold of the calls that ended before the loss.
if redis.call('EXISTS', KEYS[4]) == 0 and (restored > 0 or ARGV[6] == '1') then
  local held0 = redis.call('ZCARD', KEYS[1])
  for i = 1, limit - held0 do
    redis.call('ZADD', KEYS[1], now + ${RESTART_HOLD_MS}, 'restart:' .. i .. '@' .. ${RESTART_HOLD_MS})
  end
  redis.call('PEXPIRE', KEYS[1], maxLeaseMs)
  broken[#broken + 1] = 'keys_lost'
end
redis.call('SET', KEYS[4], '1', 'PX', ${ALIVE_KEEP_MS})
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
-- The call's Sequence: above every one given to any member and above the caller's own last
-- (sent on its local counter while Redis was away), on Redis's clock, so no host's clock matters.
-- A last value far ahead was not written by an exporter: repaired to now.
local last = tonumber(redis.call('GET', KEYS[3]) or '0')
if last == nil or last ~= last or last > now + ${MAX_SEQUENCE_AHEAD_MS} then
  broken[#broken + 1] = 'sequence'
  report = table.concat(broken, ',')
  last = 0
end
local floor = tonumber(ARGV[5]) or 0
if floor > now + ${MAX_SEQUENCE_AHEAD_MS} then floor = 0 end
local seq = math.max(now, last + 1, floor + 1)
redis.call('SET', KEYS[3], string.format('%d', seq), 'PX', ${SEQUENCE_KEEP_MS})
return {1, 0, held + 1, report, seq}
`;

/**
 * Cuts a lease to holdMs from now, never lengthens it. A lease that is gone before its call ended
 * was lost with Redis's keys (it outlives the call's timeout): written back for its hold.
 */
const RELEASE = `
redis.replicate_commands()
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'zset' and kind ~= 'none' then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ${MAX_LEASE_MS})
  return 2
end
local expiry = now + tonumber(ARGV[2])
if expiry < tonumber(score) then
  redis.call('ZADD', KEYS[1], 'XX', expiry, ARGV[1])
end
return 1
`;

type AcquireReply = [number, number, number, string?, number?];

/** A call of this process still holding a slot: a lease by its name, or (no name) a call made without Redis. */
export interface RestoreLease {
  member?: string;
  /** How much longer it holds its slot. */
  ms: number;
}

/**
 * Each API has a budget of its own: `<prefix>:budget:<AppId>:<Action>`. DescribeRTCStreamState
 * keeps the key it had before there were other APIs (`<prefix>:budget:<AppId>`), so a fleet
 * upgraded one process at a time still shares one budget for it.
 */
export function budgetKeyBase(keyPrefix: string, appId: number, api: string): string {
  return api === 'DescribeRTCStreamState' ? `${keyPrefix}:budget:${appId}` : `${keyPrefix}:budget:${appId}:${api}`;
}

interface FleetCommands {
  zegoFleetAcquire(leases: string, nextStart: string, sequence: string, alive: string, ...args: (string | number)[]): Promise<AcquireReply>;
  zegoFleetRelease(leases: string, member: string, holdMs: number): Promise<number>;
}

export interface FleetLimiterOptions {
  redis: Redis;
  /** Key prefix and AppID: exporters sharing both share one budget (per API). */
  keyPrefix: string;
  appId: number;
  /** The API whose budget this is; default DescribeRTCStreamState. */
  api?: string;
  /** Unique per process (several processes may share a host). */
  memberPrefix: string;
  /** Told once per kind when the script had to repair a broken key. */
  logger?: Pick<Logger, 'warn'>;
}

export type AcquireResult =
  | {
      granted: true;
      member: string;
      held: number;
      /** The call's Sequence, unique and increasing fleet-wide (null from a script that did not give one). */
      sequence: number | null;
    }
  | { granted: false; retryInMs: number; held: number };

export class FleetLimiter {
  readonly #redis: Redis & FleetCommands;
  readonly #leases: string;
  readonly #nextStart: string;
  readonly #sequence: string;
  readonly #alive: string;
  readonly #memberPrefix: string;
  readonly #logger: Pick<Logger, 'warn'> | undefined;
  readonly #reported = new Set<string>();
  #seq = 0;

  constructor(opts: FleetLimiterOptions) {
    opts.redis.defineCommand('zegoFleetAcquire', { numberOfKeys: 4, lua: ACQUIRE });
    opts.redis.defineCommand('zegoFleetRelease', { numberOfKeys: 1, lua: RELEASE });
    this.#redis = opts.redis as Redis & FleetCommands;
    const base = budgetKeyBase(opts.keyPrefix, opts.appId, opts.api ?? 'DescribeRTCStreamState');
    this.#leases = `${base}:leases`;
    this.#nextStart = `${base}:next_start`;
    // Sequence is DescribeRTCStreamState's rule; one counter for the AppID, whichever API's grant raises it.
    this.#sequence = `${budgetKeyBase(opts.keyPrefix, opts.appId, 'DescribeRTCStreamState')}:sequence`;
    this.#alive = `${base}:alive`;
    this.#memberPrefix = opts.memberPrefix;
    this.#logger = opts.logger;
  }

  /** Kinds of broken keys repaired so far (for tests and diagnostics). */
  get repaired(): ReadonlySet<string> {
    return this.#reported;
  }

  /**
   * One attempt. `leaseMs` must outlive the call (timeout + hold + margin); `spacingMs` is the
   * fleet-wide minimal gap between sends; `restore` are this process's calls still holding a
   * slot: its leases by name (written back if Redis lost them) and calls made without Redis
   * (unnamed, added as leases); `sequenceFloor` is the last Sequence this process sent (the
   * granted Sequence is above it); `lostRedis` says this process lost Redis since its last grant,
   * so empty keys are a loss, not a new fleet.
   */
  async acquire(
    limit: number,
    leaseMs: number,
    spacingMs: number,
    restore: readonly RestoreLease[] = [],
    sequenceFloor = 0,
    lostRedis = false,
  ): Promise<AcquireResult> {
    const lease = Math.min(MAX_LEASE_MS, Math.ceil(leaseMs));
    const member = `${this.#memberPrefix}:${++this.#seq}@${lease}`;
    const floor = Number.isSafeInteger(sequenceFloor) && sequenceFloor > 0 ? sequenceFloor : 0;
    const pairs = restore.flatMap((r) => [r.member ?? '', Math.min(MAX_LEASE_MS, Math.max(1, Math.ceil(r.ms)))]);
    const args = [limit, lease, Math.floor(spacingMs), member, floor, lostRedis ? 1 : 0, restore.length, ...pairs];
    const [ok, waitMs, held, broken, sequence] = await this.#redis.zegoFleetAcquire(this.#leases, this.#nextStart, this.#sequence, this.#alive, ...args);
    if (broken) this.#report(broken);
    if (ok !== 1) return { granted: false, retryInMs: waitMs, held };
    return { granted: true, member, held, sequence: typeof sequence === 'number' && Number.isSafeInteger(sequence) && sequence > 0 ? sequence : null };
  }

  #report(broken: string): void {
    for (const kind of broken.split(',')) {
      if (kind === 'keys_lost') {
        // Not once per process: each loss is news (a Redis restarted empty).
        this.#logger?.warn(
          { kind, leases_key: this.#leases, hold_ms: RESTART_HOLD_MS },
          'fleet budget keys were lost in Redis (restarted empty?): the budget is held full for 1 s while the leases of calls still counting are written back',
        );
        this.#reported.add(kind);
        continue;
      }
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
