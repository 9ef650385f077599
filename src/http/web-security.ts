import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { TLSSocket, TlsOptions } from 'node:tls';
import type { Logger } from 'pino';
import { AUTH_LIMIT_RULE, BasicAuth, type AuthVerdict } from './basic-auth.js';
import { PATHS } from './paths.js';
import type { WebConfig } from './web-config.js';

/**
 * Paths basic auth leaves open, on top of the callback path. exporter-toolkit exempts nothing; here
 * the health paths stay open so the image HEALTHCHECK and the kubelet's probes work without a
 * password in the image or the manifests. They say only "Healthy" / "Ready" / why not ready, and
 * still go over TLS (docs/web-config.md).
 */
const OPEN_PATHS: ReadonlySet<string> = new Set([PATHS.healthy, PATHS.ready]);

/**
 * The running web config, shared by every listener: the TLS options they are built with, the
 * certificates a reload hands them (setSecureContext, for the next connection), the client
 * certificate modes Node has no switch for, basic auth and the extra headers.
 */
export class WebSecurity {
  #config: WebConfig;
  readonly #auth: BasicAuth;
  readonly #servers = new Set<HttpsServer>();
  readonly #log: Logger;
  /** --web.config.file, which the web-config part re-reads (absent: built from a config in memory, as tests do). */
  readonly file: string | undefined;

  constructor(config: WebConfig, logger: Logger, opts: { file?: string; now?: () => number; bcryptWorkers?: number } = {}) {
    this.#config = config;
    this.#log = logger;
    this.file = opts.file;
    this.#auth = new BasicAuth(config.users, {
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.bcryptWorkers !== undefined ? { poolSize: opts.bcryptWorkers } : {}),
      onLimited: (address, _failures, forSec) =>
        this.#log.warn({ remote: address, for_s: forSec }, `basic auth: ${AUTH_LIMIT_RULE} from this address; answering 429 without checking for ${forSec}s`),
    });
  }

  /** Ends the bcrypt workers (at shutdown); a check still waiting is answered 503. */
  close(): Promise<void> {
    return this.#auth.close();
  }

  get config(): WebConfig {
    return this.#config;
  }

  /** For tests: bcrypt checks run so far. */
  get bcryptRuns(): number {
    return this.#auth.bcryptRuns;
  }

  /** What a listener starting now is built with: TLS options, or undefined for plain HTTP. Fixed per listener for its life. */
  get tlsOptions(): TlsOptions | undefined {
    return this.#config.tls?.options;
  }

  /** A TLS listener joins: it gets new certificates on reload and the client-certificate checks per connection. Returns its detach. */
  attach(server: HttpsServer): () => void {
    this.#servers.add(server);
    server.on('secureConnection', (socket: TLSSocket) => {
      const refusal = this.#clientCertRefusal(socket);
      if (refusal !== null) {
        this.#log.debug({ remote: socket.remoteAddress, reason: refusal }, 'TLS client refused');
        socket.destroy();
      }
    });
    return () => this.#servers.delete(server);
  }

  /**
   * Before the handler: the configured headers, then basic auth unless `exempt` or a health path.
   * Answers 401, 429 or 503 itself and returns false when the request must not go on; a Promise
   * only while bcrypt runs (a cached password answers at once).
   */
  admit(req: IncomingMessage, res: ServerResponse, exempt: boolean): boolean | Promise<boolean> {
    for (const [k, v] of Object.entries(this.#config.headers)) res.setHeader(k, v);
    if (exempt || !this.#auth.enabled || OPEN_PATHS.has((req.url ?? '/').split('?')[0]!)) return true;
    const v = this.#auth.check(req.headers.authorization, req.socket.remoteAddress);
    const answer = (verdict: AuthVerdict): boolean => {
      if (!verdict.ok) refuse(req, res, verdict);
      return verdict.ok;
    };
    return v instanceof Promise ? v.then(answer, () => answer({ ok: false, status: 503, retryAfterSec: 1 })) : answer(v);
  }

  /**
   * A validated new web config. Users, headers and certificates apply at once (the next connection
   * and request); turning TLS on or off needs new listeners, so that part waits for a restart and
   * the returned message says so.
   */
  apply(next: WebConfig): string | null {
    const wasTls = this.#config.tls !== undefined;
    const isTls = next.tls !== undefined;
    if (wasTls !== isTls) {
      const { tls: _ignored, ...rest } = next;
      this.#config = { ...rest, ...(this.#config.tls ? { tls: this.#config.tls } : {}) };
      this.#auth.setUsers(next.users);
      return `tls_server_config was ${isTls ? 'added' : 'removed'}: TLS ${isTls ? 'starts' : 'stops'} only after a restart; users and headers applied`;
    }
    this.#config = next;
    this.#auth.setUsers(next.users);
    if (next.tls) {
      const { requestCert, rejectUnauthorized } = next.tls.options;
      for (const s of this.#servers) {
        s.setSecureContext(next.tls.options);
        // setSecureContext leaves these two as they were; the server reads them per new connection.
        Object.assign(s, { requestCert, rejectUnauthorized });
      }
    }
    return null;
  }

  /** The client-certificate modes between "none" and "required and verified", which Node leaves to us, and client_allowed_sans. */
  #clientCertRefusal(socket: TLSSocket): string | null {
    const mode = this.#config.tls?.clientAuth;
    const sans = this.#config.tls?.allowedSans;
    const cert = socket.getPeerCertificate();
    const given = cert !== null && Object.keys(cert).length > 0;
    if (mode === 'RequireAnyClientCert' && !given) return 'no client certificate';
    if (mode === 'VerifyClientCertIfGiven' && given && !socket.authorized) return `client certificate not verified: ${String(socket.authorizationError)}`;
    if (mode === 'RequireAndVerifyClientCert' && !socket.authorized) return `client certificate not verified: ${String(socket.authorizationError)}`;
    if (sans !== undefined) {
      const names = subjectAltNames(socket.getPeerX509Certificate()?.subjectAltName);
      if (!names.some((n) => sans.includes(n))) return 'client certificate names none of client_allowed_sans';
    }
    return null;
  }
}

/**
 * The values of a certificate's subjectAltName as Node prints it (`DNS:a, IP Address:1.2.3.4,
 * email:x@y, URI:spiffe://…`; a value with a comma or quote comes JSON-quoted), compared as Go's
 * exporter-toolkit compares them: the bare values of DNS names, e-mails, IPs and URIs.
 */
export function subjectAltNames(text: string | undefined): string[] {
  if (!text) return [];
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|, )(DNS|IP Address|email|URI):("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const raw = m[2]!;
    try {
      out.push(raw.startsWith('"') ? (JSON.parse(raw) as string) : raw);
    } catch {
      // an unparsable entry matches nothing
    }
  }
  return out;
}

const REFUSALS: Readonly<Record<401 | 429 | 503, string>> = {
  401: 'Unauthorized\n',
  429: 'Too many failed logins from this address; try again later\n',
  503: 'Too many logins being checked; try again\n',
};

function refuse(req: IncomingMessage, res: ServerResponse, v: Exclude<AuthVerdict, { ok: true }>): void {
  req.resume(); // drain any body so the connection can be reused
  const body = REFUSALS[v.status];
  res.writeHead(v.status, {
    ...(v.status === 401 ? { 'WWW-Authenticate': 'Basic' } : { 'Retry-After': String(v.retryAfterSec) }),
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  res.end(body);
}
