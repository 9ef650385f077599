import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { checkEntry, MAC_FIELD, signEntry } from './fanout-mac.js';
import { implausibleTime, streamEvent, type StreamEvent } from './parse.js';

/**
 * Every callback accepted by one replica, applied by all. ZEGO posts each callback to one URL, so
 * behind a Service each replica receives only some of them.
 *
 * Why a Redis Stream and not pub/sub: a replica that restarts or loses Redis must catch up on what
 * it missed, and pub/sub forgets a message the moment it is delivered. A stream keeps the entries
 * (trimmed to the callback window with MINID, so its size follows the callback rate, not uptime),
 * and one XREAD BLOCK from the last id read returns new entries as they are added — the same
 * latency as pub/sub — and, after a restart, everything since "now − window" (applying an event
 * twice is harmless: the store orders callbacks by stream_seq and ignores what it already has).
 * Blocking reads hold their connection, so the reader has one of its own.
 */

/** How long one XREAD blocks: bounds how late a stop() is noticed. */
const BLOCK_MS = 1000;
const READ_COUNT = 500;
/** After a failed read: Redis is away; retry soon, without spinning. */
const RETRY_MS = 250;
/** Events received while Redis was away, published when it returns; the oldest go first. */
const MAX_OUTBOX = 10_000;
const MAX_ORIGIN_CHARS = 100;
/** How long start waits for the first connection before an unreachable Redis counts as an outage. */
const STARTUP_GRACE_MS = 1500;
/** Refused entries come in floods when someone writes to the stream: one warning a minute per reason. */
const REJECT_LOG_EVERY_MS = 60_000;

/** Why an entry was not applied: no MAC, a MAC no key of this replica makes, or fields no exporter writes. */
export type FanoutRejectReason = 'unsigned' | 'bad_mac' | 'malformed';
export const FANOUT_REJECT_REASONS: readonly FanoutRejectReason[] = ['unsigned', 'bad_mac', 'malformed'];

export interface FanoutOptions {
  /** Commands that must not wait (XADD): fails at once while disconnected. */
  writer: Redis;
  /** For XREAD BLOCK only. */
  reader: Redis;
  keyPrefix: string;
  appId: number;
  /** The callback window: entries older than this are trimmed, and a (re)started replica reads back this far. */
  windowMs: number;
  /** This replica's id: its own entries are skipped (it applied them when it received them). */
  origin: string;
  /** Applies an event another replica received, at the time that replica received it. */
  apply: (e: StreamEvent, receivedAtMs: number) => void;
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
  readonly #outbox: { e: StreamEvent; at: number }[] = [];
  readonly #reportedBad = new Set<string>();
  readonly #rejected = new Map<FanoutRejectReason, number>(FANOUT_REJECT_REASONS.map((r) => [r, 0]));
  readonly #lastRejectLog = new Map<FanoutRejectReason, number>();
  #unsignedApplied = 0;
  #lastId: string;
  #connected: boolean | null = null;
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;

  constructor(opts: FanoutOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
    this.#key = `${opts.keyPrefix}:callbacks:${opts.appId}:events`;
    this.#lastId = `${Math.max(0, this.#now() - opts.windowMs)}-0`;
  }

  get connected(): boolean {
    return this.#connected === true;
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
    // The blocked XREAD ends with its connection, which the owner closes after this.
    this.#o.reader.disconnect();
    await this.#loop;
  }

  /** An event this replica accepted: to every other replica, or to the outbox while Redis is away. */
  publish(e: StreamEvent, receivedAtMs: number): void {
    if (!this.connected || this.#outbox.length > 0) {
      this.#queue(e, receivedAtMs);
      return;
    }
    this.#add(e, receivedAtMs).catch(() => this.#queue(e, receivedAtMs));
  }

  #queue(e: StreamEvent, at: number): void {
    if (this.#outbox.length >= MAX_OUTBOX) this.#outbox.shift();
    this.#outbox.push({ e, at });
  }

  async #add(e: StreamEvent, at: number): Promise<void> {
    const minId = Math.max(0, this.#now() - 2 * this.#o.windowMs);
    const keys = this.#o.keys();
    // No key: callbacks were turned off by a reload after this was queued; nobody could verify it.
    if (keys.length === 0) return;
    const fields = ['origin', this.#o.origin, 'received_at_ms', String(at), ...encode(e)];
    await this.#o.writer.xadd(this.#key, 'MINID', '~', String(minId), '*', ...fields, MAC_FIELD, signEntry(keys, this.#key, fields));
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
    if (this.#o.reader.status !== 'ready') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, STARTUP_GRACE_MS);
        timer.unref();
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
        this.#o.reader.once('ready', done);
      });
      this.#wake = null;
    }
    while (this.#running) {
      try {
        // Before blocking: what waited for Redis goes out as soon as it answers, not a read later.
        if (this.#outbox.length > 0) await this.#flush();
        const reply = await this.#o.reader.xread('COUNT', READ_COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', this.#key, this.#lastId);
        this.#setConnected(true);
        if (reply) this.#read(reply);
      } catch (err) {
        if (!this.#running) break;
        this.#setConnected(false, err);
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          setTimeout(resolve, RETRY_MS).unref();
        });
        this.#wake = null;
      }
    }
  }

  #read(reply: unknown): void {
    // [[key, [[id, [field, value, …]], …]]]: checked piece by piece, a broken entry is skipped.
    if (!Array.isArray(reply)) return this.#bad('reply is not a list', '');
    for (const stream of reply) {
      const entries: unknown = Array.isArray(stream) ? stream[1] : undefined;
      if (!Array.isArray(entries)) {
        this.#bad('reply is not a list of entries', '');
        continue;
      }
      for (const entry of entries) {
        if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !/^\d{1,16}-\d{1,16}$/.test(entry[0])) {
          this.#bad('entry without an id', '');
          continue;
        }
        this.#lastId = entry[0];
        this.#entry(entry[0], entry[1]);
      }
    }
  }

  #entry(id: string, raw: unknown): void {
    if (!Array.isArray(raw) || raw.length % 2 !== 0 || raw.length > 32) return this.#bad('fields are not name/value pairs', id);
    const f: Record<string, string> = Object.create(null) as Record<string, string>;
    const strings: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const k: unknown = raw[i];
      const v: unknown = raw[i + 1];
      if (typeof k !== 'string' || typeof v !== 'string' || v.length > 256) return this.#bad('a field is not a short string', id);
      f[k] = v;
      strings.push(k, v);
    }
    const origin = f['origin'];
    if (origin === undefined || origin.length === 0 || origin.length > MAX_ORIGIN_CHARS) return this.#bad('origin missing or too long', id);
    if (origin === this.#o.origin) return;
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
    const e = streamEvent(f);
    if (!e.ok) return this.#bad(e.reason, id);
    const badTime = implausibleTime(e.value, at);
    if (badTime !== null) return this.#bad(badTime, id);
    if (unsigned) this.#unsignedApplied++;
    this.#o.apply(e.value, at);
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

  #setConnected(connected: boolean, err?: unknown): void {
    if (this.#connected === connected) return;
    const first = this.#connected === null;
    this.#connected = connected;
    if (connected) this.#o.logger.info({ key: this.#key }, 'callback fan-out connected: callbacks received by any replica are applied here');
    else if (!first || err !== undefined) {
      this.#o.logger.warn(
        { key: this.#key, err: err instanceof Error ? err.message : String(err) },
        'callback fan-out lost Redis: applying only callbacks this replica receives, until it returns',
      );
    }
  }
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
