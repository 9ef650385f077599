import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { CONFIG_FILE_MAX_BYTES, FileReadError, readRegularFile, SECRET_FILE_MAX_BYTES } from '../../src/config/regular-file.js';

const dir = mkdtempSync(join(tmpdir(), 'zego-regular-'));
const fifo = join(dir, 'fifo');
execFileSync('mkfifo', [fifo]);

function refusal(file: string, max: number): string {
  try {
    readRegularFile(file, max);
  } catch (err) {
    expect(err).toBeInstanceOf(FileReadError);
    return (err as Error).message;
  }
  throw new Error(`${file} was read`);
}

describe('readRegularFile: config and secret files are regular files under a cap', () => {
  it('reads a regular file up to the cap', () => {
    const f = join(dir, 'ok');
    writeFileSync(f, 'x'.repeat(100));
    expect(readRegularFile(f, 100).toString()).toBe('x'.repeat(100));
  });

  it('refuses a FIFO at once instead of waiting for a writer', () => {
    const t = Date.now();
    expect(refusal(fifo, 100)).toBe(`cannot read ${fifo}: not a regular file (a FIFO)`);
    expect(Date.now() - t).toBeLessThan(1000);
  });

  it('refuses /dev/zero without reading it', () => {
    const before = process.memoryUsage().rss;
    expect(refusal('/dev/zero', SECRET_FILE_MAX_BYTES)).toBe('cannot read /dev/zero: not a regular file (a character device)');
    expect(process.memoryUsage().rss - before).toBeLessThan(16 * 1024 * 1024);
  });

  it('refuses a file over the cap, naming the cap and never the content', () => {
    const f = join(dir, 'big');
    writeFileSync(f, 'secret-content-'.repeat(10));
    const msg = refusal(f, 64);
    expect(msg).toBe(`cannot read ${f}: larger than 64 bytes`);
    expect(msg).not.toContain('secret-content');
  });

  it('reads a file that reports size 0 but has content (like /proc) only up to the cap', () => {
    expect(refusal('/proc/self/status', 16)).toBe('cannot read /proc/self/status: larger than 16 bytes');
  });

  it('gives the system code when the file cannot be opened', () => {
    expect(refusal(join(dir, 'missing'), 10)).toBe(`cannot read ${join(dir, 'missing')}: ENOENT`);
  });

  it('caps the config file at 4 MiB and secret files at 64 KiB', () => {
    expect([CONFIG_FILE_MAX_BYTES, SECRET_FILE_MAX_BYTES]).toEqual([4 * 1024 * 1024, 64 * 1024]);
  });
});

describe('the config loader reads only regular files', () => {
  it('a FIFO as the config file is a clear error, at once', async () => {
    const r = await loadConfig(fifo, {});
    expect(r).toEqual({ ok: false, errors: [{ path: '', message: `cannot read config file ${fifo}: not a regular file (a FIFO)` }] });
  });

  it('a FIFO as server_secret_file is a config error naming the file', async () => {
    const f = join(dir, 'fifo-secret.yaml');
    writeFileSync(f, `zego:\n  app_id: 1\n  server_secret_file: ${fifo}\nstreams: [a]\n`);
    const r = await loadConfig(f, {});
    expect(r).toEqual({
      ok: false,
      errors: [{ path: 'zego.server_secret_file', line: 3, col: 23, message: `cannot read ${fifo}: not a regular file (a FIFO)` }],
    });
  });

  it('a secret file over 64 KiB is a config error', async () => {
    const secret = join(dir, 'huge-secret');
    writeFileSync(secret, 'a'.repeat(SECRET_FILE_MAX_BYTES + 1));
    const f = join(dir, 'huge-secret.yaml');
    writeFileSync(f, `zego:\n  app_id: 1\n  server_secret: x\nstreams: [a]\ncallbacks:\n  secret_file: huge-secret\n`);
    const r = await loadConfig(f, {});
    expect(r.ok || r.errors).toEqual([{ path: 'callbacks.secret_file', line: 6, col: 16, message: `cannot read ${secret}: larger than 64 KiB` }]);
  });

  it('a config file over 4 MiB is a config error', async () => {
    const f = join(dir, 'huge.yaml');
    writeFileSync(f, `# ${'x'.repeat(CONFIG_FILE_MAX_BYTES)}\n`);
    const r = await loadConfig(f, {});
    expect(r.ok || r.errors).toEqual([{ path: '', message: `cannot read config file ${f}: larger than 4 MiB` }]);
  });
});
