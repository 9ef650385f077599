import { createServer, type Server } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ROOT } from './exporter-process.js';

/** One alert as Prometheus posts it to Alertmanager's API v2, with when the stand-in received it. */
export interface Posted {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt: string;
  endsAt: string;
  receivedAtMs: number;
}

/**
 * The shipped rules with their durations shortened, so minutes of alerting pass in seconds: each
 * `for:` minute becomes 5 s, each `keep_firing_for:` minute 2 s. Expressions are untouched.
 */
export function fastRules(dir: string): string {
  const text = readFileSync(join(ROOT, 'alerts/zego-alerts.yaml'), 'utf8')
    .replace(/^(\s+)for: (\d+)m$/gm, (_m, sp: string, n: string) => `${sp}for: ${Number(n) * 5}s`)
    .replace(/^(\s+)keep_firing_for: (\d+)m$/gm, (_m, sp: string, n: string) => `${sp}keep_firing_for: ${Number(n) * 2}s`);
  const file = join(dir, 'zego-alerts.yaml');
  writeFileSync(file, text);
  return file;
}

/** Stands in for Alertmanager: records every alert Prometheus sends (firing and resolved). */
export async function alertmanagerStandIn(posted: Posted[]): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/api/v2/alerts') {
        const receivedAtMs = Date.now();
        for (const a of JSON.parse(body) as Omit<Posted, 'receivedAtMs'>[]) posted.push({ ...a, receivedAtMs });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}
