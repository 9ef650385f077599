import { describe, expect, it } from 'vitest';
import { formatConfigError, parseConfig } from '../../src/config/load.js';

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
    expect(c).toMatchObject({ path: '/zego/callback', listenAddress: ':9793', discover: { patterns: ['live-*'], maxStreams: 100, forgetAfterMs: 3_600_000 } });
    expect(JSON.stringify(r.config)).not.toContain('hunter2');
  });

  it('an empty secret turns callbacks off; secret_file is read relative to the config', () => {
    const off = parse('callbacks:\n  secret: ${CB:-}\n');
    expect(off.ok && off.config.callbacks).toBeUndefined();
    const file = parse('callbacks:\n  secret_file: cb.txt\n  discover:\n    patterns: [a-*]\n    max_streams: 5\n    forget_after: 10m\n', {}, { '/cfg/cb.txt': 'from-file\n' });
    if (!file.ok || !file.config.callbacks) throw new Error(JSON.stringify(file));
    expect(file.config.callbacks.secret.reveal()).toBe('from-file');
    expect(file.config.callbacks.discover).toEqual({ patterns: ['a-*'], maxStreams: 5, forgetAfterMs: 600_000 });
  });

  it('reports every problem with its key path and never echoes the secret', () => {
    const r = parse('callbacks:\n  secret: cb-hunter2\n  path: /metrics\n  listen_address: nope\n  extra: 1\n  discover:\n    patterns: ["bad id"]\n    max_streams: 0\n');
    if (r.ok) throw new Error('expected errors');
    expect(r.errors.map((e) => e.path).sort()).toEqual(['callbacks.discover.max_streams', 'callbacks.discover.patterns[0]', 'callbacks.extra', 'callbacks.listen_address', 'callbacks.path']);
    expect(r.errors.map((e) => formatConfigError(e, 'c.yaml')).join('\n')).not.toContain('hunter2');
    const both = parse('callbacks:\n  secret: s\n  secret_file: f\n');
    expect(both.ok).toBe(false);
    const missing = parse('callbacks:\n  secret_file: missing.txt\n');
    expect(missing.ok ? null : missing.errors[0]?.message).toMatch(/cannot read \/cfg\/missing.txt: ENOENT/);
  });
});
