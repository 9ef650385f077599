import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';

/**
 * The callback path on the main listener. Callbacks moved to a listener of their own (so the
 * address ZEGO posts to never serves /metrics, /-/reload or the landing page, and its TLS is
 * chosen apart); whoever still points ZEGO at the main port must find out fast rather than have
 * polling hide it. So the old path answers 410 Gone with the port to use instead of a bare 404,
 * counts every such request, and logs the first one per process at warn.
 */
export class MisdirectedCallbacks {
  readonly #logger: Logger;
  /** The callback path now, or null while callbacks are off (then the path is nobody's: 404). */
  readonly #path: () => string | null;
  /** Where callbacks are served: the running listener's port, or the configured address. */
  readonly #where: () => string;
  #count = 0;
  #warned = false;

  constructor(o: { logger: Logger; path: () => string | null; where: () => string }) {
    this.#logger = o.logger;
    this.#path = o.path;
    this.#where = o.where;
  }

  /** Requests to the callback path that reached the main listener, since start. */
  get count(): number {
    return this.#count;
  }

  /** The main listener's route: claims the callback path only. */
  readonly route = (req: IncomingMessage, res: ServerResponse): boolean => {
    const path = this.#path();
    if (path === null || (req.url ?? '/').split('?')[0] !== path) return false;
    this.#count++;
    const where = this.#where();
    if (!this.#warned) {
      this.#warned = true;
      this.#logger.warn(
        { path, method: req.method, remote: req.socket.remoteAddress, callback_listener: where },
        `a request to the callback path reached the main listener, which no longer serves callbacks (answered 410): point ZEGO's callback URL at the callback listener (${where}); counted in zego_exporter_callbacks_misdirected_total, logged once`,
      );
    }
    req.resume(); // the body is not read; drained so the connection can be reused
    const body = `callbacks are served on their own listener (${where}, callbacks.listen_address), not on this one: point ZEGO's callback URL there\n`;
    res.writeHead(410, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
    res.end(body);
    return true;
  };
}
