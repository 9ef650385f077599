import { Secret } from './secret.js';
import type { FleetConfig } from './types.js';

/** One problem in the `fleet:` section, with the key path it concerns (e.g. `fleet.redis_url`). */
export interface FleetConfigError {
  path: string;
  message: string;
}

const KEYS = new Set(['redis_url', 'key_prefix', 'fallback_rate_limit', 'share_results']);

/**
 * The `fleet:` section, for the YAML loader's strict schema: `raw` is the section after `${ENV}`
 * expansion, `rateLimit` the zego.rate_limit already read. Absent section → undefined (single
 * process). Every problem is reported, none thrown.
 */
export function parseFleet(raw: unknown, rateLimit: number): { ok: true; fleet: FleetConfig | undefined } | { ok: false; errors: FleetConfigError[] } {
  if (raw === undefined || raw === null) return { ok: true, fleet: undefined };
  if (typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, errors: [{ path: 'fleet', message: 'must be a mapping with redis_url, key_prefix, fallback_rate_limit, share_results' }] };
  const r = raw as Record<string, unknown>;
  const errors: FleetConfigError[] = [];
  for (const k of Object.keys(r)) if (!KEYS.has(k)) errors.push({ path: `fleet.${k}`, message: `unknown key (expected one of ${[...KEYS].join(', ')})` });

  const url = r['redis_url'];
  let redisUrl: Secret | undefined;
  if (typeof url !== 'string' || url === '') {
    errors.push({ path: 'fleet.redis_url', message: 'required: a redis:// or rediss:// URL (e.g. ${REDIS_URL})' });
  } else {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    // The URL may carry a password: never echo it back.
    if (!parsed || (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') || parsed.hostname === '') {
      errors.push({ path: 'fleet.redis_url', message: 'must be a redis://host:port or rediss://host:port URL (value not shown: it may hold a password)' });
    } else {
      redisUrl = new Secret(url);
    }
  }

  const prefix = r['key_prefix'] ?? 'zego-exporter';
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(prefix)) {
    errors.push({ path: 'fleet.key_prefix', message: 'must be 1-64 characters of letters, digits, _ . : -' });
  }

  const fallback = r['fallback_rate_limit'] ?? 2;
  if (typeof fallback !== 'number' || !Number.isFinite(fallback) || fallback <= 0) {
    errors.push({ path: 'fleet.fallback_rate_limit', message: 'must be a number of calls per second > 0' });
  } else if (fallback > rateLimit) {
    errors.push({ path: 'fleet.fallback_rate_limit', message: `must not exceed zego.rate_limit (${rateLimit}): it is this process's share while Redis is away` });
  }

  const share = r['share_results'] ?? false;
  if (typeof share !== 'boolean') errors.push({ path: 'fleet.share_results', message: 'must be true or false' });

  if (errors.length > 0 || !redisUrl) return { ok: false, errors };
  return { ok: true, fleet: { redisUrl, keyPrefix: prefix as string, fallbackRateLimit: fallback as number, shareResults: share as boolean } };
}
