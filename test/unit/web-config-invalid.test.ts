import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ConfigError } from '../../src/config/load.js';
import { parseWebConfig } from '../../src/http/web-config.js';

/**
 * Every invalid web config the reader must refuse, one file each under test/fixtures/web-config/,
 * mapped to the exact errors: key path, line:column and message. Each fixture's first line is a
 * comment saying what is wrong, so positions count from line 2. Files the fixtures name read as
 * placeholder bytes (the certificates themselves are checked in web-config.test.ts), except
 * missing.* which does not exist.
 */
const DIR = fileURLToPath(new URL('../fixtures/web-config/', import.meta.url)).replace(/\/$/, '');

const ROWS: [name: string, errors: ConfigError[]][] = [
  ['cert-and-cert-file', [{ path: 'tls_server_config.cert', line: 4, col: 9, message: 'set cert_file or cert, not both' }]],
  [
    'ciphers-curves',
    [
      {
        path: 'tls_server_config.cipher_suites[1]',
        line: 7,
        col: 7,
        message:
          'unknown cipher suite "TLS_RSA_WITH_AES_128_CBC_SHA" (known: TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256, TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256)',
      },
      {
        path: 'tls_server_config.curve_preferences[1]',
        line: 8,
        col: 31,
        message: 'unknown curve "CurveP224" (known: CurveP256, CurveP384, CurveP521, X25519)',
      },
      { path: 'tls_server_config.prefer_server_cipher_suites', line: 9, col: 32, message: 'must be true or false, got "maybe"' },
    ],
  ],
  [
    'client-auth-type',
    [
      {
        path: 'tls_server_config.client_auth_type',
        line: 5,
        col: 21,
        message:
          'must be one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert, got "RequireClientCerts"',
      },
    ],
  ],
  [
    'client-ca-without-auth',
    [{ path: 'tls_server_config.client_auth_type', line: 5, col: 19, message: 'client CAs are configured but client_auth_type is NoClientCert' }],
  ],
  ['file-missing', [{ path: 'tls_server_config.cert_file', line: 3, col: 14, message: `cannot read ${DIR}/missing.crt: ENOENT` }]],
  [
    'headers',
    [
      { path: 'http_server_config.http2', line: 7, col: 10, message: 'must be true or false, got "sometimes"' },
      {
        path: 'http_server_config.headers.Server',
        line: 4,
        col: 5,
        message:
          'HTTP header "Server" can not be configured (allowed: Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, Content-Security-Policy)',
      },
      { path: 'http_server_config.headers.X-Frame-Options', line: 5, col: 22, message: 'must be one of "deny", "sameorigin", got "allow"' },
    ],
  ],
  ['missing-key', [{ path: 'tls_server_config.key_file', line: 3, col: 3, message: 'missing one of key or key_file' }]],
  ['not-a-mapping', [{ path: 'basic_auth_users', line: 3, col: 3, message: 'must be a mapping of user name to bcrypt hash' }]],
  [
    'tls-unknown-key',
    [
      {
        path: 'tls_server_config.cert_fil',
        line: 5,
        col: 3,
        message:
          'unknown key "cert_fil" (allowed: cert_file, key_file, cert, key, client_auth_type, client_ca_file, client_ca, min_version, max_version, cipher_suites, prefer_server_cipher_suites, curve_preferences, client_allowed_sans)',
      },
    ],
  ],
  [
    'unknown-key',
    [
      {
        path: 'tls_config',
        line: 2,
        col: 1,
        message: 'unknown key "tls_config" (allowed: tls_server_config, http_server_config, basic_auth_users, rate_limit)',
      },
    ],
  ],
  [
    'unsupported',
    [{ path: 'rate_limit', line: 3, col: 3, message: 'is not supported by this exporter (remove it; the listeners bound slow clients themselves)' }],
  ],
  [
    'sans-optional-cert',
    [{ path: 'tls_server_config.client_allowed_sans', line: 7, col: 24, message: 'needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert' }],
  ],
  [
    'users',
    [
      {
        path: 'basic_auth_users.alice',
        line: 3,
        col: 10,
        message: 'is not a bcrypt hash ($2a$, $2b$ or $2y$, cost 04–31; make one with htpasswd -nBC 10 USER)',
      },
      { path: 'basic_auth_users.bob', line: 4, col: 8, message: 'is not a bcrypt hash ($2a$, $2b$ or $2y$, cost 04–31; make one with htpasswd -nBC 10 USER)' },
      { path: 'basic_auth_users.carol:x', line: 5, col: 3, message: 'a user name must be non-empty and without ":" (basic auth splits on the first ":")' },
    ],
  ],
  [
    'verify-without-ca',
    [
      {
        path: 'tls_server_config.client_ca_file',
        line: 5,
        col: 21,
        message: "client_auth_type RequireAndVerifyClientCert needs client_ca_file (or client_ca): the CA that signs the clients' certificates",
      },
    ],
  ],
  ['version-order', [{ path: 'tls_server_config.min_version', line: 5, col: 16, message: 'is above max_version' }]],
  ['versions', [{ path: 'tls_server_config.min_version', line: 5, col: 16, message: 'must be one of TLS10, TLS11, TLS12, TLS13, got "TLS14"' }]],
  ['yaml-syntax', [{ path: '', line: 4, col: 1, message: 'YAML: Flow sequence in block collection must be sufficiently indented and end with a ]' }]],
];

function parse(name: string): ConfigError[] {
  const text = readFileSync(join(DIR, `invalid-${name}.yml`), 'utf8');
  const r = parseWebConfig(text, {
    baseDir: DIR,
    readFile: (p) => {
      if (p.includes('missing')) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
      return Buffer.from('placeholder');
    },
  });
  return r.ok ? [] : r.errors;
}

describe('invalid web configs: each fixture gives its errors with key path and line:col', () => {
  it('has a row for every fixture', () => {
    const files = readdirSync(DIR)
      .filter((f) => f.startsWith('invalid-'))
      .map((f) => f.slice('invalid-'.length, -'.yml'.length))
      .sort();
    expect(ROWS.map((r) => r[0]).sort()).toEqual(files);
  });

  it.each(ROWS)('%s', (name, errors) => {
    expect(parse(name)).toEqual(errors);
  });
});

describe('invalid web configs never echo a hash or password', () => {
  it('names the user, not the value', () => {
    const messages = parse('users')
      .map((e) => e.message)
      .join('\n');
    expect(messages).toContain('is not a bcrypt hash');
    expect(messages).not.toContain('plain-password-not-a-hash');
    expect(messages).not.toContain('abcdefghijklmnopqrstuu');
  });
});
