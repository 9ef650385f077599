import { isSeq } from 'yaml';
import { RESERVED_PATHS } from '../../http/paths.js';
import { parseTrustedProxies } from '../../http/client-key.js';
import { isValidStreamId, parseHostPort } from '../../zego/protocol.js';
import { isValidMixTaskId, MAX_MIX_TASK_ID_BYTES } from '../../zego/mix.js';
import type { ConfigReader, Fields, YamlNode } from '../reader.js';
import { Secret } from '../secret.js';
import type { CallbackTls, CallbacksConfig } from '../types.js';
import { DEFAULT_STREAMS_SEVERITY, readStreamsSeverity } from './streams.js';

const DEFAULT_PATH = '/zego/callback';
/** The callback listener's documented port (9792 + 1): the main listener never serves callbacks. */
export const DEFAULT_CALLBACK_LISTEN_ADDRESS = ':9793';
const URL_PATH = /^\/[A-Za-z0-9._~/-]*$/;
const TLS_MODES: readonly CallbackTls[] = ['off', 'web_config'];

/** `callbacks:` — ZEGO stream callbacks; an empty secret (e.g. `${ZEGO_CALLBACK_SECRET:-}`) turns them off. */
export function readCallbacks(r: ConfigReader, node: YamlNode | null | undefined): CallbacksConfig | undefined {
  const f = r.fields(node, 'callbacks', [
    'secret',
    'secret_file',
    'previous_secret',
    'previous_secret_file',
    'path',
    'listen_address',
    'tls',
    'fanout_accept_unsigned',
    'trusted_proxies',
    'discover',
  ]);
  if (!f) return undefined;
  const current = readSecret(r, f, 'secret');
  const secret = current?.secret;
  const secretFile = current?.file;
  const previous = readSecret(r, f, 'previous_secret');
  let path = DEFAULT_PATH;
  if (f.has('path')) {
    const p = r.string(f.get('path'), 'callbacks.path');
    if (p !== undefined && !URL_PATH.test(p)) r.err('callbacks.path', f.get('path'), 'must be a URL path starting with / (letters, digits, . _ ~ - /)');
    else if (p !== undefined && RESERVED_PATHS.includes(p))
      r.err('callbacks.path', f.get('path'), `${r.shown(f.get('path'), p)} is the exporter's own endpoint`);
    else if (p !== undefined) path = p;
  }
  let listenAddress = DEFAULT_CALLBACK_LISTEN_ADDRESS;
  if (f.has('listen_address')) {
    const a = r.string(f.get('listen_address'), 'callbacks.listen_address');
    const parsed = a === undefined ? undefined : parseHostPort(a, r.shown(f.get('listen_address'), a));
    if (parsed && !parsed.ok) r.err('callbacks.listen_address', f.get('listen_address'), `must be host:port or :port (${parsed.message})`);
    else if (a !== undefined) listenAddress = a;
  }
  let tls: CallbackTls = 'off';
  if (f.has('tls')) {
    const t = r.string(f.get('tls'), 'callbacks.tls');
    const mode = TLS_MODES.find((m) => m === t);
    if (t !== undefined && mode === undefined) r.err('callbacks.tls', f.get('tls'), `must be off or web_config, got ${r.shown(f.get('tls'), t)}`);
    else if (mode !== undefined) tls = mode;
  }
  const acceptUnsigned = f.has('fanout_accept_unsigned') ? (r.bool(f.get('fanout_accept_unsigned'), 'callbacks.fanout_accept_unsigned') ?? false) : false;
  const trustedProxies = f.has('trusted_proxies') ? readTrustedProxies(r, f.get('trusted_proxies'), node) : [];
  const discover = f.has('discover') ? readDiscover(r, f.get('discover')) : undefined;
  if (!secret) return undefined;
  return {
    secret: new Secret(secret),
    ...(secretFile ? { secretFile } : {}),
    ...(previous?.secret ? { previousSecret: new Secret(previous.secret) } : {}),
    ...(previous?.secret && previous.file ? { previousSecretFile: previous.file } : {}),
    path,
    listenAddress,
    listenAddressDefault: !f.has('listen_address'),
    tls,
    fanoutAcceptUnsigned: acceptUnsigned,
    ...(trustedProxies.length > 0 ? { trustedProxies } : {}),
    ...(discover ? { discover } : {}),
  };
}

/**
 * `<key>` or `<key>_file`, not both, trimmed; never echoed. Undefined on an error (already
 * reported); an empty value reads as `secret: ''` (callbacks off, or no previous secret).
 */
function readSecret(r: ConfigReader, f: Fields, key: 'secret' | 'previous_secret'): { secret: string; file?: string } | undefined {
  if (f.has(key) && f.has(`${key}_file`)) {
    r.err(`callbacks.${key}_file`, f.get(`${key}_file`), `set either ${key} or ${key}_file, not both`);
    return undefined;
  }
  if (f.has(key)) {
    const s = r.string(f.get(key), `callbacks.${key}`);
    return s === undefined ? undefined : { secret: s.trim() };
  }
  if (f.has(`${key}_file`)) {
    const read = r.secretFile(f.get(`${key}_file`), `callbacks.${key}_file`);
    return read ? { secret: read.content.trim(), file: read.file } : undefined;
  }
  return { secret: '' };
}

function readDiscover(r: ConfigReader, node: YamlNode | null | undefined): CallbacksConfig['discover'] {
  const d = r.fields(node, 'callbacks.discover', ['patterns', 'max_streams', 'forget_after', 'streams_severity', 'mix_task_patterns', 'max_mix_tasks']);
  if (!d) return undefined;
  // Either list turns its discovery on; one of them is needed, or the section discovers nothing.
  const mixTaskPatterns = d.has('mix_task_patterns') ? readMixTaskPatterns(r, d.get('mix_task_patterns')) : [];
  const pn = d.get('patterns');
  const patterns: string[] = [];
  if (!d.has('patterns') && d.has('mix_task_patterns')) {
    // Mix tasks only: stream_create discovers nothing.
  } else if (!isSeq(pn) || pn.items.length === 0) r.err('callbacks.discover.patterns', pn ?? node, 'required: a list of id patterns such as "live-*"');
  else
    pn.items.forEach((it, i) => {
      const v = r.string(it as YamlNode, `callbacks.discover.patterns[${i}]`);
      // A pattern is a stream id in which `*` stands for any run of characters.
      if (v !== undefined && !isValidStreamId(v.replaceAll('*', '_')))
        r.err(`callbacks.discover.patterns[${i}]`, it as YamlNode, 'must be stream id characters (letters, digits, - _) and *');
      else if (v !== undefined) patterns.push(v);
    });
  const maxStreams = readCap(r, d, 'max_streams', 100);
  const maxMixTasks = readCap(r, d, 'max_mix_tasks', DEFAULT_MAX_MIX_TASKS);
  let forgetAfterMs = 3_600_000;
  if (d.has('forget_after')) {
    const ms = r.duration(d.get('forget_after'), 'callbacks.discover.forget_after');
    if (ms !== undefined) forgetAfterMs = ms;
  }
  const streamsSeverity = d.has('streams_severity')
    ? readStreamsSeverity(r, d.get('streams_severity'), 'callbacks.discover.streams_severity', 'streams discovered by callbacks')
    : DEFAULT_STREAMS_SEVERITY;
  return {
    patterns,
    maxStreams,
    forgetAfterMs,
    streamsSeverity: streamsSeverity ?? DEFAULT_STREAMS_SEVERITY,
    ...(mixTaskPatterns.length > 0 ? { mixTaskPatterns, maxMixTasks } : {}),
  };
}

/** Mix tasks a mix_start may start watching beyond mix_tasks:, at most (GetMixTaskInfo's 80/s budget polls 1200 at 15 s). */
export const DEFAULT_MAX_MIX_TASKS = 100;

function readCap(r: ConfigReader, d: Fields, key: 'max_streams' | 'max_mix_tasks', fallback: number): number {
  if (!d.has(key)) return fallback;
  const n = r.number(d.get(key), `callbacks.discover.${key}`);
  if (n !== undefined && !(Number.isInteger(n) && n >= 1 && n <= 100_000)) {
    r.err(`callbacks.discover.${key}`, d.get(key), 'must be an integer from 1 to 100000');
    return fallback;
  }
  return n ?? fallback;
}

/** `mix_task_patterns`: globs over a task id (printable ASCII, `*` any run of characters). */
function readMixTaskPatterns(r: ConfigReader, pn: YamlNode | null | undefined): string[] {
  const out: string[] = [];
  if (!isSeq(pn) || pn.items.length === 0) {
    r.err('callbacks.discover.mix_task_patterns', pn, 'must be a list of mix task id patterns such as "show-*"');
    return out;
  }
  pn.items.forEach((it, i) => {
    const path = `callbacks.discover.mix_task_patterns[${i}]`;
    const v = r.string(it as YamlNode, path);
    if (v !== undefined && !isValidMixTaskId(v))
      r.err(path, it as YamlNode, `must be mix task id characters (printable ASCII without spaces, at most ${MAX_MIX_TASK_ID_BYTES}) and *`);
    else if (v !== undefined) out.push(v);
  });
  return out;
}

/** `trusted_proxies`: a list of addresses or CIDRs (the shipped Ingress's pod network, say); at most 256. */
function readTrustedProxies(r: ConfigReader, pn: YamlNode | null | undefined, node: YamlNode | null | undefined): string[] {
  if (!isSeq(pn) || pn.items.length > 256) {
    r.err('callbacks.trusted_proxies', pn ?? node, 'must be a list of at most 256 addresses or CIDRs such as 10.0.0.0/8');
    return [];
  }
  const out: string[] = [];
  pn.items.forEach((it, i) => {
    const v = r.string(it as YamlNode, `callbacks.trusted_proxies[${i}]`);
    if (v === undefined) return;
    const parsed = parseTrustedProxies([v]);
    if (!parsed.ok) r.err(`callbacks.trusted_proxies[${i}]`, it as YamlNode, `${r.shown(it as YamlNode, v)} ${parsed.message}`);
    else out.push(v.trim());
  });
  return out;
}
