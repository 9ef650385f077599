import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from './binaries.js';
import { freePort } from './ports.js';

export interface PrometheusProcess {
  url: string;
  query: (expr: string) => Promise<{ status: string; error?: string; data: { resultType: string; result: unknown[] } }>;
  queryRange: (
    expr: string,
    startSec: number,
    endSec: number,
    stepSec: number,
  ) => Promise<{ status: string; error?: string; data: { result: { metric: Record<string, string>; values: [number, string][] }[] } }>;
  alerts: () => Promise<{ labels: Record<string, string>; state: string; activeAt?: string; keepFiringSince?: string }[]>;
  /** Replaces the scrape targets (file-based discovery: Prometheus picks the change up within a second or so). */
  setTargets: (targets: string[]) => void;
  stop: () => Promise<void>;
}

export interface PrometheusOptions {
  /** One target, or several (`targets`); either way they can be replaced later with setTargets(). */
  target?: string;
  targets?: string[];
  job: string;
  ruleFiles: string[];
  /** Base URL of an Alertmanager (or a stand-in) to send alerts to; resent every second. */
  alertmanager?: string;
  /** More keys of the scrape job (scheme, tls_config, basic_auth), as YAML lines indented 4 spaces. */
  scrapeExtra?: string;
}

/**
 * A real Prometheus (Debian's package; $PROMETHEUS or from PATH, a missing one fails the test with
 * how to install it) on a random loopback port, scraping and evaluating every
 * second. Targets come from a file (file_sd), so a test can replace an exporter as a rollout does.
 */
export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusProcess> {
  const binary = requireBinary('prometheus', 'PROMETHEUS');
  const dir = mkdtempSync(join(tmpdir(), 'zego-prom-'));
  const config = join(dir, 'prometheus.yml');
  const targetsFile = join(dir, 'targets.json');
  const setTargets = (targets: string[]): void => {
    // Written aside and renamed: Prometheus never reads a half-written file.
    writeFileSync(`${targetsFile}.tmp`, JSON.stringify([{ targets }]));
    renameSync(`${targetsFile}.tmp`, targetsFile);
  };
  setTargets(opts.targets ?? (opts.target !== undefined ? [opts.target] : []));
  const alerting = opts.alertmanager
    ? `alerting:\n  alertmanagers:\n    - api_version: v2\n      scheme: http\n      static_configs:\n        - targets: [${JSON.stringify(new URL(opts.alertmanager).host)}]\n`
    : '';
  writeFileSync(
    config,
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n${alerting}rule_files:\n${opts.ruleFiles.map((f) => `  - ${JSON.stringify(f)}`).join('\n')}\n` +
      `scrape_configs:\n  - job_name: ${opts.job}\n${opts.scrapeExtra ?? ''}    file_sd_configs:\n      - files: [${JSON.stringify(targetsFile)}]\n        refresh_interval: 1s\n`,
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
      ...(opts.alertmanager ? ['--rules.alert.resend-delay=1s'] : []),
    ],
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
    setTargets,
    query: async (expr) =>
      (await (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as Awaited<ReturnType<PrometheusProcess['query']>>,
    queryRange: async (expr, startSec, endSec, stepSec) =>
      (await (await fetch(`${url}/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${startSec}&end=${endSec}&step=${stepSec}`)).json()) as Awaited<
        ReturnType<PrometheusProcess['queryRange']>
      >,
    alerts: async () =>
      (
        (await (await fetch(`${url}/api/v1/alerts`)).json()) as {
          data: { alerts: { labels: Record<string, string>; state: string; activeAt?: string; keepFiringSince?: string }[] };
        }
      ).data.alerts,
  };
}
