import type { ConfigReader, YamlNode } from '../reader.js';
import { Secret } from '../secret.js';
import type { FleetConfig } from '../types.js';

/** `fleet:` — many exporters sharing one AppID's budget through Redis. */
export function readFleet(r: ConfigReader, node: YamlNode | null | undefined, rateLimit: number | undefined): FleetConfig | undefined {
  const f = r.fields(node, 'fleet', ['redis_url', 'key_prefix', 'fallback_rate_limit', 'share_results']);
  if (!f) return undefined;
  let redisUrl: Secret | undefined;
  if (!f.has('redis_url')) r.err('fleet.redis_url', node, 'required: a redis:// or rediss:// URL (e.g. ${REDIS_URL})');
  else {
    const s = r.string(f.get('redis_url'), 'fleet.redis_url');
    let url: URL | undefined;
    try {
      url = s === undefined ? undefined : new URL(s);
    } catch {
      url = undefined;
    }
    // The URL may carry a password: never echo it back.
    if (s !== undefined && (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '')) {
      r.err('fleet.redis_url', f.get('redis_url'), 'must be a redis://host:port or rediss://host:port URL (value not shown: it may hold a password)');
    } else if (s !== undefined) redisUrl = new Secret(s);
  }
  let keyPrefix = 'zego-exporter';
  if (f.has('key_prefix')) {
    const s = r.string(f.get('key_prefix'), 'fleet.key_prefix');
    if (s !== undefined && !/^[A-Za-z0-9_.:-]{1,64}$/.test(s))
      r.err('fleet.key_prefix', f.get('key_prefix'), 'must be 1-64 characters of letters, digits, _ . : -');
    else if (s !== undefined) keyPrefix = s;
  }
  let fallbackRateLimit = 2;
  if (f.has('fallback_rate_limit')) {
    const n = r.number(f.get('fallback_rate_limit'), 'fleet.fallback_rate_limit');
    if (n !== undefined && !(n > 0)) r.err('fleet.fallback_rate_limit', f.get('fallback_rate_limit'), 'must be a number of calls per second above 0');
    else if (n !== undefined && rateLimit !== undefined && n > rateLimit) {
      r.err(
        'fleet.fallback_rate_limit',
        f.get('fallback_rate_limit'),
        `must not exceed zego.rate_limit (${rateLimit}): it is this process's share while Redis is away`,
      );
    } else if (n !== undefined) fallbackRateLimit = n;
  }
  const shareResults = f.has('share_results') ? r.bool(f.get('share_results'), 'fleet.share_results') : false;
  if (!redisUrl || shareResults === undefined) return undefined;
  return { redisUrl, keyPrefix, fallbackRateLimit, shareResults };
}
