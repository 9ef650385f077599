import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { requireBinary } from './binaries.js';

export interface Pki {
  dir: string;
  ca: { cert: string; key: string; pem: Buffer };
  /** A certificate signed by the CA: a server one names 127.0.0.1 and localhost. */
  issue(name: string, kind: 'server' | 'client', clientSans?: string): { cert: string; key: string; certPem: Buffer; keyPem: Buffer; fingerprint: string };
}

const made: string[] = [];

/** Removes every folder makePki() made (call in afterAll). */
export function removePkis(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A throwaway CA with the openssl CLI (EC P-256 keys: fast), for TLS and mTLS tests. */
export function makePki(): Pki {
  const openssl = requireBinary('openssl', 'OPENSSL');
  const dir = mkdtempSync(join(tmpdir(), 'zego-pki-'));
  made.push(dir);
  const run = (...args: string[]): void => void execFileSync(openssl, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const genKey = (file: string): void => run('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file);
  genKey('ca.key');
  run(
    'req',
    '-x509',
    '-new',
    '-key',
    'ca.key',
    '-subj',
    '/CN=test CA',
    '-days',
    '2',
    '-out',
    'ca.crt',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign',
  );
  const ca = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key'), pem: readFileSync(join(dir, 'ca.crt')) };
  let serial = 1;
  return {
    dir,
    ca,
    issue(name, kind, clientSans) {
      genKey(`${name}.key`);
      run('req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`);
      const ext =
        kind === 'server'
          ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'
          : `extendedKeyUsage=clientAuth\n${clientSans ? `subjectAltName=${clientSans}\n` : ''}`;
      writeFileSync(join(dir, `${name}.ext`), ext);
      run(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-set_serial',
        String(serial++),
        '-days',
        '2',
        '-extfile',
        `${name}.ext`,
        '-out',
        `${name}.crt`,
      );
      const certPem = readFileSync(join(dir, `${name}.crt`));
      return {
        cert: join(dir, `${name}.crt`),
        key: join(dir, `${name}.key`),
        certPem,
        keyPem: readFileSync(join(dir, `${name}.key`)),
        fingerprint: new X509Certificate(certPem).fingerprint256,
      };
    },
  };
}
