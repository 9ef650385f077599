import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';

/**
 * The image's HEALTHCHECK: the runtime image has no shell and no curl, so Node asks /-/healthy
 * itself. Exit 0 when it answers 200 within 3 s, else 1. The URL follows the default
 * --web.listen-address (:9792); set ZEGO_EXPORTER_HEALTHCHECK_URL when the exporter listens elsewhere,
 * or to https://127.0.0.1:9792/-/healthy when --web.config.file turns TLS on. /-/healthy needs no
 * password (docs/web-config.md). Over https to a loopback address the certificate is not checked:
 * it names the service's DNS name, not 127.0.0.1, and the process on the other end is our own.
 */
const url = new URL(process.env['ZEGO_EXPORTER_HEALTHCHECK_URL'] ?? 'http://127.0.0.1:9792/-/healthy');
const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);

try {
  const status = await new Promise<number>((resolve, reject) => {
    const done = (res: IncomingMessage): void => {
      res.resume();
      resolve(res.statusCode ?? 0);
    };
    const req = url.protocol === 'https:' ? httpsGet(url, { rejectUnauthorized: !loopback, timeout: 3000 }, done) : httpGet(url, { timeout: 3000 }, done);
    req.on('timeout', () => req.destroy(new Error('no answer within 3 s')));
    req.on('error', reject);
  });
  process.exitCode = status === 200 ? 0 : 1;
  if (status !== 200) process.stderr.write(`unhealthy: ${url.href} answered ${status}\n`);
} catch (err) {
  process.stderr.write(`unhealthy: ${url.href}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
