import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { formatConfigError, loadConfig, parseConfig } from '../../src/config/load.js';

const SECRET = 's3cr3t-value-that-must-not-leak';
const env = { ZEGO_SERVER_SECRET: SECRET };
const parse = (text: string, e: NodeJS.ProcessEnv = env) => parseConfig(text, { env: e, baseDir: '/nonexistent' });

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

// Invalid files, each with its exact error, are fixtures: test/unit/config-invalid.test.ts.
describe('config: errors never quote a secret, never throw', () => {
  it('quotes a value expanded from the environment as written, so a secret under the wrong key is not printed', () => {
    const leaked = '9193cc662a4c0ec135ec71fb57194b38';
    const text = `zego:\n  app_id: \${S}\n  server_secret: x\n  is_test: \${S}\n  rate_limit: \${S}\n  timeout: \${S}\n  endpoint: "https://\${S}:x"\nprobe:\n  interval: \${S}\nstreams:\n  - "a-\${S}!"\n  - id: b\n    labels: { team: "\${S}" }\nfleet:\n  redis_url: \${S}\ncallbacks:\n  secret: s\n  path: \${S}\n`;
    const r = parse(text, { S: leaked });
    if (r.ok) throw new Error('expected errors');
    expect(r.errors.map((e) => e.path)).toEqual(
      expect.arrayContaining([
        'zego.app_id',
        'zego.is_test',
        'zego.rate_limit',
        'zego.timeout',
        'probe.interval',
        'streams[0]',
        'fleet.redis_url',
        'callbacks.path',
      ]),
    );
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

describe('config: rooms and the room APIs budgets', () => {
  it('reads plain room ids and { id, interval, labels }, with a 30s default interval', () => {
    const r = parse(`${BASE}rooms:\n  - lobby\n  - id: stage-1\n    interval: 10s\n    labels: { severity: critical }\n`);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.config.rooms).toEqual([
      { id: 'lobby', intervalMs: 30_000, labels: {}, streamsSeverity: 'none' },
      { id: 'stage-1', intervalMs: 10_000, labels: { severity: 'critical' }, streamsSeverity: 'none' },
    ]);
    // Rooms alone are enough to watch: their streams are found in the rooms' lists.
    expect(r.config.streams).toEqual([]);
  });

  it('defaults each room API budget below its own limit, and caps room-discovered streams at 1000', () => {
    const r = parse(`${BASE}streams: [a]\n`);
    if (!r.ok) throw new Error('expected ok');
    expect(r.config.zego).toMatchObject({ rateLimit: 30, streamListRateLimit: 40, userNumRateLimit: 8 });
    expect(r.config.probe.maxRoomStreams).toBe(1000);
    // Streams found in rooms have a forget_after of their own (callbacks.discover's is the callbacks').
    expect(r.config.probe.roomStreamsForgetAfterMs).toBe(3_600_000);
    expect(r.config.rooms).toBeUndefined();
    const t = parse(`${BASE}  is_test: true\nrooms: [x]\n`);
    expect(t.ok && t.config.zego).toMatchObject({ rateLimit: 8, streamListRateLimit: 40, userNumRateLimit: 1 });
  });

  it('reads mix_tasks: ids (a long numeric one digit for digit) or { id, interval, labels }; 15s by default; mix tasks alone need no streams', () => {
    const r = parse(`${BASE}mix_tasks:\n  - 2213699902971205739\n  - id: "task:show_1"\n    interval: 1s\n    labels: { severity: critical, show: evening }\n`);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.config.streams).toEqual([]);
    expect(r.config.mixTasks).toEqual([
      { id: '2213699902971205739', intervalMs: 15_000, labels: {} },
      { id: 'task:show_1', intervalMs: 1000, labels: { severity: 'critical', show: 'evening' } },
    ]);
    // GetMixTaskInfo's budget: under its 100/s (10/s assumed in the test environment), up to it when set.
    expect(r.config.zego.mixTaskInfoRateLimit).toBe(80);
    const t = parse(`${BASE}  is_test: true\nmix_tasks: [x]\n`);
    expect(t.ok && t.config.zego.mixTaskInfoRateLimit).toBe(8);
    const u = parse(`${BASE}  mix_task_info_rate_limit: 100\nmix_tasks: [x]\n`);
    expect(u.ok && u.config.zego.mixTaskInfoRateLimit).toBe(100);
    const none = parse(`${BASE}streams: [a]\n`);
    expect(none.ok && none.config.mixTasks).toBeUndefined();
  });

  it('takes budgets up to each API limit, and the cap from the probe section', () => {
    const r = parse(
      `${BASE}  stream_list_rate_limit: 50\n  user_num_rate_limit: 10\nprobe:\n  max_room_streams: 20\n  room_streams_forget_after: 10m\nrooms: [x]\n`,
    );
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.config.probe.roomStreamsForgetAfterMs).toBe(600_000);
    expect(r.config.zego).toMatchObject({ streamListRateLimit: 50, userNumRateLimit: 10 });
    expect(r.config.probe.maxRoomStreams).toBe(20);
  });

  it('still requires streams when no room is listed', () => {
    const r = parse(`${BASE}rooms: []\n`);
    expect(r.ok).toBe(false);
  });
});
