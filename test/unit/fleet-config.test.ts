import { describe, expect, it } from 'vitest';
import { parseFleet } from '../../src/config/fleet.js';

describe('parseFleet (the fleet: config section)', () => {
  it('absent → single-process mode', () => {
    expect(parseFleet(undefined, 30)).toEqual({ ok: true, fleet: undefined });
  });

  it('reads the section with defaults, the URL kept as a Secret', () => {
    const r = parseFleet({ redis_url: 'redis://:hunter2@redis.zego:6379/0' }, 30);
    expect(r.ok).toBe(true);
    if (!r.ok || !r.fleet) throw new Error('expected a fleet');
    expect(r.fleet.keyPrefix).toBe('zego-exporter');
    expect(r.fleet.fallbackRateLimit).toBe(2);
    expect(r.fleet.shareResults).toBe(false);
    expect(r.fleet.redisUrl.reveal()).toBe('redis://:hunter2@redis.zego:6379/0');
    expect(JSON.stringify(r.fleet)).not.toContain('hunter2');
  });

  it('reports every problem with its key path, and never echoes the URL', () => {
    const r = parseFleet({ redis_url: 'http://:hunter2@x', key_prefix: 'a b', fallback_rate_limit: 50, share_results: 'yes', extra: 1 }, 30);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => e.path).sort()).toEqual(['fleet.extra', 'fleet.fallback_rate_limit', 'fleet.key_prefix', 'fleet.redis_url', 'fleet.share_results']);
    expect(JSON.stringify(r.errors)).not.toContain('hunter2');
  });

  it.each([[null], [[]], ['redis://x']])('rejects a section that is not a mapping, or a missing URL (%j)', (raw) => {
    const r = parseFleet(raw === null ? {} : raw, 30);
    expect(r.ok).toBe(false);
  });
});
