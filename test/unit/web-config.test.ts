import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWebConfig, loadWebConfigIsolated, parseWebConfig, TLS_CHAIN_MAX_BYTES, type WebConfigResult } from '../../src/http/web-config.js';
import { makePki, removePkis, type Pki } from '../helpers/certs.js';

describe('web config: valid files and what they turn into', () => {
  let pki: Pki;
  beforeAll(() => {
    pki = makePki();
    pki.issue('server', 'server');
  });
  afterAll(removePkis);

  it('maps exporter-toolkit names to Node TLS options, files relative to the web config folder', async () => {
    const file = join(pki.dir, 'web.yml');
    writeFileSync(
      file,
      [
        'tls_server_config:',
        '  cert_file: server.crt',
        `  key_file: ${join(pki.dir, 'server.key')}`,
        '  client_auth_type: VerifyClientCertIfGiven',
        '  client_ca_file: ca.crt',
        '  min_version: TLS12',
        '  max_version: TLS13',
        '  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256]',
        '  curve_preferences: [X25519, CurveP256]',
        '  prefer_server_cipher_suites: false',
        'http_server_config:',
        '  http2: false',
        '  headers:',
        '    Strict-Transport-Security: max-age=31536000',
        '    X-Frame-Options: deny',
        '',
      ].join('\n'),
    );
    const r = await loadWebConfig(file);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const t = r.config.tls!;
    expect(t.clientAuth).toBe('VerifyClientCertIfGiven');
    expect(t.options).toMatchObject({
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.3',
      honorCipherOrder: false,
      ecdhCurve: 'X25519:P-256',
      requestCert: true,
      rejectUnauthorized: false,
    });
    // Only TLS 1.2 suites named: TLS 1.3 keeps its defaults, as Go does.
    expect(t.options.ciphers).toBe(
      'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256',
    );
    expect(t.options.ca).toEqual(pki.ca.pem);
    expect(r.config.files).toEqual([join(pki.dir, 'server.crt'), join(pki.dir, 'server.key'), join(pki.dir, 'ca.crt')]);
    expect(r.config.headers).toEqual({ 'Strict-Transport-Security': 'max-age=31536000', 'X-Frame-Options': 'deny' });
    expect(r.config.users.size).toBe(0);
  });

  it('defaults as exporter-toolkit: TLS 1.2 to 1.3, no client certificates, server cipher order', () => {
    const r = parseWebConfig('tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n', { baseDir: pki.dir });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.config.tls!.clientAuth).toBe('NoClientCert');
    expect(r.config.tls!.options).toMatchObject({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', honorCipherOrder: true, requestCert: false });
    expect(r.config.tls!.options.ciphers).toBeUndefined();
  });

  it('an empty file, or empty sections, turn nothing on', () => {
    for (const text of ['', '# nothing\n', 'tls_server_config:\nhttp_server_config:\nbasic_auth_users:\n']) {
      const r = parseWebConfig(text, { baseDir: pki.dir });
      expect(r.ok && r.config.tls === undefined && r.config.users.size === 0).toBe(true);
    }
  });

  it('accepts bcrypt hashes as $2a$, $2b$ and $2y$ (htpasswd -B writes $2y$)', () => {
    const h = bcrypt.hashSync('pw', 4).slice(4);
    const r = parseWebConfig(`basic_auth_users:\n  a: $2a$${h}\n  b: $2b$${h}\n  y: "$2y$${h}"\n`, { baseDir: pki.dir });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect([...r.config.users.keys()]).toEqual(['a', 'b', 'y']);
  });

  it('refuses a key that does not belong to the certificate, naming the section', () => {
    const other = pki.issue('other', 'server');
    const r = parseWebConfig(`tls_server_config:\n  cert_file: server.crt\n  key_file: ${other.key}\n`, { baseDir: pki.dir });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ path: 'tls_server_config', line: 2, col: 3 });
    expect(r.errors[0]!.message).toMatch(/^cannot use the certificate, key or client CA: .*key values mismatch/);
  });

  it("docs/web-config.md's example parses (its files stubbed)", () => {
    const doc = readFileSync(join(import.meta.dirname, '../../docs/web-config.md'), 'utf8');
    const example = /```yaml\n(tls_server_config:[\s\S]*?)```/.exec(doc)![1]!;
    const read: string[] = [];
    const r = parseWebConfig(example, {
      baseDir: '/etc/zego',
      readFile: (p) => {
        read.push(p);
        return readFileSync(join(pki.dir, p.endsWith('.crt') ? 'server.crt' : 'server.key'));
      },
    });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(read).toEqual(['/etc/zego/server.crt', '/etc/zego/server.key']);
    expect([...r.config.users.keys()]).toEqual(['prometheus']);
    expect(Object.keys(r.config.headers)).toEqual(['Strict-Transport-Security', 'X-Content-Type-Options']);
  });

  it('changes its digest when a file it names changes, so a rotated certificate is noticed', () => {
    const text = 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n';
    const a = parseWebConfig(text, { baseDir: pki.dir });
    const next = pki.issue('next', 'server');
    const b = parseWebConfig(text, { baseDir: pki.dir, readFile: (p) => (p.endsWith('.crt') ? next.certPem : next.keyPem) });
    expect(a.ok && b.ok && a.config.digest !== b.config.digest).toBe(true);
  });
});

describe('web config: every file it names goes through the guard, and the chain is checked usable', () => {
  let pki: Pki;
  let leaf: ReturnType<Pki['issue']>;
  beforeAll(() => {
    pki = makePki();
    leaf = pki.issue('server', 'server');
    execFileSync('mkfifo', [join(pki.dir, 'fifo.crt')]);
  });
  afterAll(removePkis);

  /** A web config naming `cert` as its certificate, loaded as the process loads it. */
  function withCert(cert: string, name = 'web.yml'): WebConfigResult {
    const file = join(pki.dir, name);
    writeFileSync(file, `tls_server_config:\n  cert_file: ${cert}\n  key_file: server.key\n`);
    return loadWebConfig(file);
  }
  const messages = (r: WebConfigResult): string[] => (r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`));

  it('refuses a FIFO as the certificate at once instead of waiting for a writer', () => {
    const t = performance.now();
    expect(messages(withCert('fifo.crt'))).toEqual([`tls_server_config.cert_file: cannot read ${join(pki.dir, 'fifo.crt')}: not a regular file (a FIFO)`]);
    expect(performance.now() - t).toBeLessThan(1000);
  });

  it('refuses /dev/zero as the certificate without reading it', () => {
    expect(messages(withCert('/dev/zero'))).toEqual(['tls_server_config.cert_file: cannot read /dev/zero: not a regular file (a character device)']);
  });

  it('refuses an 11 MB certificate file by its size', () => {
    const copies = Math.ceil((11 * 1024 * 1024) / leaf.certPem.length);
    writeFileSync(join(pki.dir, 'huge.crt'), Buffer.concat([leaf.certPem, ...Array<Buffer>(copies).fill(pki.ca.pem)]));
    expect(messages(withCert('huge.crt'))).toEqual([`tls_server_config.cert_file: cannot read ${join(pki.dir, 'huge.crt')}: larger than 1 MiB`]);
  });

  it('refuses a chain under the file cap that no TLS client would take (over 64 KiB in the handshake)', () => {
    const copies = Math.ceil(TLS_CHAIN_MAX_BYTES / 400);
    writeFileSync(join(pki.dir, 'long.crt'), Buffer.concat([leaf.certPem, ...Array<Buffer>(copies).fill(pki.ca.pem)]));
    const m = messages(withCert('long.crt'));
    expect(m).toHaveLength(1);
    expect(m[0]).toMatch(
      new RegExp(
        `^tls_server_config\\.cert_file: the chain of ${copies + 1} certificates is \\d+ KiB in the TLS handshake, over the 64 KiB TLS clients accept`,
      ),
    );
  });

  it('refuses a certificate file that holds no certificate, or one that does not parse', () => {
    writeFileSync(join(pki.dir, 'key-as-cert.crt'), leaf.keyPem);
    expect(messages(withCert('key-as-cert.crt'))).toEqual(['tls_server_config.cert_file: holds no PEM certificate (-----BEGIN CERTIFICATE-----)']);
    const pem = leaf.certPem.toString();
    writeFileSync(join(pki.dir, 'broken.crt'), `${pem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`);
    expect(messages(withCert('broken.crt'))[0]).toMatch(/^tls_server_config\.cert_file: certificate 2 of 2 does not parse: /);
  });

  it('refuses the web config file itself as a FIFO', () => {
    const fifo = join(pki.dir, 'web-fifo.yml');
    execFileSync('mkfifo', [fifo]);
    expect(messages(loadWebConfig(fifo))).toEqual([`: cannot read web config file ${fifo}: not a regular file (a FIFO)`]);
  });

  it('loads in a worker with the same result (certificates as Buffers), and gives up after its timeout', async () => {
    const file = join(pki.dir, 'good.yml');
    writeFileSync(file, 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n');
    const r = await loadWebConfigIsolated(file);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(Buffer.isBuffer(r.config.tls!.options.cert)).toBe(true);
    expect(r.config.tls!.options.cert).toEqual(leaf.certPem);
    expect(r.config.digest).toBe((loadWebConfig(file) as { config: { digest: string } }).config.digest);
    expect(await loadWebConfigIsolated(file, { timeoutMs: 1 })).toEqual({
      ok: false,
      errors: [{ path: '', message: 'reading the web config timed out after 0.001s' }],
    });
  });
});
