import { parseArgs } from 'node:util';
import { formatDuration } from './config/duration.js';
import { callbackTlsProblem } from './callbacks/listener.js';
import { loadConfigIsolated } from './config/isolated.js';
import { DEFAULT_OUTPUT_PROBE } from './config/sections/outputs-probe.js';
import type { Config } from './config/types.js';
import { formatConfigError, formatConfigWarning } from './config/load.js';
import { loadWebConfigIsolated } from './http/web-config.js';
import type { LogFormat, LogLevel } from './log.js';
import { roomPlan, roomPlanLines } from './rooms/plan.js';
import { planBudget } from './scheduler/plan.js';

export interface Flags {
  configFile: string;
  listenAddress: string;
  /** --web.config.file: TLS, basic auth and headers in the exporter-toolkit format; undefined: plain HTTP, open. */
  webConfigFile: string | undefined;
  logLevel: LogLevel;
  logFormat: LogFormat;
  configCheck: boolean;
  /** Reload when the config or secret file changes on disk (on by default). */
  configWatch: boolean;
  version: boolean;
  help: boolean;
}

const DEFAULT_LISTEN = ':9792';
const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
const FORMATS: readonly LogFormat[] = ['json', 'pretty'];

/** Prometheus-exporter style flags (`--config.file`, `--web.listen-address`, …). */
export function parseCli(argv: string[], env: NodeJS.ProcessEnv): { ok: true; flags: Flags } | { ok: false; message: string } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'config.file': { type: 'string', default: 'config.yaml' },
        'web.listen-address': { type: 'string', default: DEFAULT_LISTEN },
        'web.config.file': { type: 'string' },
        'log.level': { type: 'string' },
        'log.format': { type: 'string', default: 'json' },
        'config.check': { type: 'boolean', default: false },
        'no-config.watch': { type: 'boolean', default: false },
        version: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    return { ok: false, message: `${(err as Error).message}\nSee --help.` };
  }
  const level = values['log.level'] ?? env['LOG_LEVEL'] ?? 'info';
  if (!(LEVELS as readonly string[]).includes(level)) return { ok: false, message: `--log.level must be one of ${LEVELS.join(', ')}, got "${level}"` };
  const format = values['log.format'];
  if (!(FORMATS as readonly string[]).includes(format)) return { ok: false, message: `--log.format must be one of ${FORMATS.join(', ')}, got "${format}"` };
  return {
    ok: true,
    flags: {
      configFile: values['config.file'],
      listenAddress: values['web.listen-address'],
      webConfigFile: values['web.config.file'] === '' ? undefined : values['web.config.file'],
      logLevel: level as LogLevel,
      logFormat: format as LogFormat,
      configCheck: values['config.check'],
      configWatch: !values['no-config.watch'],
      version: values.version,
      help: values.help,
    },
  };
}

export function helpText(version: string): string {
  return `usage: zego-stream-exporter [flags]

Prometheus exporter for ZEGOCLOUD live stream state (DescribeRTCStreamState), version ${version}.

Flags:
  --config.file=config.yaml        configuration file
  --web.listen-address=${DEFAULT_LISTEN}      address for /metrics, /-/healthy, /-/ready, /-/reload and /
  --web.config.file=FILE           TLS, client certificates, basic auth and headers for the main listener,
                                   in the Prometheus exporter-toolkit format (docs/web-config.md); the
                                   callback listener takes its TLS only with callbacks.tls: web_config
  --log.level=info                 debug, info, warn or error (default: $LOG_LEVEL, else info)
  --log.format=json                json or pretty (logs go to stderr)
  --no-config.watch                do not reload when the config, secret or web config files change on disk
                                   (watched by default: directory events plus a 30 s poll)
  --config.check                   validate the configuration, print a summary and the budget math, exit
  --version                        print the version and exit
  -h, --help                       this help

Reload: SIGHUP, POST /-/reload, or a change of the file (e.g. a ConfigMap update); SIGTERM/SIGINT stop cleanly.
`;
}

/** --config.check: the summary an operator wants before deploying, errors with file:line:col. */
export async function runConfigCheck(file: string, env: NodeJS.ProcessEnv, out: (line: string) => void, webFile?: string): Promise<number> {
  // Through the same guard as a running process: a FIFO or a hung volume is an error, not a hang.
  const [loaded, web] = await Promise.all([loadConfigIsolated(file, env), webFile === undefined ? undefined : loadWebConfigIsolated(webFile)]);
  if (web && !web.ok) {
    for (const e of web.errors) out(formatConfigError(e, webFile!));
    out(`${webFile}: ${web.errors.length} error${web.errors.length === 1 ? '' : 's'}`);
  }
  if (!loaded.ok) {
    for (const e of loaded.errors) out(formatConfigError(e, file));
    out(`${file}: ${loaded.errors.length} error${loaded.errors.length === 1 ? '' : 's'}`);
    return 1;
  }
  if (web && !web.ok) return 1;
  const cbTls = loaded.config.callbacks ? callbackTlsProblem(loaded.config.callbacks.tls, web?.config) : null;
  if (cbTls !== null) {
    out(`${file}: ${cbTls}`);
    return 1;
  }
  if (web?.ok) {
    const w = web.config;
    const tls = w.tls ? `TLS ${String(w.tls.options.minVersion)}–${String(w.tls.options.maxVersion)}, client certificates: ${w.tls.clientAuth}` : 'no TLS';
    out(`${webFile}: OK (${tls}; ${w.users.size} basic auth user${w.users.size === 1 ? '' : 's'}; ${Object.keys(w.headers).length} extra headers)`);
  }
  const c = loaded.config;
  const plan = planBudget(
    c.streams.map((s) => s.intervalMs),
    c.zego.rateLimit,
  );
  for (const w of loaded.warnings) out(formatConfigWarning(w, file));
  out(`${file}: OK${loaded.warnings.length > 0 ? ` (${loaded.warnings.length} warning${loaded.warnings.length === 1 ? '' : 's'})` : ''}`);
  out(
    `  app_id ${c.zego.appId}${c.zego.isTest ? ' (test environment)' : ''}, endpoint ${c.zego.endpoint}, secret ${c.zego.serverSecretFile ? `from ${c.zego.serverSecretFile}` : 'inline/env'}`,
  );
  const cb = c.callbacks;
  if (cb) {
    out(
      `  callbacks: ${cb.path} on their own listener ${cb.listenAddress}${cb.listenAddressDefault ? ' (the default)' : ''}, TLS ${cb.tls}; never on the main listener`,
    );
  }
  out(`  ${plan.streams} streams; demand ${round(plan.demandPerSec)} calls/s against rate_limit ${c.zego.rateLimit}/s`);
  for (const cls of plan.classes) {
    const want = formatDuration(cls.intervalMs);
    const got = Number.isFinite(cls.achievedSec) ? `${round(cls.achievedSec)}s` : 'never (no budget left)';
    out(`  ${cls.streams} × interval ${want}: refreshed every ${got}${cls.achievedSec * 1000 > cls.intervalMs ? ' (budget-limited)' : ''}`);
  }
  if (plan.overloaded) {
    out(`  demand exceeds the budget: slowest refresh ${round(plan.worstRefreshSec)}s (N/R; shorter intervals are served first)`);
  }
  // The room APIs, each on its own budget (rooms ÷ interval; rooms ÷ 10 ÷ interval).
  const rooms = c.rooms ?? [];
  for (const line of roomPlanLines(
    roomPlan(
      rooms.map((r) => r.intervalMs),
      c.zego.streamListRateLimit,
      c.zego.userNumRateLimit,
    ),
  )) {
    out(`  ${line}`);
  }
  const mix = c.mixTasks ?? [];
  if (mix.length > 0) {
    // GetMixTaskInfo's own budget: one call per task per interval; short of budget, every task waits tasks ÷ rate.
    const demand = mix.reduce((d, m) => d + 1000 / m.intervalMs, 0);
    const rate = c.zego.mixTaskInfoRateLimit;
    const key = mix.filter((m) => m.labels['severity'] === 'critical').length;
    out(
      `  ${mix.length} mix tasks (${key} key); GetMixTaskInfo demand ${round(demand)} calls/s against mix_task_info_rate_limit ${rate}/s` +
        (demand > rate ? `: budget-limited, key tasks first, the others refreshed about every ${round(mix.length / rate)}s` : ''),
    );
  }
  const outputsLine = outputPlanLine(c);
  if (outputsLine !== null) out(`  ${outputsLine}`);
  return 0;
}

/**
 * The outputs' pacing (no ZEGO budget): probes per second, and how many run at once on average —
 * an HTTP-FLV probe holds its slot for its whole window — against probe.outputs.concurrency.
 */
function outputPlanLine(c: Config): string | null {
  const outputs = c.outputs ?? [];
  if (outputs.length === 0) return null;
  const p = c.probe.outputs ?? DEFAULT_OUTPUT_PROBE;
  const flv = outputs.filter((o) => o.kind === 'flv');
  const key = outputs.filter((o) => o.labels['severity'] === 'critical').length;
  const perSec = outputs.reduce((d, o) => d + 1000 / o.intervalMs, 0);
  const open = flv.reduce((d, o) => d + p.flvWindowMs / o.intervalMs, 0);
  return (
    `${outputs.length} outputs (${outputs.length - flv.length} HLS, ${flv.length} HTTP-FLV; ${key} key): ${round(perSec)} probes/s; ` +
    `HTTP-FLV windows keep about ${round(open)} probes open of probe.outputs.concurrency ${p.concurrency}` +
    (open >= p.concurrency ? ': too few slots, probes will run late (raise probe.outputs.concurrency)' : '')
  );
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
