import { isSeq } from 'yaml';
import { RESERVED_PATHS } from '../../http/paths.js';
import { isValidStreamId, parseHostPort } from '../../zego/protocol.js';
import type { ConfigReader, YamlNode } from '../reader.js';
import { Secret } from '../secret.js';
import type { CallbacksConfig } from '../types.js';
import { DEFAULT_STREAMS_SEVERITY, readStreamsSeverity } from './streams.js';

const DEFAULT_PATH = '/zego/callback';
const URL_PATH = /^\/[A-Za-z0-9._~/-]*$/;

/** `callbacks:` — ZEGO stream callbacks; an empty secret (e.g. `${ZEGO_CALLBACK_SECRET:-}`) turns them off. */
export function readCallbacks(r: ConfigReader, node: YamlNode | null | undefined): CallbacksConfig | undefined {
  const f = r.fields(node, 'callbacks', ['secret', 'secret_file', 'path', 'listen_address', 'discover']);
  if (!f) return undefined;
  if (f.has('secret') && f.has('secret_file')) {
    r.err('callbacks.secret_file', f.get('secret_file'), 'set either secret or secret_file, not both');
    return undefined;
  }
  let secret: string | undefined;
  let secretFile: string | undefined;
  if (f.has('secret')) {
    secret = r.string(f.get('secret'), 'callbacks.secret')?.trim(); // never echoed
  } else if (f.has('secret_file')) {
    const read = r.secretFile(f.get('secret_file'), 'callbacks.secret_file');
    if (!read) return undefined;
    secretFile = read.file;
    secret = read.content.trim();
  }
  let path = DEFAULT_PATH;
  if (f.has('path')) {
    const p = r.string(f.get('path'), 'callbacks.path');
    if (p !== undefined && !URL_PATH.test(p)) r.err('callbacks.path', f.get('path'), 'must be a URL path starting with / (letters, digits, . _ ~ - /)');
    else if (p !== undefined && RESERVED_PATHS.includes(p))
      r.err('callbacks.path', f.get('path'), `${r.shown(f.get('path'), p)} is the exporter's own endpoint`);
    else if (p !== undefined) path = p;
  }
  let listenAddress: string | undefined;
  if (f.has('listen_address')) {
    listenAddress = r.string(f.get('listen_address'), 'callbacks.listen_address');
    const parsed = listenAddress === undefined ? undefined : parseHostPort(listenAddress, r.shown(f.get('listen_address'), listenAddress));
    if (parsed && !parsed.ok) r.err('callbacks.listen_address', f.get('listen_address'), `must be host:port or :port (${parsed.message})`);
  }
  const discover = f.has('discover') ? readDiscover(r, f.get('discover')) : undefined;
  if (!secret) return undefined;
  return {
    secret: new Secret(secret),
    ...(secretFile ? { secretFile } : {}),
    path,
    ...(listenAddress ? { listenAddress } : {}),
    ...(discover ? { discover } : {}),
  };
}

function readDiscover(r: ConfigReader, node: YamlNode | null | undefined): CallbacksConfig['discover'] {
  const d = r.fields(node, 'callbacks.discover', ['patterns', 'max_streams', 'forget_after', 'streams_severity']);
  if (!d) return undefined;
  const pn = d.get('patterns');
  const patterns: string[] = [];
  if (!isSeq(pn) || pn.items.length === 0) r.err('callbacks.discover.patterns', pn ?? node, 'required: a list of id patterns such as "live-*"');
  else
    pn.items.forEach((it, i) => {
      const v = r.string(it as YamlNode, `callbacks.discover.patterns[${i}]`);
      // A pattern is a stream id in which `*` stands for any run of characters.
      if (v !== undefined && !isValidStreamId(v.replaceAll('*', '_')))
        r.err(`callbacks.discover.patterns[${i}]`, it as YamlNode, 'must be stream id characters (letters, digits, - _) and *');
      else if (v !== undefined) patterns.push(v);
    });
  let maxStreams = 100;
  if (d.has('max_streams')) {
    const n = r.number(d.get('max_streams'), 'callbacks.discover.max_streams');
    if (n !== undefined && !(Number.isInteger(n) && n >= 1 && n <= 100_000))
      r.err('callbacks.discover.max_streams', d.get('max_streams'), 'must be an integer from 1 to 100000');
    else if (n !== undefined) maxStreams = n;
  }
  let forgetAfterMs = 3_600_000;
  if (d.has('forget_after')) {
    const ms = r.duration(d.get('forget_after'), 'callbacks.discover.forget_after');
    if (ms !== undefined) forgetAfterMs = ms;
  }
  const streamsSeverity = d.has('streams_severity')
    ? readStreamsSeverity(r, d.get('streams_severity'), 'callbacks.discover.streams_severity', 'streams discovered by callbacks')
    : DEFAULT_STREAMS_SEVERITY;
  return { patterns, maxStreams, forgetAfterMs, streamsSeverity: streamsSeverity ?? DEFAULT_STREAMS_SEVERITY };
}
