import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The project root, found from here whether this runs as TypeScript (tests) or built (bench). */
function projectRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above test/helpers');
    dir = up;
  }
  return dir;
}

export const ROOT = projectRoot();
export const MAIN = join(ROOT, 'dist/src/main.js');

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export interface ExporterProcess {
  url: string;
  child: ChildProcess;
  dir: string;
  configFile: string;
  /** Everything the process wrote to stderr, raw. */
  stderr: () => string;
  logs: () => LogLine[];
  /** The callback listener's URL, from its start-up line (waits for it: the parts start after the main listener). */
  callbackUrl: () => Promise<string>;
  /** Sends the signal and resolves with the exit code (or null when killed). */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
  exited: Promise<number | null>;
}

const running = new Set<ExporterProcess>();

/**
 * Starts the built exporter as a real process on a random loopback port, with the given config
 * text, and waits for its "listening" log line. Every process started here is tracked, so
 * stopAll() in an afterEach leaves nothing behind.
 */
export async function startExporter(
  configYaml: string,
  opts: {
    env?: Record<string, string>;
    args?: string[];
    logLevel?: string;
    timeoutMs?: number;
    nofile?: number;
    /** Another entry point taking the same flags (a test fixture over dist/src/); default dist/src/main.js. */
    main?: string;
  } = {},
): Promise<ExporterProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'zego-exp-test-'));
  const configFile = join(dir, 'config.yaml');
  writeFileSync(configFile, configYaml);
  const argv = [
    opts.main ?? MAIN,
    `--config.file=${configFile}`,
    '--web.listen-address=127.0.0.1:0',
    `--log.level=${opts.logLevel ?? 'debug'}`,
    ...(opts.args ?? []),
  ];
  // `nofile`: run under a lowered fd limit (soft and hard), so an fd flood needs fewer connections.
  const [cmd, args] = opts.nofile === undefined ? [process.execPath, argv] : ['prlimit', [`--nofile=${opts.nofile}:${opts.nofile}`, process.execPath, ...argv]];
  const child = spawn(cmd, args, { env: { PATH: process.env['PATH'] ?? '', ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdout!.resume();
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const logs = (): LogLine[] =>
    err
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l) as LogLine;
        } catch {
          return { level: 0, msg: l };
        }
      });

  const proc: ExporterProcess = {
    url: '',
    child,
    dir,
    configFile,
    stderr: () => err,
    logs,
    exited,
    callbackUrl: async () => {
      const until = Date.now() + 10_000;
      for (;;) {
        const line = logs().find((l) => l.msg === 'callbacks listening');
        if (line && typeof line['address'] === 'string') return line['address'];
        if (child.exitCode !== null || Date.now() > until) throw new Error(`no callback listener came up:\n${err}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      running.delete(proc);
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
  running.add(proc);

  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  while (Date.now() < deadline) {
    const line = logs().find((l) => l.msg === 'listening');
    if (line && typeof line['address'] === 'string') {
      proc.url = line['address'];
      return proc;
    }
    if (child.exitCode !== null) throw new Error(`exporter exited with ${child.exitCode}:\n${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await proc.stop('SIGKILL');
  throw new Error(`exporter did not start:\n${err}`);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop('SIGKILL')));
}

/** Runs the CLI to completion (for --version, --config.check, bad configs). */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [MAIN, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    });
  });
}

export function writeTemp(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'zego-cfg-'));
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** Parses a text-format exposition into `name{labels}` → value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

export async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(`${url}/metrics`);
  return parseMetrics(await res.text());
}

/** Polls until `check` returns true, or fails with the last value seen. */
export async function eventually<T>(read: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 10_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await read();
  while (!check(last)) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(last, replacer)}`);
    await new Promise((r) => setTimeout(r, everyMs));
    last = await read();
  }
  return last;
}

function replacer(_k: string, v: unknown): unknown {
  return v instanceof Map ? Object.fromEntries(v) : v;
}
