import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { MIN_UPLOAD_BYTES_PER_SECOND, MIN_UPLOAD_GRACE_MS, processBodyBudget, type BodyBudget } from '../http/body-budget.js';
import { readBody, replyText, type BodyRefusal } from '../http/body-reader.js';
import { addressKey } from '../http/auth-failures.js';
import { listen, type ListenOptions, type RunningServer } from '../http/server.js';
import type { CallbackEventLabel, CallbackResultLabel } from './labels.js';
import type { CallbackApply } from '../state/store.js';
import { implausibleTime, parseBody, signedPart, streamEvent } from './parse.js';
import { isMixEvent, listsOf, mixEvent, type MixEvent } from './parse-mix.js';
import type { StreamEvent } from '../zego/stream-event.js';
import type { CallbackVerifier, SignedFields } from './verify.js';
import type { FleetClaim } from './fleet-nonces.js';

/** Far above a real callback (a few url arrays and extra_info), far below anything that hurts. */
export const MAX_BODY_BYTES = 64 * 1024;

export interface ReceiverOptions {
  verifier: CallbackVerifier;
  /** The configured AppID: a callback naming another app is refused. */
  appId: () => number;
  /** Applies a verified event; the receiver never touches state itself. */
  apply: (e: StreamEvent, receivedAtMs: number) => CallbackApply;
  /** Applies a verified mix_start / mix_stop (`atMs`: its signed timestamp); absent: mix callbacks are unwatched. */
  applyMix?: (e: MixEvent, atMs: number, receivedAtMs: number) => CallbackApply;
  record: (event: CallbackEventLabel, result: CallbackResultLabel) => void;
  logger: Logger;
  now?: () => number;
  maxBodyBytes?: number;
  /** Bytes of bodies in flight across all connections; the process-wide one unless a test gives its own. */
  bodyBudget?: BodyBudget;
  /** Who a request's bytes are charged to (client-key.ts); default: its peer address (IPv6 by /64). */
  clientKey?: (req: IncomingMessage) => string;
  /** A body slower than this on average after the grace period is answered 408 (body-budget.ts); tests change them. */
  minUpload?: { bytesPerSecond: number; graceMs: number };
  /** Fleet mode: the replay check across replicas and the fan-out of what was applied (null: local only). */
  fleet?: () => FleetHook | null;
}

/** What the receiver asks of the fleet: fleet-nonces.ts and fanout.ts behind one face. */
export interface FleetHook {
  /** The fleet's verdict on a nonce, or null when Redis is away (the local memory decides alone). */
  claim(f: SignedFields): Promise<FleetClaim | null>;
  /** An event this replica applied, for every other replica. */
  publish(e: StreamEvent, receivedAtMs: number): void;
  /** A mix_start / mix_stop to every other replica (`atMs`: its signed timestamp, what orders it). */
  publishMix?(e: MixEvent, atMs: number, receivedAtMs: number): void;
}

/** A callback that passed every local check: what is left is remembering its nonce and applying it. */
interface Admitted {
  ev: CallbackEventLabel;
  sf: SignedFields;
  /** null: a signed event that is neither stream_create nor stream_close (ignored once remembered). */
  event: StreamEvent | null;
  /** A mix_start / mix_stop and its signed timestamp in ms (event is then null). */
  mix?: { e: MixEvent; atMs: number };
}

export interface Receipt {
  status: number;
  event: CallbackEventLabel;
  result: CallbackResultLabel;
  reason: string;
  streamId?: string;
}

/** What each result answers; a body refused before it was read is answered by the body reader. */
const STATUS: Record<Exclude<CallbackResultLabel, BodyRefusal>, number> = {
  accepted: 200,
  duplicate: 200,
  stale: 200,
  unwatched: 200,
  ignored: 200,
  bad_signature: 401,
  expired: 401,
  replayed: 409,
  wrong_app: 403,
  malformed: 400,
};

const REJECT_LOG_EVERY_MS = 60_000;

/**
 * Body → verified event → state. Every answer is a status and a short reason; nothing here
 * throws on input, so bad callbacks cost a 4xx and never a 5xx.
 */
export class CallbackReceiver {
  readonly #o: ReceiverOptions;
  readonly #now: () => number;
  readonly #maxBody: number;
  readonly #budget: BodyBudget;
  readonly #clientKey: (req: IncomingMessage) => string;
  readonly #minUpload: { bytesPerSecond: number; graceMs: number };
  readonly #lastRejectLog = new Map<CallbackResultLabel, number>();

  constructor(opts: ReceiverOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
    this.#maxBody = opts.maxBodyBytes ?? MAX_BODY_BYTES;
    this.#budget = opts.bodyBudget ?? processBodyBudget;
    this.#clientKey = opts.clientKey ?? ((req) => addressKey(req.socket.remoteAddress));
    this.#minUpload = opts.minUpload ?? { bytesPerSecond: MIN_UPLOAD_BYTES_PER_SECOND, graceMs: MIN_UPLOAD_GRACE_MS };
  }

  /** Local checks only: the verifier's memory is the whole replay check. */
  receive(body: string): Receipt {
    const receivedAtMs = this.#now();
    const a = this.#admit(body, receivedAtMs);
    return this.#done('receipt' in a ? a.receipt : this.#apply(a, receivedAtMs));
  }

  /**
   * In fleet mode: the local checks, then the fleet's claim on the nonce, so a nonce used at any
   * replica counts here too; then the event is applied and published to the other replicas.
   * Without a verdict from Redis, the same as receive().
   */
  async receiveShared(body: string): Promise<Receipt> {
    const fleet = this.#o.fleet?.() ?? null;
    if (!fleet) return this.receive(body);
    const receivedAtMs = this.#now();
    const a = this.#admit(body, receivedAtMs);
    if ('receipt' in a) return this.#done(a.receipt);
    const claim = await fleet.claim(a.sf);
    if (claim === 'replayed') return this.#done(receipt(a.ev, 'replayed', 'nonce already used at another replica'));
    if (claim === 'duplicate') {
      this.#o.verifier.remember(a.sf);
      return this.#done(receipt(a.ev, 'duplicate', 'already received by the fleet'));
    }
    const r = this.#apply(a, receivedAtMs);
    if (a.event && (r.result === 'accepted' || r.result === 'unwatched' || r.result === 'stale')) {
      // Also when unwatched or stale here: another replica may watch the stream (its own patterns), or know less of it.
      fleet.publish(a.event, receivedAtMs);
    }
    // A mix callback goes out whether a task here took it or not: another replica may watch the task or discover it.
    if (a.mix && (r.result === 'accepted' || r.result === 'unwatched')) fleet.publishMix?.(a.mix.e, a.mix.atMs, receivedAtMs);
    return this.#done(r);
  }

  #done(r: Receipt): Receipt {
    this.#o.record(r.event, r.result);
    this.#log(r);
    return r;
  }

  /** The body decides how it is read (parse.ts), never the Content-Type: ZEGO does not document it. */
  #admit(body: string, receivedAtMs: number): Admitted | { receipt: Receipt } {
    const fields = parseBody(body);
    if (!fields.ok) return { receipt: receipt('other', 'malformed', fields.reason) };
    const signed = signedPart(fields.value);
    const ev = eventLabel(fields.value['event']);
    if (!signed.ok) return { receipt: receipt(ev, 'malformed', signed.reason) };
    const s = signed.value;
    const sf = { timestamp: s.timestamp, nonce: s.nonce, signature: s.signature, bodyDigest: createHash('sha1').update(body).digest('hex') };
    const v = this.#o.verifier.check(sf);
    if (!v.ok) {
      // The replay memory is full: 503, as for a body over the budget, so ZEGO retries it later.
      const r = v.result;
      return { receipt: r === 'overloaded' ? { status: 503, event: ev, result: r, reason: v.reason } : receipt(ev, r, v.reason) };
    }
    if (s.appId !== null && s.appId !== this.#o.appId()) return { receipt: receipt(ev, 'wrong_app', "appid is not this exporter's AppID") };
    if (v.duplicate) return { receipt: receipt(ev, 'duplicate', 'already received') };
    if (ev === 'other') return { ev, sf, event: null };
    if (ev === 'mix_start' || ev === 'mix_stop') {
      const lists = listsOf(body);
      const m = lists.ok ? mixEvent(fields.value, lists.value) : lists;
      if (!m.ok) return { receipt: receipt(ev, 'malformed', m.reason) };
      // The signed timestamp orders mix callbacks (whole seconds; state/mix-tasks.ts allows for it).
      return { ev, sf, event: null, mix: { e: m.value, atMs: Number(s.timestamp) * 1000 } };
    }
    const e = streamEvent(fields.value);
    if (!e.ok) return { receipt: receipt(ev, 'malformed', e.reason) };
    const badTime = implausibleTime(e.value, receivedAtMs);
    if (badTime !== null) return { receipt: receipt(ev, 'malformed', badTime) };
    return { ev, sf, event: e.value };
  }

  #apply(a: Admitted, receivedAtMs: number): Receipt {
    this.#o.verifier.remember(a.sf);
    if (a.mix) {
      const applied = this.#o.applyMix?.(a.mix.e, a.mix.atMs, receivedAtMs) ?? 'unwatched';
      return receipt(a.ev, applied, applied === 'accepted' ? 'accepted' : applied === 'unwatched' ? 'mix task not watched' : 'already applied');
    }
    if (!a.event) return receipt(a.ev, 'ignored', 'not a stream_create, stream_close, mix_start or mix_stop event');
    const applied = this.#o.apply(a.event, receivedAtMs);
    const reason =
      applied === 'accepted'
        ? 'accepted'
        : applied === 'duplicate'
          ? 'already applied'
          : applied === 'stale'
            ? 'older than what is known of the stream'
            : 'stream not watched';
    return { ...receipt(a.ev, applied, reason), streamId: a.event.streamId };
  }

  /** The node:http side: POST only, a bounded body (http/body-reader.ts), then receiveShared() (receive() outside fleet mode). */
  handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'POST') {
      req.resume();
      res.setHeader('Allow', 'POST');
      return replyText(res, 405, 'method not allowed');
    }
    const limits = { maxBytes: this.#maxBody, budget: this.#budget, client: this.#clientKey(req), minUpload: this.#minUpload };
    readBody(req, res, limits, {
      body: (text) =>
        void this.receiveShared(text).then(
          (r) => {
            if (r.status === 503) res.setHeader('Retry-After', '1');
            replyText(res, r.status, r.reason);
          },
          () => replyText(res, 500, 'internal error'),
        ),
      // The body reader answers these itself; what is left is counting and logging them as callbacks.
      refused: (result, status, reason) => void this.#done({ status, event: 'other', result, reason }),
    });
  }

  #log(r: Receipt): void {
    const fields = { event: r.event, outcome: r.result, reason: r.reason, ...(r.streamId ? { stream_id: r.streamId } : {}) };
    if (r.status < 400) {
      this.#o.logger.debug(fields, 'callback');
      return;
    }
    // Rejections can come in floods (a misconfigured secret, a scanner): one warning a minute per kind.
    const now = this.#now();
    const last = this.#lastRejectLog.get(r.result);
    if (last === undefined || now - last >= REJECT_LOG_EVERY_MS) {
      this.#lastRejectLog.set(r.result, now);
      this.#o.logger.warn(fields, 'callback rejected');
    } else {
      this.#o.logger.debug(fields, 'callback rejected');
    }
  }
}

function receipt(event: CallbackEventLabel, result: Exclude<CallbackResultLabel, BodyRefusal>, reason: string): Receipt {
  return { status: STATUS[result], event, result, reason };
}

function eventLabel(e: string | undefined): CallbackEventLabel {
  return e === 'stream_create' || e === 'stream_close' || isMixEvent(e) ? e : 'other';
}

/** Claims the request when its path is the callback path (null: callbacks are not served on this listener). */
export function callbackRoute(path: () => string | null, receiver: () => CallbackReceiver | null): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const p = path();
    const r = receiver();
    if (p === null || r === null || (req.url ?? '/').split('?')[0] !== p) return false;
    r.handle(req, res);
    return true;
  };
}

/** A listener that serves only the callback path, so callbacks can be exposed without /metrics. */
export function startCallbackListener(
  host: string | undefined,
  port: number,
  route: (req: IncomingMessage, res: ServerResponse) => boolean,
  security: Pick<ListenOptions, 'web' | 'authExempt'> = {},
  logger?: Logger,
): Promise<RunningServer> {
  return listen(
    (req, res) => {
      if (!route(req, res)) {
        req.resume();
        replyText(res, 404, 'not found');
      }
    },
    { host, port, ...security, logger, name: 'callbacks' },
  );
}
