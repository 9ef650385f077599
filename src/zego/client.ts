import type { Logger } from 'pino';
import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import type { Secret } from '../config/secret.js';
import type { ApiCallMeta, FailedOutcome, ProbeResult, RoomStreamsResult, UserCountResult } from './outcome.js';
import { parseResponse, parseStreamListResponse, parseUserNumResponse, type Parsed } from './response.js';
import type { SequenceCounter } from './sequence.js';
import { apiStreamId, MAX_ROOMS_PER_USER_NUM, type ApiAction } from './protocol.js';
import { newNonce, signature } from './sign.js';

export interface ZegoClientOptions {
  appId: number;
  secret: Secret;
  /** Base URL, e.g. https://rtc-api.zego.im */
  endpoint: string;
  isTest: boolean;
  timeoutMs: number;
  /** Shared by every client of the process, so Sequence never repeats across reloads. */
  sequence: SequenceCounter;
  dispatcher?: Dispatcher;
  now?: () => number;
  nonce?: () => string;
  /** A clock offset already learned from this endpoint (a reload replacing the client keeps it). */
  clockOffsetMs?: number;
  /** Told (once per client) when a `Date` header is too far off to be a clock skew. */
  logger?: Pick<Logger, 'warn'>;
}

/** Every answer but a room's stream list is a few hundred bytes: 64 KiB is room to spare. */
const MAX_BODY_BYTES = 64 * 1024;
/**
 * DescribeSimpleStreamList answers with every stream of the room. ZEGO documents no limit on the
 * streams of one room, so the cap is sized for far more than a real room: an entry with every field
 * at its largest (256-byte StreamId, 64-byte UserId, 256-byte UserName, times, JSON) is ~700 bytes,
 * so 1 MiB holds ~1 500 of them; a 600-stream room of ordinary ids is ~76 KB. It does not depend
 * on probe.max_room_streams: a room is read whole or not at all (a list with a hole would close
 * the missing streams).
 */
export const MAX_STREAM_LIST_BYTES = 1024 * 1024;

/**
 * ZEGO accepts 10 minutes of skew, so a real offset is minutes; a `Date` header days away is a
 * broken server clock (or a hostile one) and following it would sign every later request with a
 * Timestamp the real service refuses.
 */
export const MAX_CLOCK_OFFSET_MS = 24 * 3600_000;

/**
 * ZEGO's server API: one DescribeRTCStreamState call per probe (signed, sequenced), and the room
 * APIs DescribeSimpleStreamList and DescribeUserNum (signed, no Sequence); every call bounded in
 * time and size, and read through the same envelope parser.
 */
export class ZegoClient {
  readonly #opts: ZegoClientOptions;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #now: () => number;
  readonly #nonce: () => string;
  readonly #url: URL;
  /** Server clock minus ours, learned from the `Date` header of a timestamp error. */
  #clockOffsetMs = 0;
  #warnedBrokenDate = false;

  constructor(opts: ZegoClientOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#nonce = opts.nonce ?? newNonce;
    const carried = opts.clockOffsetMs ?? 0;
    this.#clockOffsetMs = Math.abs(carried) <= MAX_CLOCK_OFFSET_MS ? carried : 0;
    this.#ownsDispatcher = opts.dispatcher === undefined;
    this.#dispatcher = opts.dispatcher ?? new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 120_000, connect: { timeout: opts.timeoutMs } });
    this.#url = new URL(opts.endpoint.endsWith('/') ? opts.endpoint : `${opts.endpoint}/`);
  }

  get clockOffsetMs(): number {
    return this.#clockOffsetMs;
  }

  /** The URL of one DescribeRTCStreamState call; exported for tests and for the simulator's own checks. */
  buildUrl(streamId: string, nowMs: number, fleetSequence?: number): URL {
    const { appId, isTest, sequence } = this.#opts;
    return this.#signedUrl(
      'DescribeRTCStreamState',
      [
        ['StreamId', apiStreamId(streamId, appId, isTest)],
        ['Sequence', sequence.next(fleetSequence)],
      ],
      nowMs,
    );
  }

  /** Never throws: every failure is an outcome, so one bad call cannot take the prober down. */
  describeStreamState(streamId: string, signal?: AbortSignal, fleetSequence?: number): Promise<ProbeResult> {
    return this.#call(
      (nowMs) => this.buildUrl(streamId, nowMs, fleetSequence),
      (status, body, sentAtMs) => parseResponse(status, body, sentAtMs),
      signal,
    );
  }

  /**
   * The streams published in one room (DescribeSimpleStreamList). The room id is sent as
   * configured; listed stream ids lose the test prefix. Never throws.
   */
  async describeSimpleStreamList(roomId: string, signal?: AbortSignal): Promise<RoomStreamsResult> {
    const ids = { appId: this.#opts.appId, isTest: this.#opts.isTest };
    const r = await this.#call(
      (nowMs) => this.#signedUrl('DescribeSimpleStreamList', [['RoomId', roomId]], nowMs),
      (status, body, sentAtMs) => parseStreamListResponse(status, body, ids, sentAtMs),
      signal,
      MAX_STREAM_LIST_BYTES,
    );
    return { ...r, roomId };
  }

  /**
   * Users in 1..10 rooms (DescribeUserNum, `RoomId[]` repeated). Rejects with a RangeError for
   * 0 or more than 10 rooms: batching is the caller's job and a wrong batch is a bug, not an
   * answer. Otherwise never throws.
   */
  async describeUserNum(roomIds: readonly string[], signal?: AbortSignal): Promise<UserCountResult> {
    if (roomIds.length < 1 || roomIds.length > MAX_ROOMS_PER_USER_NUM) {
      throw new RangeError(`DescribeUserNum takes 1 to ${MAX_ROOMS_PER_USER_NUM} rooms, got ${roomIds.length}`);
    }
    const rooms = [...roomIds];
    const ids = { appId: this.#opts.appId, isTest: this.#opts.isTest };
    const r = await this.#call(
      (nowMs) =>
        this.#signedUrl(
          'DescribeUserNum',
          rooms.map((id): [string, string] => ['RoomId[]', id]),
          nowMs,
        ),
      (status, body) => parseUserNumResponse(status, body, rooms, ids),
      signal,
    );
    return { ...r, roomIds: rooms };
  }

  /** Action, the signed common parameters (fresh nonce and timestamp), then the Action's own. */
  #signedUrl(action: ApiAction, params: readonly (readonly [string, string])[], nowMs: number): URL {
    const { appId, secret, isTest } = this.#opts;
    const timestamp = Math.floor((nowMs + this.#clockOffsetMs) / 1000);
    const nonce = this.#nonce();
    const url = new URL(this.#url);
    const q = url.searchParams;
    q.set('Action', action);
    q.set('AppId', String(appId));
    q.set('SignatureNonce', nonce);
    q.set('Timestamp', String(timestamp));
    q.set('Signature', signature(appId, nonce, secret.reveal(), timestamp));
    q.set('SignatureVersion', '2.0');
    // Required for projects created before 2021-11-16, and ZEGO's own examples always send it.
    q.set('IsTest', isTest ? 'true' : 'false');
    for (const [k, v] of params) q.append(k, v);
    return url;
  }

  /**
   * What every Action shares: a signed GET bounded in time and body size, the body parsed by the
   * Action's reader, transport failures turned into outcomes, the clock offset learned from a
   * timestamp error. Never throws.
   */
  async #call<O extends { kind: string }>(
    url: (nowMs: number) => URL,
    parse: (status: number, body: string, sentAtMs: number) => Parsed<O>,
    signal: AbortSignal | undefined,
    maxBodyBytes = MAX_BODY_BYTES,
  ): Promise<ApiCallMeta & { outcome: O | FailedOutcome }> {
    const sentAtMs = this.#now();
    const started = performance.now();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new TimeoutError()), this.#opts.timeoutMs);
    const onOuterAbort = (): void => controller.abort(signal?.reason);
    // A signal that fired before the call never fires 'abort' again: honour it now.
    if (signal?.aborted) controller.abort(signal.reason);
    else signal?.addEventListener('abort', onOuterAbort, { once: true });
    const done = (r: Parsed<O | FailedOutcome>): ApiCallMeta & { outcome: O | FailedOutcome } => ({
      ...r,
      sentAtMs,
      durationMs: performance.now() - started,
    });
    try {
      const res = await request(url(sentAtMs), {
        method: 'GET',
        dispatcher: this.#dispatcher,
        signal: controller.signal,
        headers: { accept: 'application/json' },
      });
      let body: string;
      try {
        body = await readCapped(res.body, maxBodyBytes);
      } catch (err) {
        res.body.destroy(); // frees the keep-alive connection an unread body would pin
        throw err;
      }
      const parsed = parse(res.statusCode, body, sentAtMs);
      const outcome: { kind: string; reason?: string } = parsed.outcome;
      if (outcome.kind === 'failed' && outcome.reason === 'clock_skew') {
        this.#learnOffset(res.headers['date'], sentAtMs);
      }
      return done(parsed);
    } catch (err) {
      const timedOut = controller.signal.reason instanceof TimeoutError || err instanceof undiciErrors.HeadersTimeoutError;
      if (timedOut) {
        return done({ code: 'timeout', outcome: { kind: 'failed', reason: 'transient', message: `no response within ${this.#opts.timeoutMs} ms` } });
      }
      if (err instanceof BodyTooLargeError) {
        return done({ code: 'bad_response', outcome: { kind: 'failed', reason: 'error', message: err.message } });
      }
      return done({ code: 'network', outcome: { kind: 'failed', reason: 'transient', message: describeNetworkError(err) } });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onOuterAbort);
    }
  }

  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  #learnOffset(dateHeader: string | string[] | undefined, sentAtMs: number): void {
    const value = Array.isArray(dateHeader) ? dateHeader[0] : dateHeader;
    if (value === undefined) return;
    const serverMs = Date.parse(value);
    if (!Number.isFinite(serverMs)) return;
    // The header has 1 s resolution; the midpoint of the call is our best local estimate of it.
    const localMs = (sentAtMs + this.#now()) / 2;
    const offsetMs = Math.round(serverMs + 500 - localMs);
    if (Math.abs(offsetMs) > MAX_CLOCK_OFFSET_MS) {
      if (!this.#warnedBrokenDate) {
        this.#warnedBrokenDate = true;
        this.#opts.logger?.warn(
          { offset_sec: Math.round(offsetMs / 1000), max_offset_sec: MAX_CLOCK_OFFSET_MS / 1000 },
          "ignoring the Date header of a timestamp error: too far from this host's clock to be a skew",
        );
      }
      return;
    }
    this.#clockOffsetMs = offsetMs;
  }
}

class TimeoutError extends Error {
  constructor() {
    super('timeout');
  }
}

class BodyTooLargeError extends Error {}

async function readCapped(body: AsyncIterable<Buffer>, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) throw new BodyTooLargeError(`response body over ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function describeNetworkError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return `${typeof code === 'string' ? `${code} ` : ''}${err.message}${cause}`;
  }
  return String(err);
}
