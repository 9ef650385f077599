import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { eventually, scrape, startExporter, stopAll, type ExporterProcess } from '../helpers/exporter-process.js';

const APP_ID = 1234567890;
const SECRET = 'f3a9c1d2e4b5a6978877665544332211';
/** A second app, so rotating its secret cannot disturb the other tests' app. */
const ROT_APP = 1234567891;
const ROT_SECRET_OLD = 'aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb';
const ROT_SECRET_NEW = 'ccccccccccccccccdddddddddddddddd';
const nowSec = (): number => Math.floor(Date.now() / 1000);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function config(sim: Simulator, streams: string[], opts: { rateLimit?: number; zego?: string } = {}): string {
  return `zego:
  app_id: ${APP_ID}
  ${opts.zego ?? 'server_secret: ${ZEGO_SERVER_SECRET}'}
  endpoint: ${sim.url}
  rate_limit: ${opts.rateLimit ?? 10}
  timeout: 1s
probe:
  interval: 1s
streams:
${streams.map((s) => `  - ${s}`).join('\n')}
`;
}

const active = (id: string): string => `zego_stream_active{stream_id="${id}"}`;
const reloads = (exp: ExporterProcess): number => exp.logs().filter((l) => l.msg === 'config reloaded').length;
const post = (exp: ExporterProcess): Promise<Response> => fetch(`${exp.url}/-/reload`, { method: 'POST' });

/** A directory laid out as the kubelet lays out a ConfigMap/Secret volume, updated the way it updates it. */
class ProjectedVolume {
  readonly dir = mkdtempSync(join(tmpdir(), 'zego-vol-'));
  #n = 0;
  #current: string;
  constructor(
    readonly name: string,
    text: string,
  ) {
    this.#current = this.#version(text);
    symlinkSync(this.#current, join(this.dir, '..data'));
    symlinkSync(`..data/${name}`, join(this.dir, name));
  }
  get file(): string {
    return join(this.dir, this.name);
  }
  update(text: string): void {
    const next = this.#version(text);
    symlinkSync(next, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    rmSync(join(this.dir, this.#current), { recursive: true });
    this.#current = next;
  }
  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
  #version(text: string): string {
    const v = `..2026_11_25_23_00_${String(this.#n++).padStart(2, '0')}.000000001`;
    mkdirSync(join(this.dir, v));
    writeFileSync(join(this.dir, v, this.name), text);
    return v;
  }
}

describe('hot reload (real process against the simulator)', () => {
  let sim: Simulator;
  const volumes: ProjectedVolume[] = [];
  beforeAll(async () => {
    sim = await startSimulator({
      apps: [
        { appId: APP_ID, secret: SECRET, history: true },
        { appId: ROT_APP, secret: ROT_SECRET_OLD, history: true },
      ],
    });
    for (const id of ['keep', 'drop', 'add', 'rot']) sim.setStream(id, { state: 'active', createTime: nowSec() - 60 });
  });
  afterEach(async () => {
    await stopAll();
    for (const v of volumes.splice(0)) v.remove();
  });
  afterAll(async () => {
    await sim.close();
  });

  const env = { ZEGO_SERVER_SECRET: SECRET };
  // Signal and HTTP tests turn the watcher off, so only the trigger under test can apply the file.
  const noWatch = { env, args: ['--no-config.watch'] };

  it('SIGHUP and POST /-/reload apply a change; GET is 405; an unchanged file reloads nothing', async () => {
    const exp = await startExporter(config(sim, ['keep']), noWatch);
    await eventually(
      () => scrape(exp.url),
      (m) => m.get(active('keep')) === 1,
    );

    const get = await fetch(`${exp.url}/-/reload`);
    expect(get.status).toBe(405);

    writeFileSync(exp.configFile, config(sim, ['keep', 'add']));
    exp.child.kill('SIGHUP');
    await eventually(
      () => scrape(exp.url),
      (m) => m.get(active('add')) === 1,
      3000,
      50,
    );
    expect(reloads(exp)).toBe(1);
    // The /metrics caches are built in the background at start and after each applied reload.
    await eventually(
      async () => exp.logs().filter((l) => l.msg === 'metrics caches built').length,
      (n) => n === 2,
      3000,
      50,
    );

    writeFileSync(exp.configFile, config(sim, ['keep']));
    const res = await post(exp);
    expect(res.status).toBe(200);
    // The reload is done when the answer comes: the removed stream is gone from the very next scrape.
    expect((await scrape(exp.url)).has(active('add'))).toBe(false);
    expect(reloads(exp)).toBe(2);

    // Same bytes again, by both triggers: nothing is applied.
    expect((await post(exp)).status).toBe(200);
    exp.child.kill('SIGHUP');
    await sleep(300);
    expect(reloads(exp)).toBe(2);
    expect(exp.logs().filter((l) => l.msg === 'config unchanged').length).toBe(2);
  });

  it('says which changed settings wait for a restart (the callback listener), and applies the rest', async () => {
    const cb = 'callbacks:\n  secret: cb-secret\n  listen_address: "127.0.0.1:0"\n';
    const exp = await startExporter(`${config(sim, ['keep'])}${cb}`, noWatch);
    await eventually(
      () => scrape(exp.url),
      (m) => m.get(active('keep')) === 1,
    );
    const cbUrl = await exp.callbackUrl();
    writeFileSync(exp.configFile, `${config(sim, ['keep', 'add'])}${cb.replace('127.0.0.1:0', '127.0.0.1:1')}  tls: web_config\n`);
    expect((await post(exp)).status).toBe(200);
    const warn = exp.logs().find((l) => l.level === 40 && String(l.msg).includes('only take effect after a restart'));
    expect(warn?.['settings']).toEqual(['callbacks.listen_address', 'callbacks.tls']);
    await eventually(
      () => scrape(exp.url),
      (m) => m.get(active('add')) === 1,
      3000,
      50,
    );
    // Still served where it was, as it was (plain HTTP) until a restart: an unsigned body is
    // refused by the receiver, not 404 for want of a route.
    const res = await fetch(`${cbUrl}/zego/callback`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(res.status).not.toBe(404);
    expect(res.status).toBeLessThan(500);
  });

  it('a bad config is refused with 500 and its error, the old one keeps running; a good one then clears the flag', async () => {
    const exp = await startExporter(config(sim, ['keep']), noWatch);
    await eventually(
      () => scrape(exp.url),
      (m) => m.get(active('keep')) === 1,
    );
    const before = (await scrape(exp.url)).get('zego_exporter_config_last_reload_success_timestamp_seconds')!;
    expect((await scrape(exp.url)).get('zego_exporter_config_last_reload_successful')).toBe(1);

    writeFileSync(exp.configFile, config(sim, ['keep', 'add'], { rateLimit: 41 }));
    const res = await post(exp);
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(body).toContain('zego.rate_limit');
    expect(body).toMatch(/config\.yaml:5:\d+/);
    expect(exp.logs().some((l) => l.level >= 50 && l.msg.includes('keeping the running config') && l.msg.includes('zego.rate_limit'))).toBe(true);

    const m = await scrape(exp.url);
    expect(m.get('zego_exporter_config_last_reload_successful')).toBe(0);
    expect(m.get('zego_exporter_config_last_reload_success_timestamp_seconds')).toBe(before);
    expect(m.get('zego_exporter_rate_limit_configured{api="DescribeRTCStreamState"}')).toBe(10);
    expect(m.has(active('add'))).toBe(false);
    // Still probing the old set.
    const probes = m.get('zego_stream_last_probe_timestamp_seconds{stream_id="keep"}')!;
    await eventually(
      () => scrape(exp.url),
      (x) => x.get('zego_stream_last_probe_timestamp_seconds{stream_id="keep"}')! > probes,
      3000,
      100,
    );

    writeFileSync(exp.configFile, config(sim, ['keep', 'add']));
    expect((await post(exp)).status).toBe(200);
    const after = await scrape(exp.url);
    expect(after.get('zego_exporter_config_last_reload_successful')).toBe(1);
    expect(after.get('zego_exporter_config_last_reload_success_timestamp_seconds')).toBeGreaterThan(before);
    await eventually(
      () => scrape(exp.url),
      (x) => x.get(active('add')) === 1,
      2000,
      50,
    );
  });

  it('keeps a kept stream without a gap, drops a removed one at once, probes an added one promptly', async () => {
    const exp = await startExporter(config(sim, ['keep', 'drop']), noWatch);
    await eventually(
      () => scrape(exp.url),
      (m) => m.get(active('keep')) === 1 && m.get(active('drop')) === 1,
    );
    const keepStart = (await scrape(exp.url)).get('zego_stream_start_timestamp_seconds{stream_id="keep"}');

    // Scrape continuously across the reload: the kept stream must be 1 in every single scrape.
    const seen: (number | undefined)[] = [];
    let scraping = true;
    const loop = (async () => {
      while (scraping) {
        seen.push((await scrape(exp.url)).get(active('keep')));
        await sleep(20);
      }
    })();
    await sleep(300);
    writeFileSync(exp.configFile, config(sim, ['keep', 'add']));
    const t0 = Date.now();
    expect((await post(exp)).status).toBe(200);
    const right = await scrape(exp.url);
    expect([...right.keys()].filter((k) => k.includes('stream_id="drop"'))).toEqual([]);
    await eventually(
      () => scrape(exp.url),
      (m) => m.get(active('add')) === 1,
      2000,
      20,
    );
    const addedAfterMs = Date.now() - t0;
    await sleep(1500); // past the kept stream's next probe on the new config
    scraping = false;
    await loop;

    expect(seen.length).toBeGreaterThan(30);
    expect(seen.every((v) => v === 1)).toBe(true);
    expect(addedAfterMs).toBeLessThan(1500);
    const m = await scrape(exp.url);
    expect(m.get('zego_stream_start_timestamp_seconds{stream_id="keep"}')).toBe(keepStart);
    expect(m.get('zego_exporter_streams_watched')).toBe(2);
  });

  it('picks up a ConfigMap update (..data symlink swap) with no signal, including a new rate_limit', async () => {
    const vol = new ProjectedVolume('config.yaml', config(sim, ['keep'], { rateLimit: 10 }));
    volumes.push(vol);
    const exp = await startExporter('unused: true\n', { env, args: [`--config.file=${vol.file}`] });
    await eventually(
      () => scrape(exp.url),
      (m) => m.get(active('keep')) === 1,
    );
    expect((await scrape(exp.url)).get('zego_exporter_rate_limit_configured{api="DescribeRTCStreamState"}')).toBe(10);

    vol.update(config(sim, ['keep', 'add'], { rateLimit: 4 }));
    const m = await eventually(
      () => scrape(exp.url),
      (x) => x.get(active('add')) === 1,
      3000,
      50,
    );
    expect(m.get('zego_exporter_rate_limit_configured{api="DescribeRTCStreamState"}')).toBe(4);
    expect(m.get('zego_exporter_rate_limit{api="DescribeRTCStreamState"}')).toBe(4);
    expect(reloads(exp)).toBe(1);
    expect(exp.logs().find((l) => l.msg === 'config reloaded')?.['trigger']).toBe('file');

    // The kubelet also swaps when nothing changed (e.g. another key): no reload.
    vol.update(config(sim, ['keep', 'add'], { rateLimit: 4 }));
    await sleep(600);
    expect(reloads(exp)).toBe(1);
  });

  it('re-reads server_secret_file on reload: a rotated secret makes probes succeed again', async () => {
    const secretVol = new ProjectedVolume('server_secret', `${ROT_SECRET_OLD}\n`);
    volumes.push(secretVol);
    const text = config(sim, ['rot'], { zego: `server_secret_file: ${secretVol.file}` }).replace(`app_id: ${APP_ID}`, `app_id: ${ROT_APP}`);
    const exp = await startExporter(text, { env: {}, args: ['--no-config.watch'] });
    await eventually(
      () => scrape(exp.url),
      (m) => m.get('zego_stream_probe_success{stream_id="rot"}') === 1,
    );

    try {
      // Rotated in the console first: probes now fail authentication, the last known state stays.
      sim.setAppSecret(ROT_APP, ROT_SECRET_NEW);
      await eventually(
        () => scrape(exp.url),
        (m) => m.get('zego_stream_probe_success{stream_id="rot"}') === 0,
        4000,
      );
      expect((await scrape(exp.url)).get(active('rot'))).toBe(1);

      // Then the Secret is updated and the exporter told to reload: the config file is unchanged.
      secretVol.update(`${ROT_SECRET_NEW}\n`);
      expect((await post(exp)).status).toBe(200);
      expect(reloads(exp)).toBe(1);
      await eventually(
        () => scrape(exp.url),
        (m) => m.get('zego_stream_probe_success{stream_id="rot"}') === 1,
        4000,
      );
      expect(exp.stderr()).not.toContain(ROT_SECRET_NEW);
      expect(exp.stderr()).not.toContain(ROT_SECRET_OLD);
    } finally {
      sim.setAppSecret(ROT_APP, ROT_SECRET_OLD);
    }
  });

  it('a client replaced for a new secret keeps the clock offset it learned: no timestamp errors after the rotation', async () => {
    const secretVol = new ProjectedVolume('server_secret', `${ROT_SECRET_OLD}\n`);
    volumes.push(secretVol);
    const text = config(sim, ['rot'], { zego: `server_secret_file: ${secretVol.file}` }).replace(`app_id: ${APP_ID}`, `app_id: ${ROT_APP}`);
    sim.setFaults({ clockOffsetMs: 700_000 });
    const exp = await startExporter(text, { env: {}, args: ['--no-config.watch'] });
    const skew = 'zego_exporter_api_requests_total{api="DescribeRTCStreamState",code="3002",outcome="clock_skew"}';
    const ok = 'zego_exporter_api_requests_total{api="DescribeRTCStreamState",code="0",outcome="active"}';
    try {
      // The first call learns the offset from the timestamp error's Date header.
      await eventually(
        () => scrape(exp.url),
        (m) => (m.get(ok) ?? 0) > 0,
      );
      const skewBefore = (await scrape(exp.url)).get(skew);
      expect(skewBefore).toBeGreaterThan(0);
      sim.setAppSecret(ROT_APP, ROT_SECRET_NEW);
      secretVol.update(`${ROT_SECRET_NEW}\n`);
      expect((await post(exp)).status).toBe(200);
      const okAfterReload = (await scrape(exp.url)).get(ok)!;
      await eventually(
        () => scrape(exp.url),
        (m) => m.get(ok)! >= okAfterReload + 2,
        4000,
      );
      expect((await scrape(exp.url)).get(skew)).toBe(skewBefore);
    } finally {
      sim.setFaults({ clockOffsetMs: 0 });
      sim.setAppSecret(ROT_APP, ROT_SECRET_OLD);
    }
  });

  it('the watcher also follows a Secret volume update on its own', async () => {
    const secretVol = new ProjectedVolume('server_secret', `${ROT_SECRET_OLD}\n`);
    volumes.push(secretVol);
    const text = config(sim, ['rot'], { zego: `server_secret_file: ${secretVol.file}` }).replace(`app_id: ${APP_ID}`, `app_id: ${ROT_APP}`);
    const exp = await startExporter(text, { env: {} });
    await eventually(
      () => scrape(exp.url),
      (m) => m.get('zego_stream_probe_success{stream_id="rot"}') === 1,
    );
    try {
      sim.setAppSecret(ROT_APP, ROT_SECRET_NEW);
      secretVol.update(`${ROT_SECRET_NEW}\n`);
      await eventually(
        () => Promise.resolve(reloads(exp)),
        (n) => n === 1,
        3000,
        50,
      );
      const okBefore = (await scrape(exp.url)).get('zego_exporter_api_requests_total{api="DescribeRTCStreamState",code="0",outcome="active"}') ?? 0;
      await eventually(
        () => scrape(exp.url),
        (m) => (m.get('zego_exporter_api_requests_total{api="DescribeRTCStreamState",code="0",outcome="active"}') ?? 0) > okBefore,
        4000,
      );
      expect((await scrape(exp.url)).get('zego_stream_probe_success{stream_id="rot"}')).toBe(1);
    } finally {
      sim.setAppSecret(ROT_APP, ROT_SECRET_OLD);
    }
  });
});

describe('SIGHUP during start-up', () => {
  it('a SIGHUP while a large config is still loading is remembered and replayed, never fatal', async () => {
    const { spawn } = await import('node:child_process');
    const { MAIN } = await import('../helpers/exporter-process.js');
    const dir = mkdtempSync(join(tmpdir(), 'zego-hup-'));
    const file = join(dir, 'config.yaml');
    // 20 000 streams: loading takes about a second, a wide window for the signal.
    const streams = Array.from({ length: 20_000 }, (_, i) => `  - id: s${i}\n    labels: { team: t${i % 50} }`).join('\n');
    writeFileSync(file, `zego:\n  app_id: ${APP_ID}\n  server_secret: "${SECRET}"\n  endpoint: http://127.0.0.1:9\n  rate_limit: 1\nstreams:\n${streams}\n`);
    const child = spawn(process.execPath, [MAIN, `--config.file=${file}`, '--web.listen-address=127.0.0.1:0', '--log.level=debug', '--no-config.watch'], {
      env: { PATH: process.env['PATH'] ?? '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
    try {
      const until = async (cond: () => boolean, ms: number): Promise<void> => {
        const end = Date.now() + ms;
        while (!cond() && Date.now() < end && child.exitCode === null && child.signalCode === null) await sleep(10);
      };
      // The load starts: the marker is logged once the SIGHUP handler is in place. Waiting for it
      // (not for a fixed time) keeps the test about a signal during the load on a loaded machine,
      // where starting Node alone can take more than a second.
      await until(() => err.includes('loading the configuration'), 15_000);
      expect(err).toContain('loading the configuration');
      expect(err).not.toContain('"msg":"listening"');
      child.kill('SIGHUP');
      await until(() => err.includes('"trigger":"SIGHUP"'), 20_000);
      expect(child.signalCode).toBeNull();
      expect(err).toContain('"msg":"listening"');
      expect(err).toContain('"trigger":"SIGHUP"');
      child.kill('SIGTERM');
      expect(await exited).toEqual({ code: 0, signal: null });
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
