import type { ConfigReader, Fields, YamlNode } from '../reader.js';
import { Secret } from '../secret.js';
import { ACTION_ROWS, forEnv, type Limits, type RateKey } from '../../api/actions.js';
import type { ZegoConfig } from '../types.js';

const DEFAULT_ENDPOINT = 'https://rtc-api.zego.im';
const DEFAULT_TIMEOUT_MS = 5000;

/** `zego:` (required) — the AppID, its ServerSecret, the endpoint and this exporter's share of the rate limit. */
export function readZego(r: ConfigReader, node: YamlNode | null | undefined): ZegoConfig | undefined {
  if (node === undefined || node === null) {
    r.missing('zego', 'required section missing');
    return undefined;
  }
  const f = r.fields(node, 'zego', [
    'app_id',
    'server_secret',
    'server_secret_file',
    'endpoint',
    'is_test',
    'rate_limit',
    'stream_list_rate_limit',
    'user_num_rate_limit',
    'mix_task_info_rate_limit',
    'timeout',
  ]);
  if (!f) return undefined;

  let appId: number | undefined;
  if (!f.has('app_id')) r.err('zego.app_id', node, 'required (your AppID, a uint32)');
  else {
    const n = r.number(f.get('app_id'), 'zego.app_id');
    if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > 4_294_967_295))
      r.err('zego.app_id', f.get('app_id'), `must be an integer from 1 to 4294967295, got ${r.shown(f.get('app_id'), n)}`);
    else appId = n;
  }

  const isTest = f.has('is_test') ? r.bool(f.get('is_test'), 'zego.is_test') : false;
  const secret = readServerSecret(r, f, node);

  let endpoint = DEFAULT_ENDPOINT;
  if (f.has('endpoint')) {
    const s = r.string(f.get('endpoint'), 'zego.endpoint');
    if (s !== undefined) {
      let url: URL | undefined;
      try {
        url = new URL(s);
      } catch {
        r.err('zego.endpoint', f.get('endpoint'), `not a URL: ${r.shown(f.get('endpoint'), s)}`);
      }
      if (url && url.protocol !== 'http:' && url.protocol !== 'https:') r.err('zego.endpoint', f.get('endpoint'), 'must be an http or https URL');
      else if (url && (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '')) {
        r.err('zego.endpoint', f.get('endpoint'), 'must not carry a query, fragment or credentials');
      } else if (url) endpoint = s.replace(/\/+$/, '');
    }
  }

  // Each Action's budget key, its default and its ceiling come from the Actions table.
  const rates = { rateLimit: 0, streamListRateLimit: 0, userNumRateLimit: 0, mixTaskInfoRateLimit: 0 };
  for (const row of ACTION_ROWS) {
    if ('key' in row.rate) rates[row.rate.field] = readRate(r, f, row.rate, row.limit, isTest ?? false);
  }

  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (f.has('timeout')) {
    const d = r.duration(f.get('timeout'), 'zego.timeout');
    if (d !== undefined) {
      if (d <= 0 || d > 60_000) r.err('zego.timeout', f.get('timeout'), 'must be above 0 and at most 60s');
      else timeoutMs = d;
    }
  }

  if (appId === undefined || isTest === undefined || !secret) return undefined;
  return {
    appId,
    serverSecret: secret.secret,
    ...(secret.file ? { serverSecretFile: secret.file } : {}),
    endpoint,
    isTest,
    ...rates,
    timeoutMs,
  };
}

/** A per-API budget: above 0, at most that API's limit per AppID (in the test environment when that one differs). */
function readRate(r: ConfigReader, f: Fields, rate: RateKey, limits: Limits, isTest: boolean): number {
  const fallback = forEnv(rate.default, isTest);
  const limit = forEnv(limits, isTest);
  const { key } = rate;
  if (!f.has(key)) return fallback;
  const n = r.number(f.get(key), `zego.${key}`);
  if (n === undefined) return fallback;
  if (!(n > 0) || n > limit) {
    const env = isTest && limits.test !== limits.production ? ' in the test environment' : '';
    r.err(`zego.${key}`, f.get(key), `must be above 0 and at most ${limit} (${rate.limitOf}'s limit per AppID${env}), got ${r.shown(f.get(key), n)}`);
    return fallback;
  }
  return n;
}

function readServerSecret(r: ConfigReader, f: Fields, zegoNode: YamlNode | null): { secret: Secret; file?: string } | undefined {
  const inline = f.has('server_secret');
  const fromFile = f.has('server_secret_file');
  if (inline && fromFile) {
    r.err('zego.server_secret_file', f.get('server_secret_file'), 'set either server_secret or server_secret_file, not both');
    return undefined;
  }
  if (!inline && !fromFile) {
    r.err('zego.server_secret', zegoNode, 'required: server_secret (e.g. ${ZEGO_SERVER_SECRET}) or server_secret_file');
    return undefined;
  }
  if (inline) {
    // Never echo the value in an error: only say what is wrong with it.
    const s = r.string(f.get('server_secret'), 'zego.server_secret');
    if (s === undefined) return undefined;
    if (s.trim() === '') {
      r.err('zego.server_secret', f.get('server_secret'), 'is empty');
      return undefined;
    }
    return { secret: new Secret(s.trim()) };
  }
  const read = r.secretFile(f.get('server_secret_file'), 'zego.server_secret_file');
  if (!read) return undefined;
  if (read.content.trim() === '') {
    r.err('zego.server_secret_file', f.get('server_secret_file'), `${read.file} is empty`);
    return undefined;
  }
  return { secret: new Secret(read.content.trim()), file: read.file };
}
