import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, type Dirent } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { envOf, parseDockerfile, workdir, type Stage } from '../helpers/dockerfile.js';
import { ROOT, eventually, parseMetrics } from '../helpers/exporter-process.js';
import { DEFAULT_CALLBACK_LISTEN_ADDRESS } from '../../src/config/sections/callbacks.js';

/**
 * No Docker engine runs here, so the image is proven by replaying the Dockerfile: every stage is
 * rebuilt in a temp folder from its own COPY and RUN lines (the production install is a real
 * `npm ci --omit=dev`; only the full dev install is taken from the repo's node_modules, which the
 * same lockfile produced), and the runtime stage's ENTRYPOINT then runs from there, far from the
 * repo. A runtime that needs a dev dependency, or a file the Dockerfile does not copy, fails here.
 */
const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const runtime = dockerfile.stages.at(-1)!;
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };
const SECRET = 'f3a9c1d2e4b5a6978877665544332211';
const APP_ID = 1234567890;

const only = (stage: Stage, op: string): Stage['instructions'] => stage.instructions.filter((i) => i.op === op);
const stageByName = (name: string): Stage => {
  const s = dockerfile.stages.find((x) => x.name === name);
  if (!s) throw new Error(`no stage ${name}`);
  return s;
};

let tmp: string;
const replayed = new Map<string, string>();

function copyInto(src: string, destDir: string, dest: string, many: boolean): void {
  const target = dest.endsWith('/') || many ? join(destDir, dest, basename(src)) : join(destDir, dest);
  if (!existsSync(src)) throw new Error(`COPY source missing: ${src}`);
  mkdirSync(dirname(target), { recursive: true });
  cpSync(src, target, { recursive: true });
}

/** Rebuilds a stage's WORKDIR in a temp folder and returns it. */
function replay(stage: Stage): string {
  const done = replayed.get(stage.name);
  if (done) return done;
  const dir = join(tmp, `stage-${stage.name}`);
  mkdirSync(dir, { recursive: true });
  for (const ins of stage.instructions) {
    if (ins.op === 'COPY') {
      const sources = ins.words.slice(0, -1);
      const dest = ins.words.at(-1)!;
      const from = ins.flags['from'];
      for (const s of sources) {
        if (from === undefined) copyInto(join(ROOT, s), dir, dest, sources.length > 1);
        else {
          const other = stageByName(from);
          copyInto(join(replay(other), relative(workdir(other), s)), dir, dest, sources.length > 1);
        }
      }
    } else if (ins.op === 'RUN') {
      if (/\bnpm ci\b/.test(ins.args) && !ins.args.includes('--omit=dev')) {
        // The full dev install: the same lockfile made the repo's node_modules; reuse it.
        symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
        continue;
      }
      const r = spawnSync('sh', ['-c', ins.args], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 120_000,
        // The npm cache holds every package: install from it, never from the network.
        env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? tmp, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' },
      });
      if (r.status !== 0) throw new Error(`RUN ${ins.args} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    }
  }
  replayed.set(stage.name, dir);
  return dir;
}

/** Every file below `dir`, as paths relative to it with `/` separators. */
function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as Dirent[])
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)).split(sep).join('/'));
}

/** The ENTRYPOINT as a host command: the image's node binary is this test's node. */
function entrypoint(): string[] {
  const ep = only(runtime, 'ENTRYPOINT')[0]!.exec!;
  return [process.execPath, ...ep.slice(1)];
}

function runImage(args: string[], env: Record<string, string> = {}): { code: number | null; out: string } {
  const [cmd, ...rest] = entrypoint();
  const r = spawnSync(cmd!, [...rest, ...args], { cwd: replayed.get(runtime.name)!, encoding: 'utf8', timeout: 15_000, env: { ...envOf(runtime), ...env } });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('container image (Dockerfile replayed without an engine)', () => {
  let app: string;
  let sim: Simulator;
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'zego-image-'));
    app = replay(runtime);
    sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
    sim.setStream('live-main', { state: 'active', createTime: Math.floor(Date.now() / 1000) - 30 });
  }, 180_000);
  afterAll(async () => {
    await sim?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('is multi-stage, non-root, distroless or slim, with exec-form ENTRYPOINT/HEALTHCHECK, ports 9792 and 9793 (callbacks) and the documented config path', () => {
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    expect(runtime.from).toMatch(/distroless\/nodejs\d+|node:\d+-slim/);
    const user = only(runtime, 'USER').at(-1)?.args ?? 'root';
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(only(runtime, 'EXPOSE').map((i) => i.args)).toContain('9792');
    expect(only(runtime, 'EXPOSE').map((i) => i.args)).toContain(DEFAULT_CALLBACK_LISTEN_ADDRESS.slice(1));
    expect(only(runtime, 'ENTRYPOINT')[0]?.exec?.[0]).toMatch(/node$/);
    expect(only(runtime, 'CMD')[0]?.exec).toEqual(['--config.file=/etc/zego-stream-exporter/config.yaml']);
    const hc = only(runtime, 'HEALTHCHECK')[0]!;
    expect(hc.exec?.[0]).toMatch(/node$/);
    expect(hc.args).not.toMatch(/curl|wget/);
    // Nothing runs in the runtime stage: no shell needed.
    expect(only(runtime, 'RUN')).toEqual([]);
  });

  it('holds production dependencies only, and the build output', () => {
    for (const dev of Object.keys(pkg.devDependencies)) expect(existsSync(join(app, 'node_modules', dev)), dev).toBe(false);
    expect(existsSync(join(app, 'node_modules', 'prom-client'))).toBe(true);
    expect(existsSync(join(app, 'dist/src/main.js'))).toBe(true);
    expect(existsSync(join(app, 'dist/src/healthcheck.js'))).toBe(true);
    expect(existsSync(join(app, 'test'))).toBe(false);
  });

  it('holds no simulator: the image runs the exporter only', () => {
    const own = filesUnder(app).filter((f) => !f.startsWith('node_modules/'));
    expect(own).toContain('dist/src/main.js');
    expect(own.filter((f) => /simulator|demo/i.test(f))).toEqual([]);
    // The build stage compiles only what it copied: no simulator output to copy by mistake.
    expect(filesUnder(join(replay(stageByName('build')), 'dist')).filter((f) => /simulator|demo/i.test(f))).toEqual([]);
  });

  it("the npm package's files hold no simulator either", () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/src/main.js');
    expect(files.filter((f) => /simulator|demo/i.test(f))).toEqual([]);
  });

  it('.dockerignore keeps secrets, local configs, tests and VCS out of the build context', () => {
    const rules = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    // Deny everything, then allow only what the Dockerfile COPYs from the context.
    expect(rules[0]).toBe('*');
    const allowed = rules.filter((r) => r.startsWith('!')).map((r) => r.slice(1).replace(/\/$/, ''));
    const copied = dockerfile.stages.flatMap((s) =>
      only(s, 'COPY')
        .filter((i) => i.flags['from'] === undefined)
        .flatMap((i) => i.words.slice(0, -1)),
    );
    expect(new Set(allowed)).toEqual(new Set(copied));
  });

  it('runs --version and --config.check from the replayed image', () => {
    const v = runImage(['--version']);
    expect(v.code).toBe(0);
    expect(v.out).toContain(`version ${pkg.version}`);
    const cfg = join(tmp, 'check.yaml');
    writeFileSync(cfg, `zego:\n  app_id: ${APP_ID}\n  server_secret: \${ZEGO_SERVER_SECRET}\n  rate_limit: 5\nstreams: [live-main]\n`);
    const c = runImage(['--config.check', `--config.file=${cfg}`], { ZEGO_SERVER_SECRET: SECRET });
    expect(c.code, c.out).toBe(0);
    expect(c.out).not.toContain(SECRET);
  });

  it('probes the simulator, answers its HEALTHCHECK, and stops on SIGTERM', async () => {
    const cfg = join(tmp, 'config.yaml');
    writeFileSync(
      cfg,
      `zego:\n  app_id: ${APP_ID}\n  server_secret: \${ZEGO_SERVER_SECRET}\n  endpoint: ${sim.url}\n  rate_limit: 5\nprobe:\n  interval: 1s\nstreams: [live-main]\n`,
    );
    const [cmd, ...rest] = entrypoint();
    const child = spawn(cmd!, [...rest, `--config.file=${cfg}`, '--web.listen-address=127.0.0.1:0'], {
      cwd: app,
      env: { ...envOf(runtime), ZEGO_SERVER_SECRET: SECRET },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    try {
      const url = await eventually(
        () => Promise.resolve(/"address":"(http:\/\/[^"]+)"/.exec(err)?.[1]),
        (u) => u !== undefined || child.exitCode !== null,
        10_000,
        50,
      );
      expect(url, err).toBeDefined();
      const m = await eventually(
        async () => parseMetrics(await (await fetch(`${url}/metrics`)).text()),
        (x) => x.get('zego_stream_active{stream_id="live-main"}') === 1,
        5000,
      );
      // The version comes from the package.json the Dockerfile copies next to dist/.
      expect(m.get(`zego_exporter_build_info{version="${pkg.version}",revision="unknown",nodejs="${process.version}"}`)).toBe(1);

      const hc = only(runtime, 'HEALTHCHECK')[0]!.exec!;
      const health = spawnSync(process.execPath, hc.slice(1), { cwd: app, encoding: 'utf8', env: { ZEGO_EXPORTER_HEALTHCHECK_URL: `${url}/-/healthy` } });
      expect(health.status, health.stderr).toBe(0);
      const dead = spawnSync(process.execPath, hc.slice(1), {
        cwd: app,
        encoding: 'utf8',
        env: { ZEGO_EXPORTER_HEALTHCHECK_URL: 'http://127.0.0.1:1/-/healthy' },
      });
      expect(dead.status).toBe(1);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    }
  });
});
