import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { restartOnlyChanges } from '../../src/config/restart.js';
import type { Config } from '../../src/config/types.js';

function config(extra: string, appId = 1): Config {
  const r = parseConfig(`zego:\n  app_id: ${appId}\n  server_secret: x\n  rate_limit: 30\nstreams: [a]\n${extra}`, { env: {}, baseDir: '/' });
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.config;
}

const FLEET = 'fleet:\n  redis_url: redis://127.0.0.1:6379/0\n';
const CALLBACKS = 'callbacks:\n  secret: s\n';

describe('settings a reload cannot apply', () => {
  it('none for what a reload does apply: streams, rate_limit, secrets, callback path, fallback rate', () => {
    const a = config(`${FLEET}  fallback_rate_limit: 2\n${CALLBACKS}`);
    const b = config(`${FLEET}  fallback_rate_limit: 5\n${CALLBACKS}  path: /cb\n`.replace('secret: s', 'secret: t'));
    expect(restartOnlyChanges(a, b)).toEqual([]);
  });

  it('the callback listener: turning callbacks on (it opens at start), its address, its TLS', () => {
    expect(restartOnlyChanges(config(''), config(CALLBACKS))).toEqual(['callbacks (the callback listener opens at start)']);
    expect(restartOnlyChanges(config(CALLBACKS), config(''))).toEqual([]);
    expect(restartOnlyChanges(config(CALLBACKS), config(`${CALLBACKS}  listen_address: ":9793"\n`))).toEqual([]);
    expect(restartOnlyChanges(config(CALLBACKS), config(`${CALLBACKS}  listen_address: ":9794"\n`))).toEqual(['callbacks.listen_address']);
    expect(restartOnlyChanges(config(CALLBACKS), config(`${CALLBACKS}  tls: web_config\n`))).toEqual(['callbacks.tls']);
    // Rotation and the upgrade switch apply at once.
    expect(restartOnlyChanges(config(CALLBACKS), config(`${CALLBACKS}  previous_secret: r\n  fanout_accept_unsigned: true\n`))).toEqual([]);
  });

  it('fleet on or off, its Redis URL, key prefix, share_results, and the AppID in fleet mode', () => {
    expect(restartOnlyChanges(config(''), config(FLEET))).toEqual(['fleet']);
    expect(restartOnlyChanges(config(FLEET), config(''))).toEqual(['fleet']);
    expect(restartOnlyChanges(config(FLEET), config(FLEET.replace('/0', '/1')))).toEqual(['fleet.redis_url']);
    expect(restartOnlyChanges(config(FLEET), config(`${FLEET}  key_prefix: other\n  share_results: true\n`))).toEqual([
      'fleet.key_prefix',
      'fleet.share_results',
    ]);
    expect(restartOnlyChanges(config(FLEET), config(FLEET, 2))).toEqual(['zego.app_id (fleet budget key)']);
    expect(restartOnlyChanges(config(''), config('', 2))).toEqual([]);
    // In fleet mode the fan-out and the fleet-wide replay check are built at start.
    expect(restartOnlyChanges(config(FLEET), config(`${FLEET}${CALLBACKS}`))).toEqual([
      'callbacks (the callback listener opens at start)',
      'callbacks (fleet fan-out and replay check)',
    ]);
    expect(restartOnlyChanges(config(`${FLEET}${CALLBACKS}`), config(FLEET))).toEqual([]);
  });

  it('rooms added under fleet mode (their fleet budgets are set up at start); rooms changed or added without fleet apply at once', () => {
    expect(restartOnlyChanges(config(FLEET), config(`${FLEET}rooms: [show]\n`))).toEqual(['rooms (fleet mode for the room APIs)']);
    expect(restartOnlyChanges(config(`${FLEET}rooms: [show]\n`), config(`${FLEET}rooms: [show, lobby]\n`))).toEqual([]);
    expect(restartOnlyChanges(config(''), config('rooms: [show]\n'))).toEqual([]);
  });

  it('never puts the Redis URL (it may hold a password) in what it reports', () => {
    const a = config('fleet:\n  redis_url: redis://:hunter2@127.0.0.1:6379/0\n');
    const b = config('fleet:\n  redis_url: redis://:hunter3@127.0.0.1:6379/0\n');
    expect(JSON.stringify(restartOnlyChanges(a, b))).not.toContain('hunter');
  });
});
