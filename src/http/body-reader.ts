import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BodyBudget } from './body-budget.js';

/** Why a body was not read: larger than the cap (413), no room in the budget (503), too slow (408). */
export type BodyRefusal = 'too_large' | 'overloaded' | 'too_slow';

export interface BodyLimits {
  /** The most one body may be. */
  maxBytes: number;
  /** Bytes of bodies in flight across all connections. */
  budget: BodyBudget;
  /** Who the bytes are charged to (client-key.ts). */
  client: string;
  /** After `graceMs`, a body slower than this on average is refused (body-budget.ts). */
  minUpload: { bytesPerSecond: number; graceMs: number };
}

export interface BodyHandlers {
  /** The whole body, its share of the budget already freed. */
  body(text: string): void;
  /** Refused: called before the answer (`status`, `reason`) is written and the connection closed. */
  refused(why: BodyRefusal, status: number, reason: string): void;
}

/**
 * Reads a request body into memory within its bounds: at most `maxBytes`, reserved in the shared
 * budget under the client's share, arriving at the minimum upload rate. A body that breaks a bound
 * is answered here (413, 503 with Retry-After, 408), with `Connection: close`, and its socket
 * destroyed once the answer is out: a client that sends what cannot be held gets nothing more from
 * this connection. An upload the client aborts calls neither handler.
 */
export function readBody(req: IncomingMessage, res: ServerResponse, limits: BodyLimits, on: BodyHandlers): void {
  const { maxBytes, budget, client } = limits;
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) return tooLarge(req, res, maxBytes, on);
  // The declared length is reserved before a byte is read, so an upload that cannot fit is
  // refused as soon as its headers are in; bodies without a length reserve chunk by chunk. Each
  // client may hold only its share, so one address cannot take the whole budget.
  let reserved = 0;
  let slowTimer: NodeJS.Timeout | undefined;
  const free = (): void => {
    clearTimeout(slowTimer);
    budget.release(reserved, client);
    reserved = 0;
  };
  req.once('close', free);
  if (declared > 0) {
    const ok = budget.tryReserve(declared, client);
    if (ok !== true) return overloaded(req, res, budget, ok, on);
    reserved = declared;
  }
  // Bytes are copied into one buffer of our own, never kept as the chunks the parser hands out:
  // a chunked body of 1-byte chunks is one Buffer object (and a slice of a socket read) per byte,
  // about 400 bytes of memory for each byte the budget counts. The budget holds the capacity.
  let body = Buffer.alloc(0);
  let size = 0;
  let done = false;
  // The minimum upload rate: a body that trickles in holds its reservation (and a connection)
  // while costing its sender nothing, so after the grace period it must keep up an average of
  // bytesPerSecond or be answered 408 with its reservation freed at once.
  const { bytesPerSecond, graceMs } = limits.minUpload;
  const started = performance.now();
  const checkRate = (): void => {
    if (done) return;
    const elapsed = performance.now() - started;
    if (size < (bytesPerSecond * (elapsed - graceMs)) / 1000) {
      done = true;
      free();
      tooSlow(req, res, limits.minUpload, on);
      return;
    }
    slowTimer = setTimeout(checkRate, 1000);
    slowTimer.unref();
  };
  slowTimer = setTimeout(checkRate, graceMs + 1000);
  slowTimer.unref();
  req.on('data', (c: Buffer) => {
    if (done) return;
    const need = size + c.length;
    if (need > maxBytes) {
      done = true;
      tooLarge(req, res, maxBytes, on);
      return;
    }
    if (need > body.length) {
      // A declared length is reserved up front (one allocation); a chunked body doubles.
      const capacity = Math.min(maxBytes, Math.max(need, reserved, 2 * body.length));
      if (capacity > reserved) {
        const ok = budget.tryReserve(capacity - reserved, client);
        if (ok !== true) {
          done = true;
          overloaded(req, res, budget, ok, on);
          return;
        }
        reserved = capacity;
      }
      const grown = Buffer.allocUnsafe(capacity);
      body.copy(grown, 0, 0, size);
      body = grown;
    }
    c.copy(body, size);
    size = need;
  });
  req.on('end', () => {
    if (done) return;
    done = true;
    const text = body.toString('utf8', 0, size);
    body = Buffer.alloc(0);
    free();
    on.body(text);
  });
  // An aborted upload is the client's loss; there is nobody left to answer.
  req.on('error', () => {
    done = true;
  });
}

/** A plain-text answer of one line, never cached. */
export function replyText(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) return;
  const body = `${text}\n`;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}

function overloaded(req: IncomingMessage, res: ServerResponse, budget: BodyBudget, over: 'client' | 'process', on: BodyHandlers): void {
  const why =
    over === 'client'
      ? `this client's request bodies in flight over its ${budget.perClientBytes}-byte share`
      : `request bodies in flight over the ${budget.limitBytes}-byte budget`;
  refuse(req, res, on, 'overloaded', 503, `${why}; retry later`, { 'Retry-After': '1' });
}

function tooSlow(req: IncomingMessage, res: ServerResponse, min: BodyLimits['minUpload'], on: BodyHandlers): void {
  refuse(req, res, on, 'too_slow', 408, `body slower than ${min.bytesPerSecond} bytes/s after the first ${min.graceMs} ms`);
  // The client is not reading its answer in time either, perhaps: the socket goes after a second regardless.
  setTimeout(() => req.destroy(), 1000).unref();
}

function tooLarge(req: IncomingMessage, res: ServerResponse, maxBytes: number, on: BodyHandlers): void {
  refuse(req, res, on, 'too_large', 413, `body larger than ${maxBytes} bytes`);
}

function refuse(
  req: IncomingMessage,
  res: ServerResponse,
  on: BodyHandlers,
  why: BodyRefusal,
  status: number,
  reason: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  on.refused(why, status, reason);
  res.setHeader('Connection', 'close');
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  replyText(res, status, reason);
  res.on('finish', () => req.destroy());
}
