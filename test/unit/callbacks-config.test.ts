import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { runConfigCheck } from '../../src/cli.js';
import { parseConfig } from '../../src/config/load.js';
import { writeTemp } from '../helpers/exporter-process.js';

const BASE = `zego:\n  app_id: 1\n  server_secret: x\nstreams: [a]\n`;
const parse = (section: string, env: NodeJS.ProcessEnv = {}, files: Record<string, string> = {}) =>
  parseConfig(`${BASE}${section}`, {
    env,
    baseDir: '/cfg',
    readFile: (p) => {
      const t = files[p];
      if (t === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
      return t;
    },
  });

describe('the callbacks: config section', () => {
  it('reads secret (kept as a Secret), path default, listener and discovery defaults', () => {
    const r = parse('callbacks:\n  secret: ${CB}\n  listen_address: ":9793"\n  discover:\n    patterns: ["live-*"]\n', { CB: 'cb-hunter2' });
    if (!r.ok || !r.config.callbacks) throw new Error(JSON.stringify(r));
    const c = r.config.callbacks;
    expect(c.secret.reveal()).toBe('cb-hunter2');
    expect(c).toMatchObject({
      path: '/zego/callback',
      listenAddress: ':9793',
      listenAddressDefault: false,
      discover: { patterns: ['live-*'], maxStreams: 100, forgetAfterMs: 3_600_000 },
    });
    expect(JSON.stringify(r.config)).not.toContain('hunter2');
  });

  it('defaults: the callback listener on :9793 (marked as the default, for the migration note), TLS off, unsigned fan-out entries refused, no previous secret', () => {
    const r = parse('callbacks:\n  secret: s\n');
    if (!r.ok || !r.config.callbacks) throw new Error(JSON.stringify(r));
    expect(r.config.callbacks).toMatchObject({ listenAddress: ':9793', listenAddressDefault: true, tls: 'off', fanoutAcceptUnsigned: false });
    expect(r.config.callbacks.previousSecret).toBeUndefined();
  });

  it('reads tls, fanout_accept_unsigned and the previous secret (inline, or from a file; empty: none)', () => {
    const r = parse('callbacks:\n  secret: new\n  previous_secret: ${OLD}\n  tls: web_config\n  fanout_accept_unsigned: true\n', { OLD: 'old-hunter2' });
    if (!r.ok || !r.config.callbacks) throw new Error(JSON.stringify(r));
    expect(r.config.callbacks).toMatchObject({ tls: 'web_config', fanoutAcceptUnsigned: true });
    expect(r.config.callbacks.previousSecret?.reveal()).toBe('old-hunter2');
    expect(JSON.stringify(r.config)).not.toContain('hunter2');
    const file = parse('callbacks:\n  secret: new\n  previous_secret_file: old.txt\n', {}, { '/cfg/old.txt': 'from-file\n' });
    if (!file.ok || !file.config.callbacks) throw new Error(JSON.stringify(file));
    expect(file.config.callbacks.previousSecret?.reveal()).toBe('from-file');
    expect(file.config.callbacks.previousSecretFile).toBe('/cfg/old.txt');
    const none = parse('callbacks:\n  secret: new\n  previous_secret: ${OLD:-}\n');
    expect(none.ok && none.config.callbacks?.previousSecret).toBeUndefined();
  });

  it('an empty secret turns callbacks off; secret_file is read relative to the config', () => {
    const off = parse('callbacks:\n  secret: ${CB:-}\n');
    expect(off.ok && off.config.callbacks).toBeUndefined();
    const file = parse(
      'callbacks:\n  secret_file: cb.txt\n  discover:\n    patterns: [a-*]\n    max_streams: 5\n    forget_after: 10m\n',
      {},
      { '/cfg/cb.txt': 'from-file\n' },
    );
    if (!file.ok || !file.config.callbacks) throw new Error(JSON.stringify(file));
    expect(file.config.callbacks.secret.reveal()).toBe('from-file');
    expect(file.config.callbacks.discover).toEqual({ patterns: ['a-*'], maxStreams: 5, forgetAfterMs: 600_000, streamsSeverity: 'none' });
  });
});

describe('--config.check and the callback listener', () => {
  const check = async (callbacks: string, webFile?: string): Promise<{ code: number; out: string }> => {
    const file = writeTemp('config.yaml', `${BASE}${callbacks}`);
    const lines: string[] = [];
    const code = await runConfigCheck(file, { CB: 'cb-hunter2' }, (l) => lines.push(l), webFile);
    return { code, out: lines.join('\n') };
  };

  it('names where callbacks are served and their TLS mode, and says when the address is the default', async () => {
    const r = await check('callbacks:\n  secret: ${CB}\n');
    expect(r.code).toBe(0);
    expect(r.out).toContain('callbacks: /zego/callback on their own listener :9793 (the default), TLS off; never on the main listener');
    expect(r.out).not.toContain('hunter2');
  });

  it('tls: web_config needs --web.config.file with tls_server_config: without it, exit 1 saying so', async () => {
    const none = await check('callbacks:\n  secret: ${CB}\n  tls: web_config\n');
    expect(none.code).toBe(1);
    expect(none.out).toContain('callbacks.tls is web_config, but no --web.config.file is given');
    const web = writeTemp('web.yml', `basic_auth_users:\n  admin: ${bcrypt.hashSync('pw', 4)}\n`);
    const noTls = await check('callbacks:\n  secret: ${CB}\n  tls: web_config\n', web);
    expect(noTls.code).toBe(1);
    expect(noTls.out).toContain('callbacks.tls is web_config, but --web.config.file has no tls_server_config');
    // With tls: off the same web config is fine: the two listeners are decided apart.
    expect((await check('callbacks:\n  secret: ${CB}\n  tls: off\n', web)).code).toBe(0);
  });
});
