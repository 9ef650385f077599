import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from './binaries.js';
import { freePort } from './ports.js';

export interface PrometheusProcess {
  url: string;
  query: (expr: string) => Promise<{ status: string; error?: string; data: { resultType: string; result: unknown[] } }>;
  alerts: () => Promise<{ labels: Record<string, string>; state: string }[]>;
  stop: () => Promise<void>;
}

/**
 * A real Prometheus (Debian's package; $PROMETHEUS or from PATH, a missing one fails the test with
 * how to install it) on a random loopback port, scraping and evaluating every second.
 */
export async function startPrometheus(opts: {
  target: string;
  job: string;
  ruleFiles: string[];
  /** More keys of the scrape job (scheme, tls_config, basic_auth), as YAML lines indented 4 spaces. */
  scrapeExtra?: string;
}): Promise<PrometheusProcess> {
  const binary = requireBinary('prometheus', 'PROMETHEUS');
  const dir = mkdtempSync(join(tmpdir(), 'zego-prom-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n${opts.ruleFiles.map((f) => `  - ${JSON.stringify(f)}`).join('\n')}\n` +
      `scrape_configs:\n  - job_name: ${opts.job}\n${opts.scrapeExtra ?? ''}    static_configs:\n      - targets: [${JSON.stringify(opts.target)}]\n`,
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    binary,
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((res) => child.on('exit', () => res()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus did not start:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    stop,
    query: async (expr) =>
      (await (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as Awaited<ReturnType<PrometheusProcess['query']>>,
    alerts: async () =>
      ((await (await fetch(`${url}/api/v1/alerts`)).json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } }).data.alerts,
  };
}
