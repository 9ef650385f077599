/**
 * The image's HEALTHCHECK: the runtime image has no shell and no curl, so Node asks /-/healthy
 * itself. Exit 0 when it answers 200 within 3 s, else 1. The URL follows the default
 * --web.listen-address (:9792); set ZEGO_EXPORTER_HEALTHCHECK_URL when the exporter listens elsewhere.
 */
const url = process.env['ZEGO_EXPORTER_HEALTHCHECK_URL'] ?? 'http://127.0.0.1:9792/-/healthy';

try {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  process.exitCode = res.status === 200 ? 0 : 1;
  if (res.status !== 200) process.stderr.write(`unhealthy: ${url} answered ${res.status}\n`);
} catch (err) {
  process.stderr.write(`unhealthy: ${url}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
