import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { formatConfigError, loadConfig, parseConfig, type ConfigError } from '../../src/config/load.js';

const SECRET = 's3cr3t-value-that-must-not-leak';
const env = { ZEGO_SERVER_SECRET: SECRET };
const parse = (text: string, e: NodeJS.ProcessEnv = env) => parseConfig(text, { env: e, baseDir: '/nonexistent' });

function errorsOf(text: string, e: NodeJS.ProcessEnv = env): ConfigError[] {
  const r = parse(text, e);
  if (r.ok) throw new Error('expected errors, got a config');
  return r.errors;
}

const BASE = `zego:\n  app_id: 1234567890\n  server_secret: \${ZEGO_SERVER_SECRET}\n`;

describe('config: good files', () => {
  it('reads every field into the typed config', () => {
    const r = parse(readFileSync(new URL('../fixtures/good.yaml', import.meta.url), 'utf8'));
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const c = r.config;
    expect(c.zego).toMatchObject({ appId: 1234567890, endpoint: 'https://rtc-api-fra.zego.im', isTest: false, rateLimit: 25.5, timeoutMs: 2500 });
    expect(c.zego.serverSecret.reveal()).toBe(SECRET);
    expect(c.probe.intervalMs).toBe(60_000);
    expect(c.streams).toEqual([
      { id: 'live-main', intervalMs: 60_000, labels: {} },
      { id: 'live-backup', intervalMs: 5000, labels: { severity: 'critical', team: 'broadcast', tier: '1' } },
      { id: '12345', intervalMs: 60_000, labels: {} },
    ]);
    expect(r.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('applies defaults with headroom below the API limit', () => {
    const r = parse(`${BASE}streams: [a]\n`);
    if (!r.ok) throw new Error('expected ok');
    expect(r.config.zego).toMatchObject({ endpoint: 'https://rtc-api.zego.im', isTest: false, rateLimit: 30, timeoutMs: 5000 });
    expect(r.config.probe.intervalMs).toBe(15_000);
    const t = parse(`${BASE}  is_test: true\nstreams: [a]\n`);
    expect(t.ok && t.config.zego.rateLimit).toBe(8);
  });

  it('expands ${VAR} and ${VAR:-default} after parsing, so values cannot inject YAML', () => {
    const r = parse(`${BASE}  rate_limit: \${RATE:-12}\n  is_test: \${TEST}\nstreams:\n  - \${ID}\n`, { ...env, TEST: 'false', ID: 'x: y' });
    expect(r.ok).toBe(false); // "x: y" is an invalid id, not a mapping
    const ok = parse(`${BASE}  rate_limit: \${RATE:-12}\nstreams:\n  - \${ID}\n`, { ...env, ID: 'cam-1' });
    if (!ok.ok) throw new Error(JSON.stringify(ok.errors));
    expect(ok.config.zego.rateLimit).toBe(12);
    expect(ok.config.streams[0]!.id).toBe('cam-1');
  });

  it('reads server_secret_file relative to the config file, and its content changes the hash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'secret'), 'first-secret\n');
    writeFileSync(join(dir, 'config.yaml'), `zego:\n  app_id: 1\n  server_secret_file: secret\nstreams: [a]\n`);
    const a = await loadConfig(join(dir, 'config.yaml'), {});
    writeFileSync(join(dir, 'secret'), 'second-secret\n');
    const b = await loadConfig(join(dir, 'config.yaml'), {});
    if (!a.ok || !b.ok) throw new Error('expected ok');
    expect(a.config.zego.serverSecret.reveal()).toBe('first-secret');
    expect(b.config.zego.serverSecret.reveal()).toBe('second-secret');
    expect(a.config.zego.serverSecretFile).toBe(join(dir, 'secret'));
    expect(a.hash).not.toBe(b.hash);
  });

  it('never shows the secret in JSON, inspect or String', () => {
    const r = parse(`${BASE}streams: [a]\n`);
    if (!r.ok) throw new Error('expected ok');
    expect(JSON.stringify(r.config)).not.toContain(SECRET);
    expect(inspect(r.config, { depth: 10 })).not.toContain(SECRET);
    expect(`${String(r.config.zego.serverSecret)}`).not.toContain(SECRET);
  });
});

describe('config: every error names the key path and line:column', () => {
  const cases: [string, string, NodeJS.ProcessEnv | undefined, { path: string; line: number; col: number; message: RegExp }][] = [
    ['YAML syntax', `zego:\n  app_id: [1, 2\nstreams: [a]\n`, undefined, { path: '', line: 3, col: 1, message: /YAML/ }],
    ['unknown key', `${BASE}  rate: 5\nstreams: [a]\n`, undefined, { path: 'zego.rate', line: 4, col: 3, message: /unknown key "rate"/ }],
    ['unknown top-level key', `${BASE}stream: [a]\n`, undefined, { path: 'stream', line: 4, col: 1, message: /unknown key/ }],
    ['missing app_id', `zego:\n  server_secret: x\nstreams: [a]\n`, undefined, { path: 'zego.app_id', line: 2, col: 3, message: /required/ }],
    ['app_id not uint32', `zego:\n  app_id: 4294967296\n  server_secret: x\nstreams: [a]\n`, undefined, { path: 'zego.app_id', line: 2, col: 11, message: /1 to 4294967295/ }],
    ['bad duration', `${BASE}streams:\n  - id: a\n    interval: 5x\n`, undefined, { path: 'streams[0].interval', line: 6, col: 15, message: /invalid duration "5x"/ }],
    ['interval under 1s', `${BASE}probe:\n  interval: 500ms\nstreams: [a]\n`, undefined, { path: 'probe.interval', line: 5, col: 13, message: /1s to 24h/ }],
    ['rate over the API limit', `${BASE}  rate_limit: 41\nstreams: [a]\n`, undefined, { path: 'zego.rate_limit', line: 4, col: 15, message: /at most 40/ }],
    ['rate over the test limit', `${BASE}  is_test: true\n  rate_limit: 11\nstreams: [a]\n`, undefined, { path: 'zego.rate_limit', line: 5, col: 15, message: /at most 10/ }],
    ['invalid stream id', `${BASE}streams:\n  - ok\n  - "bad id!"\n`, undefined, { path: 'streams[1]', line: 6, col: 5, message: /invalid stream id/ }],
    ['stream id too long', `${BASE}streams:\n  - ${'x'.repeat(257)}\n`, undefined, { path: 'streams[0]', line: 5, col: 5, message: /256 bytes/ }],
    ['prefixed id in test env', `${BASE}  is_test: true\nstreams:\n  - zegotest-1234567890-a\n`, undefined, { path: 'streams[0]', line: 6, col: 5, message: /bare id/ }],
    ['duplicate stream id', `${BASE}streams:\n  - a\n  - id: a\n`, undefined, { path: 'streams[1].id', line: 6, col: 9, message: /duplicate stream id "a" \(first listed at line 5\)/ }],
    ['clashing label', `${BASE}streams:\n  - id: a\n    labels: { stream_id: x }\n`, undefined, { path: 'streams[0].labels.stream_id', line: 6, col: 15, message: /clashes/ }],
    ['reserved label', `${BASE}streams:\n  - id: a\n    labels: { instance: x }\n`, undefined, { path: 'streams[0].labels.instance', line: 6, col: 15, message: /clashes/ }],
    ['invalid label name', `${BASE}streams:\n  - id: a\n    labels: { 1team: x }\n`, undefined, { path: 'streams[0].labels.1team', line: 6, col: 15, message: /invalid label name/ }],
    ['undefined env var', `zego:\n  app_id: 1\n  server_secret: \${NOPE}\nstreams: [a]\n`, {}, { path: 'zego.server_secret', line: 3, col: 18, message: /NOPE is not set/ }],
    ['secret and secret file', `${BASE}  server_secret_file: /x\nstreams: [a]\n`, undefined, { path: 'zego.server_secret_file', line: 4, col: 23, message: /not both/ }],
    ['missing secret file', `zego:\n  app_id: 1\n  server_secret_file: /definitely/missing\nstreams: [a]\n`, undefined, { path: 'zego.server_secret_file', line: 3, col: 23, message: /cannot read.*ENOENT/ }],
    ['no secret', `zego:\n  app_id: 1\nstreams: [a]\n`, undefined, { path: 'zego.server_secret', line: 2, col: 3, message: /required/ }],
    ['empty streams', `${BASE}streams: []\n`, undefined, { path: 'streams', line: 4, col: 10, message: /at least one/ }],
    ['bad endpoint', `${BASE}  endpoint: ftp://x\nstreams: [a]\n`, undefined, { path: 'zego.endpoint', line: 4, col: 13, message: /http or https/ }],
    ['bad is_test', `${BASE}  is_test: maybe\nstreams: [a]\n`, undefined, { path: 'zego.is_test', line: 4, col: 12, message: /true or false/ }],
  ];

  it.each(cases)('%s', (_name, text, e, want) => {
    const errors = errorsOf(text, e ?? env);
    const hit = errors.find((x) => x.path === want.path);
    expect(hit, JSON.stringify(errors)).toBeDefined();
    expect(hit!.line).toBe(want.line);
    expect(hit!.col).toBe(want.col);
    expect(hit!.message).toMatch(want.message);
    for (const x of errors) expect(formatConfigError(x, 'c.yaml')).not.toContain(SECRET);
  });

  it('reports every error at once, with file:line:col when formatted', () => {
    const errors = errorsOf(`zego:\n  app_id: 0\n  server_secret: x\n  timeout: soon\nstreams:\n  - "a b"\n`);
    expect(errors.map((e) => e.path).sort()).toEqual(['streams[0]', 'zego.app_id', 'zego.timeout']);
    expect(formatConfigError(errors.find((e) => e.path === 'zego.timeout')!, 'config.yaml')).toBe('config.yaml:4:12: zego.timeout: invalid duration "soon" (use e.g. 500ms, 5s, 1m30s, 1h)');
  });

  it('quotes a value expanded from the environment as written, so a secret under the wrong key is not printed', () => {
    const leaked = '9193cc662a4c0ec135ec71fb57194b38';
    const text = `zego:\n  app_id: \${S}\n  server_secret: x\n  is_test: \${S}\n  rate_limit: \${S}\n  timeout: \${S}\n  endpoint: "https://\${S}:x"\nprobe:\n  interval: \${S}\nstreams:\n  - "a-\${S}!"\n  - id: b\n    labels: { team: "\${S}" }\nfleet:\n  redis_url: \${S}\ncallbacks:\n  secret: s\n  path: \${S}\n`;
    const r = parse(text, { S: leaked });
    if (r.ok) throw new Error('expected errors');
    expect(r.errors.map((e) => e.path)).toEqual(expect.arrayContaining(['zego.app_id', 'zego.is_test', 'zego.rate_limit', 'zego.timeout', 'probe.interval', 'streams[0]', 'fleet.redis_url', 'callbacks.path']));
    for (const e of r.errors) expect(formatConfigError(e, 'c.yaml')).not.toContain(leaked);
    expect(r.errors.find((e) => e.path === 'zego.is_test')?.message).toBe('must be true or false, got "${S}"');
  });

  it('never throws on hostile documents', () => {
    for (const text of ['', '~', '[]', '"x"', 'a: &a [*a]', '!!binary x', 'zego: !!str', `${BASE}streams: {a: 1}`, '\u0000\u0001', 'zego:\n  app_id: *x']) {
      const r = parse(text);
      expect(r.ok).toBe(false);
    }
  });
});
