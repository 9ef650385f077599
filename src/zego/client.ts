import type { Logger } from 'pino';
import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import type { Secret } from '../config/secret.js';
import { ACTIONS, type ActionRow, type CallResult, type Params } from '../api/actions.js';
import type { ApiCallMeta, FailedOutcome, ProbeResult, RoomStreamsResult, UserCountResult } from './outcome.js';
import type { Parsed } from './response.js';
import type { SequenceCounter } from './sequence.js';
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

/** Re-exported for the simulator and tests, which size answers against it. */
export { MAX_STREAM_LIST_BYTES } from '../api/actions.js';

/**
 * ZEGO accepts 10 minutes of skew, so a real offset is minutes; a `Date` header days away is a
 * broken server clock (or a hostile one) and following it would sign every later request with a
 * Timestamp the real service refuses.
 */
export const MAX_CLOCK_OFFSET_MS = 24 * 3600_000;

/**
 * ZEGO's server API: any Action of the table (api/actions.ts) as one signed GET, bounded in time
 * and size by its row, its Sequence when the row carries one, and its answer read by the row's
 * parser. The three product Actions keep a typed method each, for tests and the simulator.
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
    return this.#urlFor(ACTIONS.DescribeRTCStreamState, streamId, nowMs, fleetSequence);
  }

  /**
   * One call of `row`'s Action for `input`: signed, sequenced when the row says so, its body capped
   * at the row's size and read by its parser. `sequence`: the fleet's Sequence for this call.
   * Never throws for an answer or a transport failure (every failure is an outcome, so one bad call
   * cannot take a scheduler down); a RangeError from the row's params() is a caller's bug and passes.
   */
  async call<I, R extends CallResult>(row: ActionRow<I, R>, input: I, signal?: AbortSignal, sequence?: number): Promise<R> {
    const ids = { appId: this.#opts.appId, isTest: this.#opts.isTest };
    // Checked before anything is sent or a Sequence spent.
    const params = row.params(input, ids);
    const r = await this.#call(
      (nowMs) => this.#signedUrl(row, params, nowMs, sequence),
      (status, body, sentAtMs) => row.parse(status, body, { input, ids, sentAtMs }),
      signal,
      row.maxBodyBytes,
    );
    return row.result(r, input);
  }

  describeStreamState(streamId: string, signal?: AbortSignal, fleetSequence?: number): Promise<ProbeResult> {
    return this.call(ACTIONS.DescribeRTCStreamState, streamId, signal, fleetSequence);
  }

  describeSimpleStreamList(roomId: string, signal?: AbortSignal): Promise<RoomStreamsResult> {
    return this.call(ACTIONS.DescribeSimpleStreamList, roomId, signal);
  }

  /** Rejects with a RangeError for 0 or more than 10 rooms (see the table's row). */
  async describeUserNum(roomIds: readonly string[], signal?: AbortSignal): Promise<UserCountResult> {
    return this.call(ACTIONS.DescribeUserNum, roomIds, signal);
  }

  #urlFor<I>(row: ActionRow<I, CallResult>, input: I, nowMs: number, fleetSequence?: number): URL {
    return this.#signedUrl(row, row.params(input, { appId: this.#opts.appId, isTest: this.#opts.isTest }), nowMs, fleetSequence);
  }

  /** Action, the signed common parameters (fresh nonce and timestamp), then the Action's own, then its Sequence. */
  #signedUrl(row: Pick<ActionRow<never>, 'name' | 'path' | 'sequence'>, params: Params, nowMs: number, fleetSequence?: number): URL {
    const { appId, secret, isTest } = this.#opts;
    const timestamp = Math.floor((nowMs + this.#clockOffsetMs) / 1000);
    const nonce = this.#nonce();
    const url = new URL(row.path, this.#url);
    const q = url.searchParams;
    q.set('Action', row.name);
    q.set('AppId', String(appId));
    q.set('SignatureNonce', nonce);
    q.set('Timestamp', String(timestamp));
    q.set('Signature', signature(appId, nonce, secret.reveal(), timestamp));
    q.set('SignatureVersion', '2.0');
    // Required for projects created before 2021-11-16, and ZEGO's own examples always send it.
    q.set('IsTest', isTest ? 'true' : 'false');
    for (const [k, v] of params) q.append(k, v);
    if (row.sequence) q.append('Sequence', String(this.#opts.sequence.next(fleetSequence)));
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
    maxBodyBytes: number,
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
