import type { Logger } from 'pino';
import type { FleetChannel } from '../fleet/fleet.js';
import { checkEntry, MAC_FIELD, signEntry } from './fanout-mac.js';
import { implausibleTime, streamEvent } from './parse.js';
import { isMixEvent, mixEvent, type MixEvent } from './parse-mix.js';
import { isPlausibleTimeMs } from '../zego/time.js';
import type { StreamEvent } from '../zego/stream-event.js';

/**
 * Every callback accepted by one replica, applied by all. ZEGO posts each callback to one URL, so
 * behind a Service each replica receives only some of them.
 *
 * Why a Redis Stream and not pub/sub: a replica that restarts or loses Redis must catch up on what
 * it missed, and pub/sub forgets a message the moment it is delivered. A stream keeps the entries
 * (trimmed to the callback window with MINID, so its size follows the callback rate, not uptime),
 * and after a restart a replica reads back everything since "now − window" (applying an event
 * twice is harmless: the store orders callbacks by stream_seq and ignores what it already has).
 *
 * Why a short poll (a script every POLL_MS) and not XREAD BLOCK: whoever can write to Redis can
 * write this key, and XREAD hands over whatever is there — a 5 MB entry whole, an entry whose id
 * lies ahead of every real one (the reader then waits behind it for ever), a blocked read that a
 * paused Redis never answers while the gauge says connected. The script reads on Redis's side:
 * it repairs the key first (a wrong type is deleted; entries ahead of Redis's clock are taken out
 * and added again under real ids, so no replica loses the callbacks written behind a poisoned id),
 * reads only up to Redis's clock, and passes an oversized entry on as its id alone. Each poll is a
 * command round trip with a timeout, so "connected" means Redis answered within the last second.
 * The polls run on the fleet's read connection (1 s timeout), the writes on its command connection;
 * a failed poll or write is reported to the fleet's one state machine, which logs the transition.
 */

/** How often the reader asks for new entries: the fan-out's added latency (a callback is applied within a probe interval anyway). */
const POLL_MS = 100;
/** Entries per poll: with MAX_ENTRY_BYTES, at most 1.6 MB of replies at once. */
const READ_COUNT = 100;
/**
 * An entry the exporter writes is at most 16 fields of at most MAX_FIELD_CHARS characters; larger
 * ones were not written by an exporter and are left in Redis (and taken out by the script), never
 * brought here.
 */
export const MAX_ENTRY_BYTES = 16_384;
/** A field's value at most: a stream id is 256, a mix callback's AppID-prefixed task_id up to 267. */
const MAX_FIELD_CHARS = 320;
/** Ids up to this far ahead of Redis's clock are ordinary (XADD after a clock step back); beyond, they are repaired. */
export const FUTURE_ID_TOLERANCE_MS = 5000;
/** Future entries taken out per poll (the rest the next poll): bounds one script's time. */
const MAX_FUTURE_PER_POLL = 50;
/** After a failed read: Redis is away; retry soon, without spinning. */
const RETRY_MS = 250;
/** Events received while Redis was away, published when it returns; the oldest go first. */
const MAX_OUTBOX = 10_000;
const MAX_ORIGIN_CHARS = 100;
/** How long start waits for the first connection before an unreachable Redis counts as an outage. */
const STARTUP_GRACE_MS = 1500;
/** Refused entries come in floods when someone writes to the stream: one warning a minute per reason. */
const REJECT_LOG_EVERY_MS = 60_000;
/** "Connected" is a round trip that succeeded this recently (a poll runs every POLL_MS; one times out after the reader's command timeout). */
const CONNECTED_STALE_MS = 2000;

/**
 * KEYS[1] the stream, KEYS[2] the repairs hash; ARGV: last id read, count, max entry bytes, future
 * tolerance ms, max future per call, this replica's origin, the repairs hash's lifetime ms.
 * Returns {entries, totals}; an entry is {id, fields} or {id, false, bytes} when oversized; totals are
 * this origin's repairs so far (wrong_type, future_id, oversized).
 *
 * Why the repairs are counted in Redis: the script's changes stand even when its reply never
 * arrives (the poll timed out on a loaded client while the script ran), and the stream no longer
 * shows what was repaired. The running totals per origin come back with every reply, so the next
 * poll that gets through reports what a lost one did.
 */
const READ = `
redis.replicate_commands()
local key = KEYS[1]
local log = KEYS[2]
local count = tonumber(ARGV[2])
local maxBytes = tonumber(ARGV[3])
local origin = ARGV[6]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local horizon = now + tonumber(ARGV[4])
-- Written by hand as another type, the repairs hash would fail every poll: it is only a count.
local logKind = redis.call('TYPE', log)['ok']
if logKind ~= 'none' and logKind ~= 'hash' then redis.call('DEL', log) end
local function note(reason, n)
  redis.call('HINCRBY', log, origin .. ':' .. reason, n)
  redis.call('PEXPIRE', log, ARGV[7])
end
local function totals()
  local v = redis.call('HMGET', log, origin .. ':wrong_type', origin .. ':future_id', origin .. ':oversized')
  return {tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0}
end
local kind = redis.call('TYPE', key)['ok']
if kind == 'none' then return {{}, totals()} end
if kind ~= 'stream' then
  redis.call('DEL', key)
  note('wrong_type', 1)
  return {{}, totals()}
end
local function size(fields)
  local n = 0
  for i = 1, #fields do n = n + #fields[i] end
  return n
end
-- Entries ahead of Redis's clock: out, and the small ones back in under real ids once the last
-- generated id is repaired (XADD * after a poisoned id gives ids after it, so real callbacks land there too).
local future = redis.call('XRANGE', key, string.format('%d', horizon + 1) .. '-0', '+', 'COUNT', tonumber(ARGV[5]))
local moved = 0
if #future > 0 then
  local keep = {}
  for _, e in ipairs(future) do
    redis.call('XDEL', key, e[1])
    if #e[2] <= 32 and size(e[2]) <= maxBytes then keep[#keep + 1] = e[2] end
    moved = moved + 1
  end
  if #redis.call('XRANGE', key, string.format('%d', horizon + 1) .. '-0', '+', 'COUNT', 1) == 0 then
    local top = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
    local setTo = string.format('%d', now) .. '-0'
    if #top > 0 then
      local ms = tonumber(string.match(top[1][1], '^(%d+)'))
      if ms >= now then setTo = top[1][1] end
    end
    redis.call('XSETID', key, setTo)
    for _, f in ipairs(keep) do redis.call('XADD', key, '*', unpack(f)) end
  end
  note('future_id', moved)
end
local entries = redis.call('XRANGE', key, '(' .. ARGV[1], string.format('%d', horizon), 'COUNT', count)
local out = {}
for i, e in ipairs(entries) do
  local bytes = size(e[2])
  if #e[2] > 32 or bytes > maxBytes then
    -- Not an exporter's entry, and useless to every replica: read once fleet-wide, not once per replica.
    redis.call('XDEL', key, e[1])
    note('oversized', 1)
    out[i] = {e[1], false, bytes}
  else
    out[i] = e
  end
end
return {out, totals()}
`;

/** The repairs the script counts in Redis, in the order of its totals. */
const REPAIRS = ['wrong_type', 'future_id', 'oversized'] as const;

/**
 * Why an entry was not applied as read: no MAC, a MAC no key of this replica makes, fields no
 * exporter writes, an id ahead of Redis's clock (the entry was moved to a real id, see READ), an
 * entry over MAX_ENTRY_BYTES (skipped), or the key was not a stream (deleted; counts the repair).
 */
export type FanoutRejectReason = 'unsigned' | 'bad_mac' | 'malformed' | 'future_id' | 'oversized' | 'wrong_type';
export const FANOUT_REJECT_REASONS: readonly FanoutRejectReason[] = ['unsigned', 'bad_mac', 'malformed', 'future_id', 'oversized', 'wrong_type'];

interface FanoutCommands {
  zegoFanoutRead(
    key: string,
    repairs: string,
    lastId: string,
    count: number,
    maxBytes: number,
    toleranceMs: number,
    maxFuture: number,
    origin: string,
    repairsTtlMs: number,
  ): Promise<unknown>;
}

export interface FanoutOptions {
  /** The fleet's connections: XADD on `command` (fails at once while disconnected), the polls on `read` (a poll not answered within its timeout means Redis is not there); its owner is this replica's origin. */
  channel: FleetChannel;
  /** The callback window: entries older than this are trimmed, and a (re)started replica reads back this far. */
  windowMs: number;
  /** Applies an event another replica received, at the time that replica received it. */
  apply: (e: StreamEvent, receivedAtMs: number) => void;
  /** Applies a mix_start / mix_stop another replica received (`atMs`: its signed timestamp); absent: such entries are skipped. */
  applyMix?: (e: MixEvent, atMs: number, receivedAtMs: number) => void;
  /** The fan-out keys (fanout-mac.ts), read per entry so a reload's secret applies at once: entries are signed with all, accepted when one verifies. */
  keys: () => readonly Buffer[];
  /** Apply entries without a MAC (an unsigned fleet being upgraded), counting them; otherwise they are refused. */
  acceptUnsigned: () => boolean;
  logger: Logger;
  now?: () => number;
}

export class CallbackFanout {
  readonly #o: FanoutOptions;
  readonly #now: () => number;
  readonly #key: string;
  readonly #repairsKey: string;
  /** This origin's repair totals in Redis as last read: a new reply's totals minus these are the repairs not yet counted. */
  readonly #repairsSeen = new Map<FanoutRejectReason, number>();
  readonly #outbox: { e: Fanned; at: number }[] = [];
  readonly #reportedBad = new Set<string>();
  readonly #rejected = new Map<FanoutRejectReason, number>(FANOUT_REJECT_REASONS.map((r) => [r, 0]));
  readonly #lastRejectLog = new Map<FanoutRejectReason, number>();
  #unsignedApplied = 0;
  readonly #origin: string;
  #lastId: string;
  #lastOkAt = -Infinity;
  readonly #readerCmd: FleetChannel['read'] & FanoutCommands;
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;

  constructor(opts: FanoutOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
    const { channel } = opts;
    this.#key = `${channel.keyPrefix}:callbacks:${channel.appId}:events`;
    this.#repairsKey = `${channel.keyPrefix}:callbacks:${channel.appId}:repairs`;
    // This replica's id: its own entries are skipped (it applied them when it received them).
    this.#origin = channel.owner;
    this.#lastId = `${Math.max(0, this.#now() - opts.windowMs)}-0`;
    channel.read.defineCommand('zegoFanoutRead', { numberOfKeys: 2, lua: READ });
    this.#readerCmd = channel.read as FleetChannel['read'] & FanoutCommands;
  }

  /** The fleet is connected and a poll round trip succeeded lately: a paused or vanished Redis is not connected, whatever the socket says. */
  get connected(): boolean {
    return this.#o.channel.connected() && this.#now() - this.#lastOkAt <= CONNECTED_STALE_MS;
  }

  /** Entries of other replicas not applied, by reason, since start. */
  get rejected(): ReadonlyMap<FanoutRejectReason, number> {
    return this.#rejected;
  }

  /** Entries without a MAC applied because fanout_accept_unsigned is on, since start. */
  get unsignedApplied(): number {
    return this.#unsignedApplied;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
  }

  /** An event this replica accepted: to every other replica, or to the outbox while Redis is away. */
  publish(e: StreamEvent, receivedAtMs: number): void {
    this.#publish({ kind: 'stream', e }, receivedAtMs);
  }

  /**
   * A mix_start / mix_stop this replica accepted. What the tasks' state needs travels (event,
   * task_id, seq, timestamp, room, output stream); mix_start's play URLs stay with the replica that
   * received it (an entry's fields are short, and the URLs are up to 16 of 1024 characters a list).
   */
  publishMix(e: MixEvent, atMs: number, receivedAtMs: number): void {
    this.#publish({ kind: 'mix', e, atMs }, receivedAtMs);
  }

  #publish(e: Fanned, receivedAtMs: number): void {
    if (!this.connected || this.#outbox.length > 0) {
      this.#queue(e, receivedAtMs);
      return;
    }
    this.#add(e, receivedAtMs).catch(() => this.#queue(e, receivedAtMs));
  }

  #queue(e: Fanned, at: number): void {
    if (this.#outbox.length >= MAX_OUTBOX) this.#outbox.shift();
    this.#outbox.push({ e, at });
  }

  async #add(e: Fanned, at: number): Promise<void> {
    const minId = Math.max(0, this.#now() - 2 * this.#o.windowMs);
    const keys = this.#o.keys();
    // No key: callbacks were turned off by a reload after this was queued; nobody could verify it.
    if (keys.length === 0) return;
    const fields = ['origin', this.#origin, 'received_at_ms', String(at), ...(e.kind === 'stream' ? encode(e.e) : encodeMix(e.e, e.atMs))];
    await this.#o.channel.command.xadd(this.#key, 'MINID', '~', String(minId), '*', ...fields, MAC_FIELD, signEntry(keys, this.#key, fields));
  }

  async #flush(): Promise<void> {
    const cutoff = this.#now() - this.#o.windowMs;
    while (this.#outbox.length > 0 && this.#running) {
      const { e, at } = this.#outbox[0]!;
      // Older than the window: a replica that restarts would not read it back either.
      if (at >= cutoff) await this.#add(e, at);
      this.#outbox.shift();
    }
  }

  async #run(): Promise<void> {
    // The connection is still being made at start: a read now would fail and report an outage that is none.
    const reader = this.#o.channel.read;
    if (reader.status !== 'ready') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, STARTUP_GRACE_MS);
        timer.unref();
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
        reader.once('ready', done);
      });
      this.#wake = null;
    }
    while (this.#running) {
      let full = false;
      try {
        // Before reading: what waited for Redis goes out as soon as it answers.
        if (this.#outbox.length > 0) await this.#flush();
        const reply = await this.#readerCmd.zegoFanoutRead(
          this.#key,
          this.#repairsKey,
          this.#lastId,
          READ_COUNT,
          MAX_ENTRY_BYTES,
          FUTURE_ID_TOLERANCE_MS,
          MAX_FUTURE_PER_POLL,
          this.#origin,
          // A live replica's totals outlast any outage it could count across; a stopped one's go.
          2 * this.#o.windowMs,
        );
        this.#lastOkAt = this.#now();
        full = this.#read(reply) >= READ_COUNT;
      } catch (err) {
        if (!this.#running) break;
        this.#o.channel.failed(err);
        await this.#pause(RETRY_MS);
        continue;
      }
      // A full batch: more is waiting (a replica catching up), read on at once.
      if (!full) await this.#pause(POLL_MS);
    }
  }

  #pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const wake = (): void => done();
      this.#wake = wake;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    }).finally(() => {
      this.#wake = null;
    });
  }

  /** Applies a READ reply; returns how many entries it held (a full batch means more may wait). */
  #read(reply: unknown): number {
    // [[[id, [field, value, …] | false, bytes?], …], [wrong_type, future_id, oversized]]: checked piece by piece, a broken entry is skipped.
    if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[0]) || !Array.isArray(reply[1])) {
      this.#bad('reply is not a list', '');
      return 0;
    }
    const [entries, totals] = reply as [unknown[], unknown[]];
    let oversizedId = '';
    for (const entry of entries) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !/^\d{1,20}-\d{1,20}$/.test(entry[0])) {
        this.#bad('entry without an id', '');
        continue;
      }
      this.#lastId = entry[0];
      if (entry[1] === null || entry[1] === undefined) {
        // Counted below from the script's totals (it deleted the entry).
        oversizedId ||= entry[0];
        continue;
      }
      this.#entry(entry[0], entry[1]);
    }
    REPAIRS.forEach((reason, i) => {
      const total = totals[i];
      if (typeof total !== 'number' || !Number.isSafeInteger(total) || total < 0) return;
      const seen = this.#repairsSeen.get(reason) ?? 0;
      this.#repairsSeen.set(reason, total);
      // Below what was seen: the hash expired (no repair for two windows) and counts again from 0.
      const n = total >= seen ? total - seen : total;
      if (n > 0) this.#repaired(reason, n, oversizedId);
    });
    return entries.length;
  }

  /** Repairs or skips the script made (in this poll or in one whose reply was lost): counted, and one warning a minute per reason. */
  #repaired(reason: (typeof REPAIRS)[number], n: number, id: string): void {
    const message = {
      wrong_type: 'the callback stream key held another type: deleted, fan-out goes on in a new stream',
      future_id: "entries with ids ahead of Redis's clock were moved to real ids: written by hand or by something that is not an exporter",
      oversized: `an entry over ${MAX_ENTRY_BYTES} bytes (or 32 fields) was skipped and deleted: not written by an exporter`,
    }[reason];
    this.#rejected.set(reason, (this.#rejected.get(reason) ?? 0) + n);
    const now = this.#now();
    const last = this.#lastRejectLog.get(reason);
    if (last !== undefined && now - last < REJECT_LOG_EVERY_MS) return;
    this.#lastRejectLog.set(reason, now);
    this.#o.logger.warn({ key: this.#key, reason, count: n, ...(id && reason === 'oversized' ? { id } : {}) }, `callback stream repaired: ${message}`);
  }

  #entry(id: string, raw: unknown): void {
    if (!Array.isArray(raw) || raw.length % 2 !== 0 || raw.length > 32) return this.#bad('fields are not name/value pairs', id);
    const f: Record<string, string> = Object.create(null) as Record<string, string>;
    const strings: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const k: unknown = raw[i];
      const v: unknown = raw[i + 1];
      if (typeof k !== 'string' || typeof v !== 'string' || v.length > MAX_FIELD_CHARS) return this.#bad('a field is not a short string', id);
      f[k] = v;
      strings.push(k, v);
    }
    const origin = f['origin'];
    if (origin === undefined || origin.length === 0 || origin.length > MAX_ORIGIN_CHARS) return this.#bad('origin missing or too long', id);
    if (origin === this.#origin) return;
    // Before anything in the entry is believed: whoever can write to Redis can write this stream.
    const keys = this.#o.keys();
    if (keys.length === 0) return; // callbacks turned off by a reload: nothing is applied here
    const proof = checkEntry(keys, this.#key, strings);
    const unsigned = proof === 'unsigned' && this.#o.acceptUnsigned();
    if (proof !== 'signed' && !unsigned) return this.#reject(proof, id, origin);
    const at = /^\d{1,16}$/.test(f['received_at_ms'] ?? '') ? Number(f['received_at_ms']) : NaN;
    const now = this.#now();
    // A receipt time from the future (beyond skew) or before the window would misorder probes against it.
    if (!Number.isSafeInteger(at) || at > now + this.#o.windowMs || at < now - 2 * this.#o.windowMs)
      return this.#bad('received_at_ms missing or implausible', id);
    if (isMixEvent(f['event'])) return this.#mixEntry(f, at, id, unsigned);
    const e = streamEvent(f);
    if (!e.ok) return this.#bad(e.reason, id);
    const badTime = implausibleTime(e.value, at);
    if (badTime !== null) return this.#bad(badTime, id);
    if (unsigned) this.#unsignedApplied++;
    this.#o.apply(e.value, at);
  }

  /** A mix entry, read by the receiver's own reader (parse-mix.ts) so it is validated exactly as a callback body is. */
  #mixEntry(f: Record<string, string>, at: number, id: string, unsigned: boolean): void {
    const e = mixEvent(f, {});
    if (!e.ok) return this.#bad(e.reason, id);
    const atMs = /^\d{1,16}$/.test(f['timestamp_ms'] ?? '') ? Number(f['timestamp_ms']) : NaN;
    if (!Number.isSafeInteger(atMs) || !isPlausibleTimeMs(atMs, at)) return this.#bad('timestamp_ms missing or implausible', id);
    if (!this.#o.applyMix) return;
    if (unsigned) this.#unsignedApplied++;
    this.#o.applyMix(e.value, atMs, at);
  }

  #reject(reason: FanoutRejectReason, id: string, origin: string): void {
    this.#rejected.set(reason, (this.#rejected.get(reason) ?? 0) + 1);
    const now = this.#now();
    const last = this.#lastRejectLog.get(reason);
    if (last !== undefined && now - last < REJECT_LOG_EVERY_MS) return;
    this.#lastRejectLog.set(reason, now);
    const why =
      reason === 'unsigned'
        ? 'no MAC: written by an exporter older than the signed fan-out (see callbacks.fanout_accept_unsigned), or by something that is not an exporter'
        : 'MAC does not verify: written without this callback secret (or its previous one), or altered';
    this.#o.logger.warn({ key: this.#key, id, origin, reason }, `fan-out entry refused, ${why}`);
  }

  #bad(reason: string, id: string): void {
    this.#rejected.set('malformed', (this.#rejected.get('malformed') ?? 0) + 1);
    if (this.#reportedBad.has(reason)) return;
    this.#reportedBad.add(reason);
    this.#o.logger.warn({ key: this.#key, id, reason }, 'broken entry in the callback stream skipped');
  }
}

/** What one entry carries: a stream event, or a mix callback with its signed timestamp. */
type Fanned = { kind: 'stream'; e: StreamEvent } | { kind: 'mix'; e: MixEvent; atMs: number };

/** A mix event back into the fields mixEvent() reads (without the play URLs), plus its timestamp in ms. */
function encodeMix(e: MixEvent, atMs: number): string[] {
  const f = ['event', e.event, 'task_id', e.rawTaskId, 'seq', String(e.seq), 'timestamp_ms', String(atMs)];
  if (e.roomId !== undefined) f.push('channel_id', e.roomId);
  if (e.mixStreamAlias !== undefined) f.push('mix_stream_alias', e.mixStreamAlias);
  if (e.streamAlias !== undefined) f.push('stream_alias', e.streamAlias);
  return f;
}

/** A parsed event back into the fields streamEvent() reads, so the reader validates it exactly as the receiver did. */
function encode(e: StreamEvent): string[] {
  const f = ['event', e.event, 'stream_id', e.streamId, 'stream_seq', String(e.streamSeq)];
  if (e.createTimeMs !== null) f.push('create_time_ms', String(e.createTimeMs));
  if (e.event === 'stream_close') {
    f.push('type', String(e.type));
    if (e.destroyTimeMs !== null) f.push('destroy_timemillis', String(e.destroyTimeMs));
  }
  return f;
}
