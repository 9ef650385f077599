import type { ConfigReader, Fields, YamlNode } from '../reader.js';
import { Secret } from '../secret.js';
import { API_RATE_LIMIT, API_RATE_LIMIT_TEST, API_STREAM_LIST_LIMIT, API_USER_NUM_LIMIT, API_USER_NUM_LIMIT_TEST, type ZegoConfig } from '../types.js';

const DEFAULT_ENDPOINT = 'https://rtc-api.zego.im';
const DEFAULT_TIMEOUT_MS = 5000;
/** Headroom below the API's limit: the AppID's budget is shared with the customer's other callers. */
const DEFAULT_RATE = 30;
const DEFAULT_RATE_TEST = 8;
/** The room APIs' budgets, with the same kind of headroom under each API's own limit. */
const DEFAULT_STREAM_LIST_RATE = 40;
const DEFAULT_USER_NUM_RATE = 8;
const DEFAULT_USER_NUM_RATE_TEST = 1;

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

  const limit = isTest ? API_RATE_LIMIT_TEST : API_RATE_LIMIT;
  let rateLimit = isTest ? DEFAULT_RATE_TEST : DEFAULT_RATE;
  if (f.has('rate_limit')) {
    const n = r.number(f.get('rate_limit'), 'zego.rate_limit');
    if (n !== undefined) {
      if (!(n > 0) || n > limit) {
        r.err(
          'zego.rate_limit',
          f.get('rate_limit'),
          `must be above 0 and at most ${limit} (the API's limit per AppID${isTest ? ' in the test environment' : ''}), got ${r.shown(f.get('rate_limit'), n)}`,
        );
      } else rateLimit = n;
    }
  }

  const env = isTest ? ' in the test environment' : '';
  const streamListRateLimit = readRate(r, f, 'stream_list_rate_limit', DEFAULT_STREAM_LIST_RATE, API_STREAM_LIST_LIMIT, 'DescribeSimpleStreamList', '');
  const userNumRateLimit = isTest
    ? readRate(r, f, 'user_num_rate_limit', DEFAULT_USER_NUM_RATE_TEST, API_USER_NUM_LIMIT_TEST, 'DescribeUserNum', env)
    : readRate(r, f, 'user_num_rate_limit', DEFAULT_USER_NUM_RATE, API_USER_NUM_LIMIT, 'DescribeUserNum', env);

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
    rateLimit,
    streamListRateLimit,
    userNumRateLimit,
    timeoutMs,
  };
}

/** A per-API budget: above 0, at most that API's limit per AppID. */
function readRate(r: ConfigReader, f: Fields, key: string, fallback: number, limit: number, api: string, env: string): number {
  if (!f.has(key)) return fallback;
  const n = r.number(f.get(key), `zego.${key}`);
  if (n === undefined) return fallback;
  if (!(n > 0) || n > limit) {
    r.err(`zego.${key}`, f.get(key), `must be above 0 and at most ${limit} (${api}'s limit per AppID${env}), got ${n}`);
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
