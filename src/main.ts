#!/usr/bin/env node
import { helpText, parseCli, runConfigCheck } from './cli.js';
import { parseHostPort } from './zego/protocol.js';
import { loadConfigIsolated, stopLoaders } from './config/isolated.js';
import { formatConfigError, formatConfigWarning } from './config/load.js';
import { ConfigWatcher } from './config/watch.js';
import { Exporter } from './exporter.js';
import { startHttpServer } from './http/server.js';
import { loadWebConfigIsolated } from './http/web-config.js';
import { WebSecurity } from './http/web-security.js';
import { createLogger } from './log.js';
import { ReloadStatus, Reloader } from './reload.js';
import { REVISION, VERSION } from './version.js';
import { testClock, testMixStopWindow } from './test-clock.js';

/** Wiring only: flags → config → the parts → start → signals → stop. */
async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const cli = parseCli(argv, env);
  if (!cli.ok) {
    process.stderr.write(`${cli.message}\n`);
    return 2;
  }
  const flags = cli.flags;
  if (flags.help) {
    process.stdout.write(helpText(VERSION));
    return 0;
  }
  if (flags.version) {
    process.stdout.write(`zego-stream-exporter, version ${VERSION} (revision: ${REVISION})\n  node: ${process.version}\n`);
    return 0;
  }
  if (flags.configCheck) return runConfigCheck(flags.configFile, env, (s) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`), flags.webConfigFile);

  const log = createLogger(flags.logLevel, flags.logFormat);
  // SIGHUP's default action ends the process, and loading a large config takes seconds: until the
  // reloader runs, a SIGHUP (a config-reloader sidecar, an operator) is remembered, not fatal.
  let hup: () => void = () => (hupPending = true);
  let hupPending = false;
  process.on('SIGHUP', () => hup());
  const listen = parseHostPort(flags.listenAddress);
  if (!listen.ok) {
    log.error(`--web.listen-address: ${listen.message}`);
    return 2;
  }
  log.debug({ file: flags.configFile }, 'loading the configuration');
  const loaded = await loadConfigIsolated(flags.configFile, env);
  if (!loaded.ok) {
    for (const e of loaded.errors) log.error(formatConfigError(e, flags.configFile));
    log.error({ file: flags.configFile, errors: loaded.errors.length }, 'invalid configuration, not starting');
    return 1;
  }
  for (const w of loaded.warnings) log.warn(formatConfigWarning(w, flags.configFile));

  const clock = testClock(env);
  if (clock && !clock.ok) {
    log.error(clock.message);
    return 1;
  }
  if (clock) log.warn({ offset_ms: clock.offsetMs }, 'test clock offset in effect: this process runs its clock off the host clock (tests only)');
  const mixWindow = testMixStopWindow(env);
  if (mixWindow && !mixWindow.ok) {
    log.error(mixWindow.message);
    return 1;
  }
  if (mixWindow)
    log.warn(
      { window_ms: mixWindow.ms },
      "test mix stop window in effect: a mix task's stop is counted without its mix_stop sooner than ZEGO's retry window allows (tests only)",
    );

  let web: WebSecurity | undefined;
  if (flags.webConfigFile !== undefined) {
    const file = flags.webConfigFile;
    const w = await loadWebConfigIsolated(file);
    if (!w.ok) {
      for (const e of w.errors) log.error(formatConfigError(e, file));
      log.error({ file, errors: w.errors.length }, 'invalid web config, not starting');
      return 1;
    }
    web = new WebSecurity(w.config, log, { file });
  }

  const reloadStatus = new ReloadStatus();
  const exporter = new Exporter({
    config: loaded.config,
    logger: log,
    build: { version: VERSION, revision: REVISION },
    reloadStatus,
    ...(clock ? { now: clock.now } : {}),
    ...(mixWindow ? { mixStopWindowMs: mixWindow.ms } : {}),
    ...(web ? { web } : {}),
  });
  const reloader = new Reloader({ file: flags.configFile, env, target: exporter, status: reloadStatus, logger: log, hash: loaded.hash });
  let http;
  try {
    http = await startHttpServer({
      host: listen.host,
      port: listen.port,
      logger: log,
      handlers: {
        metrics: (format) => exporter.metrics(format),
        ready: () => exporter.ready(),
        landingPage: () => exporter.landingPage(),
        reload: async () => {
          const r = await reloader.reload('http');
          return r.ok ? { ok: true } : r;
        },
        extra: exporter.route,
      },
      web,
      // The main listener never serves callbacks, but answers their path with where they moved
      // (callbacks/misdirected.ts): ZEGO sends no credentials, so without the exemption it would
      // get a bare 401 and the operator no hint, no count and no log line.
      authExempt: (path) => path === exporter.config.callbacks?.path,
    });
  } catch (err) {
    log.error({ err, address: flags.listenAddress }, 'cannot listen');
    return 1;
  }
  const z = loaded.config.zego;
  log.info(
    {
      address: http.url,
      tls: web?.tlsOptions !== undefined,
      basic_auth: (web?.config.users.size ?? 0) > 0,
      version: VERSION,
      app_id: z.appId,
      endpoint: z.endpoint,
      is_test: z.isTest,
      streams: loaded.config.streams.length,
    },
    'listening',
  );
  try {
    await exporter.start();
  } catch {
    // The part that failed has said why (e.g. its own listener's address is taken).
    await http.close(0);
    return 1;
  }

  // The config, and what the parts read from files of their own (the web config): each is checked
  // against what runs, so a change to one costs the others a read and nothing else.
  const reload = (trigger: 'SIGHUP' | 'file'): void => {
    void reloader.reload(trigger);
    void exporter.reload(trigger);
  };
  hup = () => reload('SIGHUP');
  if (hupPending) hup();
  let watcher: ConfigWatcher | undefined;
  if (flags.configWatch) {
    watcher = new ConfigWatcher({
      // Secret file paths come from the running config, so a reload that moves one moves the watch.
      paths: () => [flags.configFile, ...exporter.files()],
      onChange: reload,
      logger: log,
    });
    await watcher.start();
    // A change between the first load and the watcher's baseline would be missed: check once now
    // (free when nothing changed, thanks to the reloader's hash and the web config's digest).
    reload('file');
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down');
      // A reload now would build a new API client after the old one closed: nothing to apply it to.
      hup = () => undefined;
      watcher?.close();
      // Each step has its own grace; this bounds the whole sequence whatever a step does.
      const forced = setTimeout(() => {
        log.error({ signal, deadline_ms: SHUTDOWN_DEADLINE_MS }, 'shutdown did not finish in time; exiting anyway (forced)');
        resolve(1);
      }, SHUTDOWN_DEADLINE_MS);
      void (async () => {
        await exporter.stop(2000);
        await http.close(2000);
        clearTimeout(forced);
        log.info('stopped');
        resolve(0);
      })();
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}

/** The whole stop sequence (parts, then HTTP, 2 s grace each) ends within this, or the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 5000;

/**
 * process.exit() waits for worker threads, and a config loader stuck in a system call (a read
 * that never returns, on a hostile volume) never ends: then only a kill ends the process.
 */
async function exit(code: number): Promise<void> {
  if (!(await stopLoaders(1000))) {
    process.stderr.write(`${JSON.stringify({ level: 50, msg: 'a config loader thread is stuck; killing the process to exit (forced)' })}\n`);
    process.kill(process.pid, 'SIGKILL');
  }
  process.exit(code);
}

process.on('unhandledRejection', (reason) => {
  // A bug, not bad input: report it loudly but keep serving what we know.
  process.stderr.write(`${JSON.stringify({ level: 50, msg: 'unhandled rejection', err: String(reason) })}\n`);
});

main(process.argv.slice(2), process.env).then(
  (code) => void exit(code),
  (err: unknown) => {
    process.stderr.write(`fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    void exit(1);
  },
);
