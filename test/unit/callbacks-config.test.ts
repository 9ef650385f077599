import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';

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
