import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';

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
});
