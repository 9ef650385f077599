import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { parseDuration } from './duration.js';
import { Secret } from './secret.js';
import { API_RATE_LIMIT, API_RATE_LIMIT_TEST, type CallbacksConfig, type Config, type FleetConfig, type StreamConfig, type ZegoConfig } from './types.js';

/** A mistake the user can fix, pointing at the key path and, where known, the line:column. */
export interface ConfigError {
  path: string;
  line?: number;
  col?: number;
  message: string;
}

export type LoadResult = { ok: true; config: Config; hash: string } | { ok: false; errors: ConfigError[] };

export interface ParseOptions {
  env: NodeJS.ProcessEnv;
  /** Relative secret file paths resolve against this (the config file's folder). */
  baseDir: string;
  readFile?: (path: string) => string;
}

const DEFAULT_ENDPOINT = 'https://rtc-api.zego.im';
const DEFAULT_INTERVAL_MS = 15_000;
const DEFAULT_TIMEOUT_MS = 5000;
/** Headroom below the API's limit: the AppID's budget is shared with the customer's other callers. */
const DEFAULT_RATE = 30;
const DEFAULT_RATE_TEST = 8;
const STREAM_ID = /^[A-Za-z0-9_-]+$/;
const MAX_STREAM_ID_BYTES = 256;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Labels the exporter or Prometheus already use on the same series. */
const RESERVED_LABELS = new Set(['stream_id', 'job', 'instance', 'code', 'outcome', 'reason', 'source', 'le', 'quantile']);

export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { ok: false, errors: [{ path: '', message: `cannot read config file: ${(err as Error).message}` }] };
  }
  return parseConfig(text, { env, baseDir: dirname(resolve(file)) });
}

export function formatConfigError(e: ConfigError, file: string): string {
  const where = e.line === undefined ? file : `${file}:${e.line}:${e.col ?? 1}`;
  return `${where}: ${e.path === '' ? '' : `${e.path}: `}${e.message}`;
}

/** Pure: text in, typed config or every error out. Never throws on bad input. */
export function parseConfig(text: string, opts: ParseOptions): LoadResult {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const ctx = new Ctx(lc, opts);
  for (const e of doc.errors) {
    const pos = lc.linePos(e.pos[0]);
    ctx.errors.push({ path: '', line: pos.line, col: pos.col, message: `YAML: ${e.message.split('\n')[0]}` });
  }
  if (ctx.errors.length > 0) return { ok: false, errors: ctx.errors };

  const root = doc.contents;
  if (!root || (isScalar(root) && root.value === null)) return { ok: false, errors: [{ path: '', message: 'config is empty' }] };
  const top = ctx.fields(root, '', ['zego', 'probe', 'streams', 'fleet', 'callbacks']);
  if (!top) return { ok: false, errors: ctx.errors };

  const zego = readZego(ctx, top.get('zego'));
  const probeFields = top.has('probe') ? ctx.fields(top.get('probe'), 'probe', ['interval']) : new Map<string, YamlNode | null>();
  const intervalMs = (probeFields && ctx.interval(probeFields.get('interval'), 'probe.interval', DEFAULT_INTERVAL_MS)) ?? DEFAULT_INTERVAL_MS;
  const streams = readStreams(ctx, top.get('streams'), intervalMs, zego);
  const fleet = top.has('fleet') ? readFleet(ctx, top.get('fleet'), zego?.rateLimit) : undefined;
  const callbacks = top.has('callbacks') ? readCallbacks(ctx, top.get('callbacks')) : undefined;

  if (ctx.errors.length > 0 || !zego || !streams) return { ok: false, errors: ctx.errors };
  const hash = createHash('sha256').update(text).update('\0').update(ctx.secretFileText).digest('hex');
  return { ok: true, config: { zego, probe: { intervalMs }, streams, ...(fleet ? { fleet } : {}), ...(callbacks ? { callbacks } : {}) }, hash };
}

function readZego(ctx: Ctx, node: YamlNode | null | undefined): ZegoConfig | undefined {
  if (node === undefined || node === null) {
    ctx.errors.push({ path: 'zego', message: 'required section missing' });
    return undefined;
  }
  const f = ctx.fields(node, 'zego', ['app_id', 'server_secret', 'server_secret_file', 'endpoint', 'is_test', 'rate_limit', 'timeout']);
  if (!f) return undefined;

  let appId: number | undefined;
  if (!f.has('app_id')) ctx.err('zego.app_id', node, 'required (your AppID, a uint32)');
  else {
    const n = ctx.number(f.get('app_id'), 'zego.app_id');
    if (n !== undefined && (!Number.isInteger(n) || n < 1 || n > 4_294_967_295)) ctx.err('zego.app_id', f.get('app_id'), `must be an integer from 1 to 4294967295, got ${n}`);
    else appId = n;
  }

  const isTest = f.has('is_test') ? ctx.bool(f.get('is_test'), 'zego.is_test') : false;
  const secret = readSecret(ctx, f, node);

  let endpoint = DEFAULT_ENDPOINT;
  if (f.has('endpoint')) {
    const s = ctx.string(f.get('endpoint'), 'zego.endpoint');
    if (s !== undefined) {
      let url: URL | undefined;
      try {
        url = new URL(s);
      } catch {
        ctx.err('zego.endpoint', f.get('endpoint'), `not a URL: "${s}"`);
      }
      if (url && url.protocol !== 'http:' && url.protocol !== 'https:') ctx.err('zego.endpoint', f.get('endpoint'), 'must be an http or https URL');
      else if (url && (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '')) {
        ctx.err('zego.endpoint', f.get('endpoint'), 'must not carry a query, fragment or credentials');
      } else if (url) endpoint = s.replace(/\/+$/, '');
    }
  }

  const limit = isTest ? API_RATE_LIMIT_TEST : API_RATE_LIMIT;
  let rateLimit = isTest ? DEFAULT_RATE_TEST : DEFAULT_RATE;
  if (f.has('rate_limit')) {
    const n = ctx.number(f.get('rate_limit'), 'zego.rate_limit');
    if (n !== undefined) {
      if (!(n > 0) || n > limit) {
        ctx.err('zego.rate_limit', f.get('rate_limit'), `must be above 0 and at most ${limit} (the API's limit per AppID${isTest ? ' in the test environment' : ''}), got ${n}`);
      } else rateLimit = n;
    }
  }

  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (f.has('timeout')) {
    const d = ctx.duration(f.get('timeout'), 'zego.timeout');
    if (d !== undefined) {
      if (d <= 0 || d > 60_000) ctx.err('zego.timeout', f.get('timeout'), 'must be above 0 and at most 60s');
      else timeoutMs = d;
    }
  }

  if (appId === undefined || isTest === undefined || !secret) return undefined;
  return { appId, serverSecret: secret.secret, ...(secret.file ? { serverSecretFile: secret.file } : {}), endpoint, isTest, rateLimit, timeoutMs };
}

function readSecret(ctx: Ctx, f: Map<string, YamlNode | null>, zegoNode: YamlNode | null): { secret: Secret; file?: string } | undefined {
  const inline = f.has('server_secret');
  const fromFile = f.has('server_secret_file');
  if (inline && fromFile) {
    ctx.err('zego.server_secret_file', f.get('server_secret_file'), 'set either server_secret or server_secret_file, not both');
    return undefined;
  }
  if (!inline && !fromFile) {
    ctx.err('zego.server_secret', zegoNode, 'required: server_secret (e.g. ${ZEGO_SERVER_SECRET}) or server_secret_file');
    return undefined;
  }
  if (inline) {
    // Never echo the value in an error: only say what is wrong with it.
    const s = ctx.string(f.get('server_secret'), 'zego.server_secret');
    if (s === undefined) return undefined;
    if (s.trim() === '') {
      ctx.err('zego.server_secret', f.get('server_secret'), 'is empty');
      return undefined;
    }
    return { secret: new Secret(s.trim()) };
  }
  const p = ctx.string(f.get('server_secret_file'), 'zego.server_secret_file');
  if (p === undefined) return undefined;
  const file = isAbsolute(p) ? p : resolve(ctx.opts.baseDir, p);
  let content: string;
  try {
    content = (ctx.opts.readFile ?? ((x: string) => readFileSync(x, 'utf8')))(file);
  } catch (err) {
    ctx.err('zego.server_secret_file', f.get('server_secret_file'), `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
  ctx.secretFileText = content;
  if (content.trim() === '') {
    ctx.err('zego.server_secret_file', f.get('server_secret_file'), `${file} is empty`);
    return undefined;
  }
  return { secret: new Secret(content.trim()), file };
}

function readStreams(ctx: Ctx, node: YamlNode | null | undefined, defaultIntervalMs: number, zego: ZegoConfig | undefined): StreamConfig[] | undefined {
  if (node === undefined || node === null) {
    ctx.errors.push({ path: 'streams', message: 'required: the list of stream ids to watch' });
    return undefined;
  }
  if (!isSeq(node)) {
    ctx.err('streams', node, 'must be a list');
    return undefined;
  }
  if (node.items.length === 0) {
    ctx.err('streams', node, 'must list at least one stream');
    return undefined;
  }
  const prefixBytes = zego?.isTest ? Buffer.byteLength(`zegotest-${zego.appId}-`) : 0;
  const seen = new Map<string, YamlNode>();
  const out: StreamConfig[] = [];
  node.items.forEach((item, i) => {
    const path = `streams[${i}]`;
    let idNode: YamlNode | null = item as YamlNode | null;
    let intervalMs = defaultIntervalMs;
    let labels: Record<string, string> = {};
    if (isMap(item)) {
      const f = ctx.fields(item, path, ['id', 'interval', 'labels']);
      if (!f) return;
      if (!f.has('id')) {
        ctx.err(`${path}.id`, item, 'required');
        return;
      }
      idNode = f.get('id') ?? null;
      if (f.has('interval')) intervalMs = ctx.interval(f.get('interval'), `${path}.interval`, defaultIntervalMs) ?? defaultIntervalMs;
      if (f.has('labels')) labels = readLabels(ctx, f.get('labels'), `${path}.labels`);
    }
    const idPath = isMap(item) ? `${path}.id` : path;
    const id = ctx.string(idNode, idPath);
    if (id === undefined) return;
    if (!STREAM_ID.test(id)) {
      ctx.err(idPath, idNode, `invalid stream id "${id}": only letters, digits, "-" and "_" are allowed`);
      return;
    }
    if (zego?.isTest && id.startsWith('zegotest-')) {
      ctx.err(idPath, idNode, `list the bare id: the exporter adds the "zegotest-${zego.appId}-" prefix itself in the test environment`);
      return;
    }
    if (Buffer.byteLength(id) + prefixBytes > MAX_STREAM_ID_BYTES) {
      ctx.err(idPath, idNode, `stream id is longer than ${MAX_STREAM_ID_BYTES} bytes${prefixBytes > 0 ? ' with the test-environment prefix' : ''}`);
      return;
    }
    const first = seen.get(id);
    if (first) {
      const at = ctx.pos(first);
      ctx.err(idPath, idNode, `duplicate stream id "${id}" (first listed at line ${at?.line ?? '?'})`);
      return;
    }
    if (idNode) seen.set(id, idNode);
    out.push({ id, intervalMs, labels });
  });
  return out;
}

/** `callbacks:` — ZEGO stream callbacks; an empty secret (e.g. `${ZEGO_CALLBACK_SECRET:-}`) turns them off. */
function readCallbacks(ctx: Ctx, node: YamlNode | null | undefined): CallbacksConfig | undefined {
  const f = ctx.fields(node, 'callbacks', ['secret', 'secret_file', 'path', 'listen_address', 'discover']);
  if (!f) return undefined;
  if (f.has('secret') && f.has('secret_file')) {
    ctx.err('callbacks.secret_file', f.get('secret_file'), 'set either secret or secret_file, not both');
    return undefined;
  }
  let secret: string | undefined;
  let secretFile: string | undefined;
  if (f.has('secret')) {
    secret = ctx.string(f.get('secret'), 'callbacks.secret')?.trim(); // never echoed
  } else if (f.has('secret_file')) {
    const p = ctx.string(f.get('secret_file'), 'callbacks.secret_file');
    if (p === undefined) return undefined;
    secretFile = isAbsolute(p) ? p : resolve(ctx.opts.baseDir, p);
    try {
      secret = (ctx.opts.readFile ?? ((x: string) => readFileSync(x, 'utf8')))(secretFile);
    } catch (err) {
      ctx.err('callbacks.secret_file', f.get('secret_file'), `cannot read ${secretFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return undefined;
    }
    ctx.secretFileText += `\0${secret}`;
    secret = secret.trim();
  }
  let path = '/zego/callback';
  if (f.has('path')) {
    const p = ctx.string(f.get('path'), 'callbacks.path');
    if (p !== undefined && !/^\/[A-Za-z0-9._~/-]*$/.test(p)) ctx.err('callbacks.path', f.get('path'), 'must be a URL path starting with / (letters, digits, . _ ~ - /)');
    else if (p !== undefined && ['/metrics', '/', '/-/healthy', '/-/ready', '/-/reload'].includes(p)) ctx.err('callbacks.path', f.get('path'), `${p} is the exporter's own endpoint`);
    else if (p !== undefined) path = p;
  }
  let listenAddress: string | undefined;
  if (f.has('listen_address')) {
    listenAddress = ctx.string(f.get('listen_address'), 'callbacks.listen_address');
    if (listenAddress !== undefined && !/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/.test(listenAddress)) {
      ctx.err('callbacks.listen_address', f.get('listen_address'), 'must be host:port or :port');
    }
  }
  let discover: CallbacksConfig['discover'];
  if (f.has('discover')) {
    const d = ctx.fields(f.get('discover'), 'callbacks.discover', ['patterns', 'max_streams', 'forget_after']);
    if (d) {
      const pn = d.get('patterns');
      const patterns: string[] = [];
      if (!isSeq(pn) || pn.items.length === 0) ctx.err('callbacks.discover.patterns', pn ?? f.get('discover'), 'required: a list of id patterns such as "live-*"');
      else
        pn.items.forEach((it, i) => {
          const v = ctx.string(it as YamlNode, `callbacks.discover.patterns[${i}]`);
          if (v !== undefined && !/^[A-Za-z0-9_*-]{1,256}$/.test(v)) ctx.err(`callbacks.discover.patterns[${i}]`, it as YamlNode, 'must be stream id characters (letters, digits, - _) and *');
          else if (v !== undefined) patterns.push(v);
        });
      let maxStreams = 100;
      if (d.has('max_streams')) {
        const n = ctx.number(d.get('max_streams'), 'callbacks.discover.max_streams');
        if (n !== undefined && !(Number.isInteger(n) && n >= 1 && n <= 100_000)) ctx.err('callbacks.discover.max_streams', d.get('max_streams'), 'must be an integer from 1 to 100000');
        else if (n !== undefined) maxStreams = n;
      }
      let forgetAfterMs = 3_600_000;
      if (d.has('forget_after')) {
        const ms = ctx.duration(d.get('forget_after'), 'callbacks.discover.forget_after');
        if (ms !== undefined) forgetAfterMs = ms;
      }
      discover = { patterns, maxStreams, forgetAfterMs };
    }
  }
  if (!secret) return undefined;
  return { secret: new Secret(secret), ...(secretFile ? { secretFile } : {}), path, ...(listenAddress ? { listenAddress } : {}), ...(discover ? { discover } : {}) };
}

/** `fleet:` — many exporters sharing one AppID's budget through Redis. */
function readFleet(ctx: Ctx, node: YamlNode | null | undefined, rateLimit: number | undefined): FleetConfig | undefined {
  const f = ctx.fields(node, 'fleet', ['redis_url', 'key_prefix', 'fallback_rate_limit', 'share_results']);
  if (!f) return undefined;
  let redisUrl: Secret | undefined;
  if (!f.has('redis_url')) ctx.err('fleet.redis_url', node, 'required: a redis:// or rediss:// URL (e.g. ${REDIS_URL})');
  else {
    const s = ctx.string(f.get('redis_url'), 'fleet.redis_url');
    let url: URL | undefined;
    try {
      url = s === undefined ? undefined : new URL(s);
    } catch {
      url = undefined;
    }
    // The URL may carry a password: never echo it back.
    if (s !== undefined && (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '')) {
      ctx.err('fleet.redis_url', f.get('redis_url'), 'must be a redis://host:port or rediss://host:port URL (value not shown: it may hold a password)');
    } else if (s !== undefined) redisUrl = new Secret(s);
  }
  let keyPrefix = 'zego-exporter';
  if (f.has('key_prefix')) {
    const s = ctx.string(f.get('key_prefix'), 'fleet.key_prefix');
    if (s !== undefined && !/^[A-Za-z0-9_.:-]{1,64}$/.test(s)) ctx.err('fleet.key_prefix', f.get('key_prefix'), 'must be 1-64 characters of letters, digits, _ . : -');
    else if (s !== undefined) keyPrefix = s;
  }
  let fallbackRateLimit = 2;
  if (f.has('fallback_rate_limit')) {
    const n = ctx.number(f.get('fallback_rate_limit'), 'fleet.fallback_rate_limit');
    if (n !== undefined && !(n > 0)) ctx.err('fleet.fallback_rate_limit', f.get('fallback_rate_limit'), 'must be a number of calls per second above 0');
    else if (n !== undefined && rateLimit !== undefined && n > rateLimit) {
      ctx.err('fleet.fallback_rate_limit', f.get('fallback_rate_limit'), `must not exceed zego.rate_limit (${rateLimit}): it is this process's share while Redis is away`);
    } else if (n !== undefined) fallbackRateLimit = n;
  }
  const shareResults = f.has('share_results') ? ctx.bool(f.get('share_results'), 'fleet.share_results') : false;
  if (!redisUrl || shareResults === undefined) return undefined;
  return { redisUrl, keyPrefix, fallbackRateLimit, shareResults };
}

function readLabels(ctx: Ctx, node: YamlNode | null | undefined, path: string): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!isMap(node)) {
    ctx.err(path, node, 'must be a mapping of label name to value');
    return labels;
  }
  for (const pair of node.items) {
    const keyNode = pair.key as YamlNode;
    const name = isScalar(keyNode) ? String(keyNode.value) : '';
    const p = `${path}.${name}`;
    if (!LABEL_NAME.test(name) || name.startsWith('__')) {
      ctx.err(p, keyNode, `invalid label name "${name}" (letters, digits and _, not starting with a digit or __)`);
      continue;
    }
    if (RESERVED_LABELS.has(name)) {
      ctx.err(p, keyNode, `label "${name}" clashes with a label the exporter or Prometheus sets`);
      continue;
    }
    const value = ctx.string(pair.value as YamlNode | null, p);
    if (value !== undefined) labels[name] = value;
  }
  return labels;
}

/** Error collection, positions and typed reads of YAML nodes with `${VAR}` expansion. */
class Ctx {
  readonly errors: ConfigError[] = [];
  secretFileText = '';
  /** Scalars whose text came (partly) from the environment: their source text, for messages. */
  readonly #expanded = new WeakMap<object, { raw: string; value: string }>();

  constructor(
    readonly lc: LineCounter,
    readonly opts: ParseOptions,
  ) {}

  pos(node: YamlNode | null | undefined): { line: number; col: number } | undefined {
    const offset = node?.range?.[0];
    return offset === undefined ? undefined : this.lc.linePos(offset);
  }

  /**
   * Messages may quote the bad value. A value expanded from the environment is quoted as written
   * (`${ZEGO_SERVER_SECRET}`), never as expanded: a secret put under the wrong key would otherwise
   * be printed in the error.
   */
  err(path: string, node: YamlNode | null | undefined, message: string): void {
    const p = this.pos(node);
    const x = node ? this.#expanded.get(node) : undefined;
    if (x && x.value !== '') message = message.split(x.value).join(x.raw);
    this.errors.push(p ? { path, line: p.line, col: p.col, message } : { path, message });
  }

  /** The keys of a mapping; unknown keys are errors. */
  fields(node: YamlNode | null | undefined, path: string, allowed: readonly string[]): Map<string, YamlNode | null> | undefined {
    if (!isMap(node)) {
      this.err(path === '' ? '(top level)' : path, node, 'must be a mapping');
      return undefined;
    }
    const out = new Map<string, YamlNode | null>();
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode;
      const key = isScalar(keyNode) ? String(keyNode.value) : '';
      const p = path === '' ? key : `${path}.${key}`;
      if (!allowed.includes(key)) {
        this.err(p, keyNode, `unknown key "${key}" (allowed: ${allowed.join(', ')})`);
        continue;
      }
      out.set(key, (pair.value as YamlNode | null) ?? null);
    }
    return out;
  }

  /** A scalar as text; strings get `${VAR}` / `${VAR:-default}` expanded (`$$` is a literal `$`). */
  string(node: YamlNode | null | undefined, path: string): string | undefined {
    if (!isScalar(node) || node.value === null || typeof node.value === 'object') {
      this.err(path, node, 'must be a single value');
      return undefined;
    }
    if (typeof node.value !== 'string') return String(node.value);
    let failed = false;
    const out = node.value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (m, name: string | undefined, dflt: string | undefined) => {
      if (m === '$$') return '$';
      const v = this.opts.env[name!];
      if (v !== undefined && v !== '') return v;
      if (dflt !== undefined) return dflt;
      this.err(path, node, `environment variable ${name} is not set`);
      failed = true;
      return '';
    });
    if (out !== node.value) this.#expanded.set(node, { raw: node.value, value: out });
    return failed ? undefined : out;
  }

  number(node: YamlNode | null | undefined, path: string): number | undefined {
    if (isScalar(node) && typeof node.value === 'number') return node.value;
    const s = this.string(node, path);
    if (s === undefined) return undefined;
    const n = Number(s.trim());
    if (s.trim() === '' || !Number.isFinite(n)) {
      this.err(path, node, `must be a number, got "${s}"`);
      return undefined;
    }
    return n;
  }

  bool(node: YamlNode | null | undefined, path: string): boolean | undefined {
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    const s = this.string(node, path);
    if (s === 'true' || s === 'false') return s === 'true';
    if (s !== undefined) this.err(path, node, `must be true or false, got "${s}"`);
    return undefined;
  }

  duration(node: YamlNode | null | undefined, path: string): number | undefined {
    const s = this.string(node, path);
    if (s === undefined) return undefined;
    const d = parseDuration(s);
    if (typeof d !== 'number') {
      this.err(path, node, d.error);
      return undefined;
    }
    return d;
  }

  /** A probe interval: at least 1 s (the API's Sequence and budget make less meaningless), at most 24 h. */
  interval(node: YamlNode | null | undefined, path: string, fallback: number): number | undefined {
    if (node === undefined) return fallback;
    const d = this.duration(node, path);
    if (d === undefined) return undefined;
    if (d < 1000 || d > 86_400_000) {
      this.err(path, node, 'must be from 1s to 24h');
      return undefined;
    }
    return d;
  }
}
