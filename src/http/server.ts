import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { CONTENT_TYPES, negotiate, type Format } from '../metrics/exposition.js';
import { acceptsGzip, gzipChunks } from '../metrics/gzip.js';
import { PATHS } from './paths.js';
import { ConnectionCap, countShed, type ListenerName } from './connection-cap.js';
import { PeerLimit } from './peer-limit.js';
import type { WebSecurity } from './web-security.js';

/** What the HTTP layer needs from the rest; it knows nothing about ZEGO. */
export interface HttpHandlers {
  metrics(format: Format): Promise<string | Buffer | readonly Buffer[]>;
  ready(): { ready: true } | { ready: false; reason: string };
  landingPage(): string;
  /** POST /-/reload: absent → 404. */
  reload?(): Promise<{ ok: true } | { ok: false; error: string }>;
  /** The parts' routes (parts/part.ts: callbacks, …) tried before the built-in ones; return false to pass. */
  extra?(req: IncomingMessage, res: ServerResponse): boolean;
}

export interface HttpServerOptions {
  host?: string;
  port: number;
  handlers: HttpHandlers;
  logger: Logger;
  /** Defaults suit production; tests shorten them to watch a slow client being cut off. */
  timeouts?: { headersMs?: number; requestMs?: number; checkIntervalMs?: number };
  /** Open connections one remote address may hold (peer-limit.ts); tests lower it. */
  connectionsPerPeer?: number;
  /** Open connections and TLS handshakes this listener may hold (connection-cap.ts); default: its share of the fd limit, 64. */
  maxConnections?: number;
  maxHandshakes?: number;
  /** --web.config.file: TLS, basic auth and headers; absent: plain HTTP, open. */
  web?: WebSecurity | undefined;
  /** Paths basic auth leaves open (the callback path on the main listener: ZEGO sends no credentials). */
  authExempt?: (path: string) => boolean;
}

export interface RunningServer {
  server: Server;
  address: AddressInfo;
  url: string;
  /** Stops accepting, ends idle keep-alive connections, and cuts the rest after `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

export async function startHttpServer(opts: HttpServerOptions): Promise<RunningServer> {
  const { handlers, logger } = opts;
  return listen(
    (req, res) => {
      route(req, res, handlers).catch((err: unknown) => {
        logger.error({ err, path: req.url }, 'HTTP handler failed');
        if (!res.headersSent) send(res, 500, 'internal error\n');
        else res.destroy();
      });
    },
    { ...opts, logger },
  );
}

/** Options of listen(): where, the deadlines, and the web config's security with what it exempts. */
export type ListenOptions = Pick<HttpServerOptions, 'timeouts' | 'web' | 'authExempt' | 'connectionsPerPeer' | 'maxConnections' | 'maxHandshakes'> & {
  host?: string | undefined;
  port: number;
  /** Told (once a minute) when the connection cap closes connections. */
  logger?: Logger | undefined;
  /** The `listener` label of what its bounds close (default main). */
  name?: ListenerName;
};

/** How often the connection cap's warning may be logged. */
const CAP_LOG_EVERY_MS = 60_000;

/** How long a client that was answered 4xx/408 and told to go may take to close its side. */
const CLIENT_ERROR_LINGER_MS = 1000;

/**
 * A hardened listener for any handler: the main server and the callback listener (the one ZEGO
 * reaches from outside) get the same limits. Slow or stuck clients must not pin sockets: headers,
 * whole requests and idle keep-alives are bounded, and the deadlines are checked every second
 * (Node's default is every 30 s, which lets a slow-loris client hold a socket that long).
 */
export async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, opts: ListenOptions): Promise<RunningServer> {
  const t = opts.timeouts ?? {};
  const { web, authExempt } = opts;
  const guarded = web
    ? (req: IncomingMessage, res: ServerResponse): void => {
        const ok = web.admit(req, res, authExempt?.((req.url ?? '/').split('?')[0]!) ?? false);
        if (ok === true) handler(req, res);
        else if (ok !== false) void ok.then((pass) => pass && handler(req, res));
      }
    : handler;
  const httpOptions = { connectionsCheckingInterval: t.checkIntervalMs ?? 1000 };
  // One listener, with TLS or without: the deadlines and caps below hold for both.
  const tls = web?.tlsOptions;
  // A client that connects and never finishes the handshake is the TLS slow-loris: bounded like headers, not Node's 120 s.
  const https = tls ? createHttpsServer({ ...httpOptions, ...tls, handshakeTimeout: t.headersMs ?? 10_000 }, guarded) : undefined;
  const server: Server = https ?? createServer(httpOptions, guarded);
  if (https) {
    const detach = web!.attach(https);
    https.once('close', detach);
  }
  server.headersTimeout = t.headersMs ?? 10_000;
  server.requestTimeout = t.requestMs ?? 30_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 100;
  // Before the TLS handshake too: a flood of connections that never send a byte is held here.
  const peers = new PeerLimit(opts.connectionsPerPeer);
  // Then the listener's own cap, whatever the addresses: below the fd limit, oldest idle first out.
  const cap = new ConnectionCap(opts.maxConnections, opts.maxHandshakes);
  let lastCapLog = -Infinity;
  const name = opts.name ?? 'main';
  peers.onRefused = () => countShed(name, 'per_address');
  cap.onShed = (reason) => {
    countShed(name, reason);
    const now = performance.now();
    if (now - lastCapLog < CAP_LOG_EVERY_MS) return;
    lastCapLog = now;
    opts.logger?.warn(
      { listener: name, port: (server.address() as AddressInfo | null)?.port, max_connections: cap.max, max_handshakes: cap.maxHandshakes },
      'listener at its connection cap: closing the longest-idle connections (a flood?)',
    );
  };
  server.on('connection', (s: Socket) => {
    peers.admit(s);
    cap.admit(s, https !== undefined);
  });
  if (https) https.on('secureConnection', (s: Socket) => cap.secured(s));
  server.on('request', (req: IncomingMessage, res: ServerResponse) => cap.request(req.socket, res));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // Only an HTTP-level error gets an HTTP answer. A TLS one (a handshake that timed out, plain
    // HTTP sent to the TLS port) comes here too, on a socket that cannot carry one: writing would
    // wait for a handshake that never completes, and hold the socket.
    const code = err.code ?? '';
    const http = code.startsWith('HPE_') || code.startsWith('ERR_HTTP_');
    const answer = code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    if (!http || !socket.writable) return socket.destroy();
    socket.end(`HTTP/1.1 ${answer}\r\nConnection: close\r\n\r\n`);
    // end() only half-closes: a peer that never closes its side (never reads the answer) would
    // keep the socket, and a file descriptor, for ever; enough of them and accept() fails.
    setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
  });
  // Sockets still in the TLS handshake are not HTTP connections yet, so closeAllConnections() misses them.
  const handshaking = new Set<Socket>();
  if (https) {
    https.on('connection', (s: Socket) => {
      handshaking.add(s);
      s.once('close', () => handshaking.delete(s));
    });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    address,
    url: `${https ? 'https' : 'http'}://${host}:${address.port}`,
    close: (graceMs = 2000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.closeAllConnections();
          for (const s of handshaking) s.destroy();
        }, graceMs);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}

async function route(req: IncomingMessage, res: ServerResponse, h: HttpHandlers): Promise<void> {
  if (h.extra?.(req, res)) return;
  const path = (req.url ?? '/').split('?')[0];
  const method = req.method ?? 'GET';
  const readOnly = method === 'GET' || method === 'HEAD';
  switch (path) {
    case PATHS.metrics: {
      if (!readOnly) return methodNotAllowed(res, 'GET, HEAD');
      const format = negotiate(req.headers.accept);
      const body = await h.metrics(format);
      // Caches between the scraper and us must not hand a gzipped body to a scraper that did not ask for one.
      res.setHeader('Vary', 'Accept-Encoding');
      if (!acceptsGzip(req.headers['accept-encoding'])) return send(res, 200, body, CONTENT_TYPES[format], method === 'HEAD');
      res.setHeader('Content-Encoding', 'gzip');
      // HEAD too: its Content-Length is the one a GET would carry.
      return send(
        res,
        200,
        await gzipChunks(typeof body === 'string' ? [Buffer.from(body)] : Buffer.isBuffer(body) ? [body] : body),
        CONTENT_TYPES[format],
        method === 'HEAD',
      );
    }
    case PATHS.healthy:
      if (!readOnly) return methodNotAllowed(res, 'GET, HEAD');
      return send(res, 200, 'Healthy\n', undefined, method === 'HEAD');
    case PATHS.ready: {
      if (!readOnly) return methodNotAllowed(res, 'GET, HEAD');
      const r = h.ready();
      return r.ready ? send(res, 200, 'Ready\n', undefined, method === 'HEAD') : send(res, 503, `Not ready: ${r.reason}\n`, undefined, method === 'HEAD');
    }
    case PATHS.reload: {
      if (!h.reload) return send(res, 404, 'not found\n');
      if (method !== 'POST' && method !== 'PUT') return methodNotAllowed(res, 'POST, PUT');
      req.resume(); // the body means nothing here; drain it so the connection can be reused
      const r = await h.reload();
      return r.ok ? send(res, 200, 'reloaded\n') : send(res, 500, `failed to reload config: ${r.error}\n`);
    }
    case PATHS.landing:
      if (!readOnly) return methodNotAllowed(res, 'GET, HEAD');
      return send(res, 200, h.landingPage(), 'text/html; charset=utf-8', method === 'HEAD');
    default:
      return send(res, 404, 'not found\n');
  }
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('Allow', allow);
  send(res, 405, 'method not allowed\n');
}

function send(res: ServerResponse, status: number, body: string | Buffer | readonly Buffer[], type = 'text/plain; charset=utf-8', headOnly = false): void {
  const parts = typeof body === 'string' || Buffer.isBuffer(body) ? [body] : body;
  let length = 0;
  for (const p of parts) length += Buffer.byteLength(p);
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': length, 'Cache-Control': 'no-store' });
  // Corked, a body of many chunks (the /metrics blocks) goes out in one writev, not one syscall each.
  res.cork();
  if (!headOnly) for (const p of parts) res.write(p);
  res.uncork();
  res.end();
}
