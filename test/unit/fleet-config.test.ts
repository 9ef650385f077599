import { describe, expect, it } from 'vitest';
import { formatConfigError, parseConfig } from '../../src/config/load.js';

const BASE = `zego:\n  app_id: 1\n  server_secret: x\n  rate_limit: 30\nstreams: [a]\n`;
const parse = (fleet: string, env: NodeJS.ProcessEnv = {}) => parseConfig(`${BASE}${fleet}`, { env, baseDir: '/' });

describe('the fleet: config section', () => {
  it('absent → single-process mode', () => {
    const r = parse('');
    expect(r.ok && r.config.fleet).toBeUndefined();
  });

  it('reads the section with defaults, the URL (from the environment) kept as a Secret', () => {
    const r = parse('fleet:\n  redis_url: ${REDIS_URL}\n', { REDIS_URL: 'redis://:hunter2@redis.zego:6379/0' });
    if (!r.ok || !r.config.fleet) throw new Error(`expected a fleet: ${JSON.stringify(r)}`);
    expect(r.config.fleet.keyPrefix).toBe('zego-exporter');
    expect(r.config.fleet.fallbackRateLimit).toBe(2);
    expect(r.config.fleet.shareResults).toBe(false);
    expect(r.config.fleet.redisUrl.reveal()).toBe('redis://:hunter2@redis.zego:6379/0');
    expect(JSON.stringify(r.config)).not.toContain('hunter2');
  });

  it('reports every problem with its key path and line, and never echoes the URL', () => {
    const r = parse('fleet:\n  redis_url: http://:hunter2@x\n  key_prefix: a b\n  fallback_rate_limit: 50\n  share_results: yes\n  extra: 1\n');
    if (r.ok) throw new Error('expected errors');
    expect(r.errors.map((e) => e.path).sort()).toEqual(['fleet.extra', 'fleet.fallback_rate_limit', 'fleet.key_prefix', 'fleet.redis_url', 'fleet.share_results']);
    expect(r.errors.find((e) => e.path === 'fleet.redis_url')).toMatchObject({ line: 7, col: 14 });
    expect(r.errors.map((e) => formatConfigError(e, 'c.yaml')).join('\n')).not.toContain('hunter2');
  });

  it.each(['fleet: []\n', 'fleet: {}\n', 'fleet:\n  key_prefix: x\n'])('rejects a section that is not a mapping, or a missing URL (%j)', (text) => {
    expect(parse(text).ok).toBe(false);
  });
});
