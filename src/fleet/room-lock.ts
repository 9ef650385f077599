import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * The per-room rule across a fleet: a room's DescribeSimpleStreamList holds the room from send
 * until `holdMs` (10 s) after its response ends, so no two calls for one room, from any process,
 * can arrive within 10 s whatever the network does. A hold is one Redis string per room, set NX
 * with an expiry: taken before the send with a lease long enough to outlive the call (timeout +
 * hold + margin), then cut to "holdMs from now" when the response has ended. A crashed process's
 * holds expire by themselves. Keys written by anything else (another type, no expiry, an expiry
 * beyond any lease) are repaired, never trusted: such a key would block its room for ever.
 */
const ACQUIRE = `
local leaseMs = tonumber(ARGV[2])
local maxMs = tonumber(ARGV[3])
local broken = ''
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'string' and kind ~= 'none' then
  redis.call('DEL', KEYS[1])
  broken = 'room_type'
elseif kind == 'string' then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl == -1 or ttl > maxMs then
    redis.call('PEXPIRE', KEYS[1], leaseMs)
    broken = 'room_expiry'
  end
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', leaseMs) then
  return {1, 0, broken}
end
return {0, math.max(1, redis.call('PTTL', KEYS[1])), broken}
`;

/**
 * The hold now runs out holdMs from now. A lease that already ran out (a call slower than its
 * lease) is taken again if nobody else holds the room: the rule counts from this response's end.
 */
const RELEASE = `
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'none' then
  redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', tonumber(ARGV[2]))
  return 2
end
if kind ~= 'string' then return 0 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
  return 1
end
return 0
`;

interface RoomLockCommands {
  zegoRoomAcquire(key: string, token: string, leaseMs: number, maxMs: number): Promise<[number, number, string]>;
  zegoRoomRelease(key: string, token: string, holdMs: number): Promise<number>;
}

export interface FleetRoomLockOptions {
  redis: Redis;
  keyPrefix: string;
  appId: number;
  /** Unique per process (several processes may share a host). */
  memberPrefix: string;
  /** Told once per kind when a broken room key was repaired. */
  logger?: Pick<Logger, 'warn'>;
}

export type RoomAcquireResult = { granted: true } | { granted: false; retryInMs: number };

/** No hold is longer than a call's timeout plus the 10 s rule: anything beyond this is not ours. */
const MAX_HOLD_MS = 300_000;

export class FleetRoomLock {
  readonly #redis: Redis & RoomLockCommands;
  readonly #prefix: string;
  readonly #memberPrefix: string;
  readonly #logger: Pick<Logger, 'warn'> | undefined;
  readonly #reported = new Set<string>();
  /** Room → the token of the hold this process took for it. */
  readonly #tokens = new Map<string, string>();
  #seq = 0;

  constructor(opts: FleetRoomLockOptions) {
    opts.redis.defineCommand('zegoRoomAcquire', { numberOfKeys: 1, lua: ACQUIRE });
    opts.redis.defineCommand('zegoRoomRelease', { numberOfKeys: 1, lua: RELEASE });
    this.#redis = opts.redis as Redis & RoomLockCommands;
    this.#prefix = `${opts.keyPrefix}:room:${opts.appId}:`;
    this.#memberPrefix = opts.memberPrefix;
    this.#logger = opts.logger;
  }

  /** The Redis key of a room's hold. */
  keyOf(roomId: string): string {
    return `${this.#prefix}${roomId}`;
  }

  /** Kinds of broken keys repaired so far (for tests and diagnostics). */
  get repaired(): ReadonlySet<string> {
    return this.#reported;
  }

  /** Takes the room for a call about to be sent; `leaseMs` must outlive the call plus the hold. */
  async acquire(roomId: string, leaseMs: number): Promise<RoomAcquireResult> {
    const token = `${this.#memberPrefix}:${++this.#seq}`;
    const lease = Math.max(1, Math.ceil(leaseMs));
    const [ok, retryInMs, broken] = await this.#redis.zegoRoomAcquire(this.keyOf(roomId), token, lease, Math.max(2 * lease, MAX_HOLD_MS));
    if (broken) this.#report(broken, roomId);
    if (ok !== 1) return { granted: false, retryInMs };
    this.#tokens.set(roomId, token);
    return { granted: true };
  }

  /** The call's response has ended: the room stays held `holdMs` (10 s) more, then frees itself. */
  async release(roomId: string, holdMs: number): Promise<void> {
    const token = this.#tokens.get(roomId);
    if (token === undefined) return;
    this.#tokens.delete(roomId);
    await this.#redis.zegoRoomRelease(this.keyOf(roomId), token, Math.max(1, Math.ceil(holdMs)));
  }

  #report(kind: string, roomId: string): void {
    if (this.#reported.has(kind)) return;
    this.#reported.add(kind);
    this.#logger?.warn({ kind, key: this.keyOf(roomId) }, 'fleet room key in Redis was broken and has been repaired');
  }
}
