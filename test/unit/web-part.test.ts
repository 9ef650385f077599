import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import type { Config } from '../../src/config/types.js';
import { Exporter } from '../../src/exporter.js';
import { loadWebConfig } from '../../src/http/web-config.js';
import { WebSecurity } from '../../src/http/web-security.js';

const HASH = bcrypt.hashSync('pw', 4);

const CONFIG: Config = {
  zego: {
    appId: 1234,
    serverSecret: new Secret('0123456789abcdef0123456789abcdef'),
    endpoint: 'http://127.0.0.1:9',
    isTest: false,
    rateLimit: 10,
    streamListRateLimit: 40,
    userNumRateLimit: 8,
    mixTaskInfoRateLimit: 8,
    timeoutMs: 2000,
  },
  probe: { intervalMs: 10_000, maxRoomStreams: 1000, roomStreamsForgetAfterMs: 3_600_000 },
  streams: [{ id: 'a', intervalMs: 10_000, labels: {} }],
};

const dirs: string[] = [];
const closing: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of closing.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Logged {
  msg: string;
  trigger?: string;
}

/** The Exporter as main.ts builds it with --web.config.file: its own parts list, the web security read from `file`. */
function exporterWithWebConfig(text: string, opts: { file?: boolean } = {}): { exp: Exporter; web: WebSecurity; file: string; logs: Logged[] } {
  const dir = mkdtempSync(join(tmpdir(), 'web-part-'));
  dirs.push(dir);
  const file = join(dir, 'web.yml');
  writeFileSync(file, text);
  const loaded = loadWebConfig(file);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const logs: Logged[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Logged) });
  const web = new WebSecurity(loaded.config, logger, opts.file === false ? {} : { file });
  const exp = new Exporter({ config: CONFIG, logger, build: { version: 't', revision: 't' }, web });
  closing.push(
    () => exp.stop(0),
    () => web.close(),
  );
  return { exp, web, file, logs };
}

async function metrics(exp: Exporter): Promise<string> {
  return Buffer.concat(await exp.metrics('text')).toString('utf8');
}

describe('the web config part (on with --web.config.file)', () => {
  it('joins the parts list: its file is watched with the config, and a reload re-reads it and applies what changed', async () => {
    const { exp, web, file, logs } = exporterWithWebConfig(`basic_auth_users:\n  alice: ${HASH}\n`);
    expect(exp.files()).toEqual([file]);
    expect(exp.landingPage()).toContain('<p>Web config: no TLS, basic auth for 1 user.</p>');
    expect(await metrics(exp)).toContain('zego_exporter_web_config_last_reload_successful 1');

    writeFileSync(file, `basic_auth_users:\n  alice: ${HASH}\n  bob: ${HASH}\n`);
    await exp.reload('SIGHUP');
    expect([...web.config.users.keys()]).toEqual(['alice', 'bob']);
    expect(logs.find((l) => l.msg === 'web config reloaded')?.trigger).toBe('SIGHUP');
    expect(exp.landingPage()).toContain('basic auth for 2 users.');
  });

  it('a bad file keeps the running web config and says so: metric 0, an error line naming the trigger, the landing page; a good one restores it', async () => {
    const { exp, web, file, logs } = exporterWithWebConfig(`basic_auth_users:\n  alice: ${HASH}\n`);
    writeFileSync(file, `basic_auth_users:\n  alice: not-a-hash\n`);
    await exp.reload('file');
    expect([...web.config.users.values()]).toEqual([HASH]);
    expect(await metrics(exp)).toContain('zego_exporter_web_config_last_reload_successful 0');
    const line = logs.find((l) => l.msg.startsWith('web config reload failed, keeping the running web config'));
    expect(line?.trigger).toBe('file');
    expect(line?.msg).not.toContain('not-a-hash');
    expect(exp.landingPage()).toContain('the last reload failed, the previous web config is in use');

    writeFileSync(file, `basic_auth_users:\n  carol: ${HASH}\n`);
    await exp.reload('SIGHUP');
    expect([...web.config.users.keys()]).toEqual(['carol']);
    expect(await metrics(exp)).toContain('zego_exporter_web_config_last_reload_successful 1');
  });

  it('is off without --web.config.file: no gauge, no file, no landing line', async () => {
    const { exp } = exporterWithWebConfig(`basic_auth_users:\n  alice: ${HASH}\n`, { file: false });
    expect(exp.files()).toEqual([]);
    expect(exp.landingPage()).not.toContain('Web config:');
    expect(await metrics(exp)).not.toContain('zego_exporter_web_config_last_reload_successful');
  });
});
