import { createHash, X509Certificate } from 'node:crypto';
import { dirname, isAbsolute, resolve } from 'node:path';
import { createSecureContext, type SecureVersion, type TlsOptions } from 'node:tls';
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { runIsolated, type LoaderLimits } from '../config/isolated.js';
import { ConfigReader, type ConfigError, type YamlNode } from '../config/reader.js';
import { FileReadError, formatBytes, readRegularFile, TLS_FILE_MAX_BYTES, WEB_CONFIG_FILE_MAX_BYTES } from '../config/regular-file.js';

/**
 * `--web.config.file`, in the prometheus/exporter-toolkit format (docs/web-config.md), so an SRE
 * reuses the file every Go exporter of theirs already reads. Key names, defaults and the checks
 * follow exporter-toolkit's web/tls_config.go; what Node cannot honour is an error, never ignored.
 */

/** exporter-toolkit's client_auth_type values, as Go's tls.ClientAuthType names them. */
export const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];

const TLS_VERSIONS: Readonly<Record<string, SecureVersion>> = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' };
const VERSION_ORDER: readonly SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/**
 * Go's tls.CipherSuites() names (the ones exporter-toolkit accepts) → OpenSSL's. The TLS 1.3
 * suites keep their IANA names in OpenSSL. Go's "insecure" suites are unknown to exporter-toolkit
 * too, so they are not here.
 */
const CIPHERS: Readonly<Record<string, string>> = {
  TLS_AES_128_GCM_SHA256: 'TLS_AES_128_GCM_SHA256',
  TLS_AES_256_GCM_SHA384: 'TLS_AES_256_GCM_SHA384',
  TLS_CHACHA20_POLY1305_SHA256: 'TLS_CHACHA20_POLY1305_SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
};

/** exporter-toolkit's curve names → OpenSSL's group names (Node's `ecdhCurve`). */
const CURVES: Readonly<Record<string, string>> = { CurveP256: 'P-256', CurveP384: 'P-384', CurveP521: 'P-521', X25519: 'X25519' };

/**
 * The response headers exporter-toolkit lets a web config set (its extraHTTPHeaders): any other
 * is refused, and these two only take the listed values.
 */
const HEADERS: Readonly<Record<string, readonly string[] | null>> = {
  'Strict-Transport-Security': null,
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': null,
  'Content-Security-Policy': null,
};

/**
 * The certificate chain the server sends, as the TLS Certificate message carries it (each
 * certificate's DER plus a few bytes of framing). Clients refuse a larger one in the handshake, so
 * it is refused at load instead: OpenSSL (curl, Python) at 100 KiB, Go before 1.21 and other
 * stacks at 64 KiB for any handshake message. A real chain (leaf and intermediates) is 2–8 KiB.
 */
export const TLS_CHAIN_MAX_BYTES = 64 * 1024;

/** A bcrypt hash as htpasswd -B and Go's bcrypt write it: $2a$, $2b$ or $2y$, cost 04–31, 53 characters of salt and hash. */
const BCRYPT = /^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$/;

export interface WebTls {
  clientAuth: ClientAuthType;
  /** client_allowed_sans: a client certificate must name one of these (DNS name, e-mail, IP or URI); absent: any. */
  allowedSans?: readonly string[];
  /** What the TLS server is built with and what setSecureContext() gets on a reload. */
  options: TlsOptions;
}

export interface WebConfig {
  /** Absent: plain HTTP (a web config with only users or headers). */
  tls?: WebTls;
  /** user → bcrypt hash. Empty: no basic auth. */
  users: ReadonlyMap<string, string>;
  /** Set on every response. */
  headers: Readonly<Record<string, string>>;
  /** The files the config names (certificate, key, client CA): a change on disk reloads. */
  files: readonly string[];
  /** Over the file and every file it names: equal digests, nothing to apply. */
  digest: string;
}

export type WebConfigResult = { ok: true; config: WebConfig } | { ok: false; errors: ConfigError[] };

export interface WebParseOptions {
  /** Relative file paths resolve against this (the web config file's folder). */
  baseDir: string;
  readFile?: (path: string) => Buffer;
}

/**
 * Reads the web config and every file it names in this thread, through readRegularFile (a regular
 * file under its cap, opened non-blocking). The process uses loadWebConfigIsolated; this is what
 * its worker runs.
 */
export function loadWebConfig(file: string): WebConfigResult {
  let text: string;
  try {
    text = readRegularFile(file, WEB_CONFIG_FILE_MAX_BYTES).toString('utf8');
  } catch (err) {
    const why = err instanceof FileReadError ? err.reason : (err as Error).message;
    return { ok: false, errors: [{ path: '', message: `cannot read web config file ${file}: ${why}` }] };
  }
  return parseWebConfig(text, { baseDir: dirname(resolve(file)) });
}

/**
 * loadWebConfig in a worker with a timeout (the guard of isolated.ts): a certificate on a volume
 * that hangs costs a failed reload, never the main thread. Never throws.
 */
export async function loadWebConfigIsolated(file: string, limits: LoaderLimits = {}): Promise<WebConfigResult> {
  const r = await runIsolated(
    new URL('./web-config-worker.js', import.meta.url),
    { file },
    { doing: 'reading the web config', worker: 'web config reader' },
    limits,
  );
  if (!r.ok) return { ok: false, errors: [{ path: '', message: r.message }] };
  const res = r.value as WebConfigResult;
  return res.ok && res.config.tls ? { ok: true, config: { ...res.config, tls: { ...res.config.tls, options: buffers(res.config.tls.options) } } } : res;
}

/** Structured cloning turns a Buffer into a plain Uint8Array; TLS options want Buffers back. */
function buffers(o: TlsOptions): TlsOptions {
  const b = (v: unknown): unknown => (v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v);
  return { ...o, ...(o.cert ? { cert: b(o.cert) as Buffer } : {}), ...(o.key ? { key: b(o.key) as Buffer } : {}), ...(o.ca ? { ca: b(o.ca) as Buffer } : {}) };
}

/**
 * Whether a PEM holds certificates a TLS peer can take: at least one, each parses, and (for the
 * chain the server sends) the whole fits in a handshake message. Null when it does.
 */
export function certificatesProblem(pem: Buffer, maxChainBytes?: number): string | null {
  const blocks = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) return 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)';
  let bytes = 4;
  for (const [i, block] of blocks.entries()) {
    try {
      bytes += 5 + new X509Certificate(block).raw.length;
    } catch (err) {
      return `certificate ${i + 1} of ${blocks.length} does not parse: ${(err as Error).message}`;
    }
  }
  if (maxChainBytes !== undefined && bytes > maxChainBytes) {
    return `the chain of ${blocks.length} certificates is ${formatBytes(Math.ceil(bytes / 1024) * 1024)} in the TLS handshake, over the ${formatBytes(maxChainBytes)} TLS clients accept: serve the leaf and its intermediates only`;
  }
  return null;
}

/** Pure but for reading the files it names: text in, the config or every error out. Never throws on bad input. */
export function parseWebConfig(text: string, opts: WebParseOptions): WebConfigResult {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  // No ${ENV} expansion here: exporter-toolkit does none, and the same file must mean the same in both.
  const r = new ConfigReader(lc, { env: {}, baseDir: opts.baseDir });
  for (const e of doc.errors) {
    const pos = lc.linePos(e.pos[0]);
    r.errors.push({ path: '', line: pos.line, col: pos.col, message: `YAML: ${e.message.split('\n')[0]}` });
  }
  if (r.errors.length > 0) return { ok: false, errors: r.errors };
  const digest = createHash('sha256').update(text);
  const read = opts.readFile ?? ((p: string) => readRegularFile(p, TLS_FILE_MAX_BYTES));
  const files: string[] = [];
  const readNamed = (node: YamlNode | null | undefined, path: string): Buffer | undefined => {
    const p = text1(r, node, path);
    if (p === undefined) return undefined;
    const file = isAbsolute(p) ? p : resolve(opts.baseDir, p);
    files.push(file);
    try {
      const content = read(file);
      digest.update(`\0${file}\0`).update(content);
      return content;
    } catch (err) {
      const why = err instanceof FileReadError ? err.reason : ((err as NodeJS.ErrnoException).code ?? (err as Error).message);
      r.err(path, node, `cannot read ${file}: ${why}`);
      return undefined;
    }
  };

  const root = doc.contents;
  // An empty file is a valid web config that changes nothing, as in exporter-toolkit.
  const empty = !root || (isScalar(root) && root.value === null);
  const top = empty ? new Map<string, YamlNode | null>() : r.fields(root, '', ['tls_server_config', 'http_server_config', 'basic_auth_users', 'rate_limit']);
  if (!top) return { ok: false, errors: r.errors };
  if (top.has('rate_limit'))
    r.err('rate_limit', top.get('rate_limit'), 'is not supported by this exporter (remove it; the listeners bound slow clients themselves)');

  // An empty section is no section (Go's zero value): `tls_server_config:` alone leaves TLS off.
  const tls = isSet(top.get('tls_server_config')) ? readTls(r, top.get('tls_server_config'), readNamed) : undefined;
  const headers = isSet(top.get('http_server_config')) ? readHttp(r, top.get('http_server_config')) : {};
  const users = top.has('basic_auth_users') ? readUsers(r, top.get('basic_auth_users')) : new Map<string, string>();

  if (r.errors.length > 0) return { ok: false, errors: r.errors };
  return { ok: true, config: { ...(tls ? { tls } : {}), users, headers, files, digest: digest.digest('hex') } };
}

function isSet(node: YamlNode | null | undefined): boolean {
  return node !== undefined && node !== null && !(isScalar(node) && node.value === null);
}

/** A scalar as its literal text (no expansion); numbers and booleans as written. */
function text1(r: ConfigReader, node: YamlNode | null | undefined, path: string): string | undefined {
  if (!isScalar(node) || node.value === null || typeof node.value === 'object') {
    r.err(path, node, 'must be a single value');
    return undefined;
  }
  return String(node.value);
}

function list(r: ConfigReader, node: YamlNode | null | undefined, path: string): { node: YamlNode; path: string }[] {
  if (node === undefined || node === null || (isScalar(node) && node.value === null)) return [];
  if (!isSeq(node)) {
    r.err(path, node, 'must be a list');
    return [];
  }
  return node.items.map((n, i) => ({ node: n as YamlNode, path: `${path}[${i}]` }));
}

function readTls(
  r: ConfigReader,
  node: YamlNode | null | undefined,
  readNamed: (node: YamlNode | null | undefined, path: string) => Buffer | undefined,
): WebTls | undefined {
  const P = 'tls_server_config';
  const before = r.errors.length;
  const f = r.fields(node, P, [
    'cert_file',
    'key_file',
    'cert',
    'key',
    'client_auth_type',
    'client_ca_file',
    'client_ca',
    'min_version',
    'max_version',
    'cipher_suites',
    'prefer_server_cipher_suites',
    'curve_preferences',
    'client_allowed_sans',
  ]);
  if (!f) return undefined;
  const pem = (fileKey: string, inlineKey: string): Buffer | undefined => {
    if (f.has(fileKey) && f.has(inlineKey)) {
      r.err(`${P}.${inlineKey}`, f.get(inlineKey), `set ${fileKey} or ${inlineKey}, not both`);
      return undefined;
    }
    if (f.has(fileKey)) return readNamed(f.get(fileKey), `${P}.${fileKey}`);
    if (f.has(inlineKey)) {
      const t = text1(r, f.get(inlineKey), `${P}.${inlineKey}`);
      return t === undefined ? undefined : Buffer.from(t);
    }
    return undefined;
  };
  const cert = pem('cert_file', 'cert');
  const key = pem('key_file', 'key');
  const ca = pem('client_ca_file', 'client_ca');

  let clientAuth: ClientAuthType | undefined = 'NoClientCert';
  if (f.has('client_auth_type')) {
    clientAuth = undefined;
    const v = text1(r, f.get('client_auth_type'), `${P}.client_auth_type`);
    // RequireClientCert: exporter-toolkit's old spelling of RequireAnyClientCert, still accepted there.
    const name = v === 'RequireClientCert' ? 'RequireAnyClientCert' : v === '' ? 'NoClientCert' : v;
    if (name !== undefined && (CLIENT_AUTH_TYPES as readonly string[]).includes(name)) clientAuth = name as ClientAuthType;
    else if (v !== undefined) r.err(`${P}.client_auth_type`, f.get('client_auth_type'), `must be one of ${CLIENT_AUTH_TYPES.join(', ')}, got "${v}"`);
  }
  const hasCa = f.has('client_ca_file') || f.has('client_ca');
  if (hasCa && clientAuth === 'NoClientCert') {
    r.err(
      `${P}.client_auth_type`,
      f.get('client_auth_type') ?? f.get('client_ca_file') ?? f.get('client_ca'),
      'client CAs are configured but client_auth_type is NoClientCert',
    );
  }
  if ((clientAuth === 'RequireAndVerifyClientCert' || clientAuth === 'VerifyClientCertIfGiven') && !hasCa) {
    // Go would verify against the system roots; a client CA of the operator's own is what this mode is for.
    r.err(
      `${P}.client_ca_file`,
      f.get('client_auth_type'),
      `client_auth_type ${clientAuth} needs client_ca_file (or client_ca): the CA that signs the clients' certificates`,
    );
  }
  let allowedSans: string[] | undefined;
  if (f.has('client_allowed_sans')) {
    allowedSans = list(r, f.get('client_allowed_sans'), `${P}.client_allowed_sans`).flatMap(({ node: n, path }) => text1(r, n, path) ?? []);
    // As exporter-toolkit: matching needs a certificate the client cannot leave out.
    if (clientAuth !== undefined && clientAuth !== 'RequireAnyClientCert' && clientAuth !== 'RequireAndVerifyClientCert') {
      r.err(`${P}.client_allowed_sans`, f.get('client_allowed_sans'), 'needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert');
    }
  }
  if (!f.has('cert_file') && !f.has('cert')) r.err(`${P}.cert_file`, node, 'missing one of cert or cert_file');
  if (!f.has('key_file') && !f.has('key')) r.err(`${P}.key_file`, node, 'missing one of key or key_file');

  const version = (k: 'min_version' | 'max_version', dflt: SecureVersion): SecureVersion | undefined => {
    if (!f.has(k)) return dflt;
    const v = text1(r, f.get(k), `${P}.${k}`);
    const out = v === undefined ? undefined : TLS_VERSIONS[v];
    if (v !== undefined && out === undefined) r.err(`${P}.${k}`, f.get(k), `must be one of ${Object.keys(TLS_VERSIONS).join(', ')}, got "${v}"`);
    return out;
  };
  const minVersion = version('min_version', 'TLSv1.2');
  const maxVersion = version('max_version', 'TLSv1.3');
  if (minVersion && maxVersion && VERSION_ORDER.indexOf(minVersion) > VERSION_ORDER.indexOf(maxVersion))
    r.err(`${P}.min_version`, f.get('min_version'), 'is above max_version');

  const names = (k: string, table: Readonly<Record<string, string>>, what: string): string[] =>
    list(r, f.get(k), `${P}.${k}`).flatMap(({ node: n, path }) => {
      const v = text1(r, n, path);
      if (v === undefined) return [];
      const mapped = table[v];
      if (mapped === undefined) r.err(path, n, `unknown ${what} "${v}" (known: ${Object.keys(table).join(', ')})`);
      return mapped === undefined ? [] : [mapped];
    });
  const ciphers = names('cipher_suites', CIPHERS, 'cipher suite');
  const curves = names('curve_preferences', CURVES, 'curve');
  let honorCipherOrder = true;
  if (f.has('prefer_server_cipher_suites')) honorCipherOrder = r.bool(f.get('prefer_server_cipher_suites'), `${P}.prefer_server_cipher_suites`) ?? true;

  if (r.errors.length > before || !cert || !key || !clientAuth || !minVersion || !maxVersion) return undefined;
  // A chain the handshake would choke on must never replace a working one: every client would fail.
  for (const [keys, pemText, max] of [
    [['cert_file', 'cert'], cert, TLS_CHAIN_MAX_BYTES],
    [['client_ca_file', 'client_ca'], ca, undefined],
  ] as const) {
    const problem = pemText ? certificatesProblem(pemText, max) : null;
    const k = f.has(keys[0]) ? keys[0] : keys[1];
    if (problem !== null) {
      r.err(`${P}.${k}`, f.get(k), problem);
      return undefined;
    }
  }
  const options: TlsOptions = {
    cert,
    key,
    minVersion,
    maxVersion,
    honorCipherOrder,
    ...(ciphers.length > 0 ? { ciphers: ciphersFor(ciphers) } : {}),
    ...(curves.length > 0 ? { ecdhCurve: curves.join(':') } : {}),
    ...(ca ? { ca } : {}),
    ...clientCertOptions(clientAuth),
  };
  try {
    // What the listener will do with it, now: a key that does not match, a PEM that is not one.
    createSecureContext(options);
  } catch (err) {
    r.err(P, node, `cannot use the certificate, key or client CA: ${(err as Error).message}`);
    return undefined;
  }
  return { clientAuth, ...(allowedSans ? { allowedSans } : {}), options };
}

/**
 * Go never applies cipher_suites to TLS 1.3 (its suites are not configurable there). OpenSSL takes
 * the TLS 1.3 suites from the same list, so a list naming only TLS 1.2 suites keeps the TLS 1.3
 * defaults, as in Go.
 */
function ciphersFor(list: readonly string[]): string {
  const has13 = list.some((c) => c.startsWith('TLS_'));
  return has13 ? list.join(':') : [...list, 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256'].join(':');
}

/**
 * Node asks for and verifies a client certificate in one mode (requestCert + rejectUnauthorized);
 * the modes between (any certificate, or verified only if given) are enforced per connection by
 * the listener (web-security.ts), so Node must ask without rejecting.
 */
function clientCertOptions(mode: ClientAuthType): Pick<TlsOptions, 'requestCert' | 'rejectUnauthorized'> {
  if (mode === 'NoClientCert') return { requestCert: false, rejectUnauthorized: false };
  return { requestCert: true, rejectUnauthorized: mode === 'RequireAndVerifyClientCert' };
}

function readHttp(r: ConfigReader, node: YamlNode | null | undefined): Record<string, string> {
  const P = 'http_server_config';
  const f = r.fields(node, P, ['headers', 'http2']);
  const out: Record<string, string> = {};
  if (!f) return out;
  // Accepted for compatibility; Node's HTTPS server here speaks HTTP/1.1 (docs/web-config.md).
  if (f.has('http2')) r.bool(f.get('http2'), `${P}.http2`);
  const h = f.get('headers');
  if (!f.has('headers') || h === null || (isScalar(h) && h.value === null)) return out;
  if (!isMap(h)) {
    r.err(`${P}.headers`, h, 'must be a mapping of header name to value');
    return out;
  }
  for (const pair of h.items) {
    const keyNode = pair.key as YamlNode;
    const name = isScalar(keyNode) ? String(keyNode.value) : '';
    const path = `${P}.headers.${name}`;
    const allowed = HEADERS[name];
    if (allowed === undefined) {
      r.err(path, keyNode, `HTTP header "${name}" can not be configured (allowed: ${Object.keys(HEADERS).join(', ')})`);
      continue;
    }
    const v = text1(r, pair.value as YamlNode | null, path);
    if (v === undefined) continue;
    if (allowed !== null && !allowed.includes(v)) r.err(path, pair.value as YamlNode, `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}, got "${v}"`);
    else if (/[\r\n]/.test(v)) r.err(path, pair.value as YamlNode, 'must be one line');
    else out[name] = v;
  }
  return out;
}

/** Hashes are secrets as exporter-toolkit treats them: messages name the user, never the value. */
function readUsers(r: ConfigReader, node: YamlNode | null | undefined): Map<string, string> {
  const P = 'basic_auth_users';
  const out = new Map<string, string>();
  if (node === null || (isScalar(node) && node.value === null)) return out;
  if (!isMap(node)) {
    r.err(P, node, 'must be a mapping of user name to bcrypt hash');
    return out;
  }
  for (const pair of node.items) {
    const keyNode = pair.key as YamlNode;
    const user = isScalar(keyNode) ? String(keyNode.value) : '';
    const path = `${P}.${user}`;
    if (user === '' || user.includes(':')) {
      r.err(path, keyNode, 'a user name must be non-empty and without ":" (basic auth splits on the first ":")');
      continue;
    }
    const v = pair.value as YamlNode | null;
    if (!isScalar(v) || typeof v.value !== 'string') {
      r.err(path, v ?? keyNode, 'must be a bcrypt hash (htpasswd -nBC 10 USER)');
      continue;
    }
    if (!BCRYPT.test(v.value)) {
      r.err(path, v, 'is not a bcrypt hash ($2a$, $2b$ or $2y$, cost 04–31; make one with htpasswd -nBC 10 USER)');
      continue;
    }
    out.set(user, v.value);
  }
  return out;
}
