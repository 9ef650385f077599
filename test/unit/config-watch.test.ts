import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigWatcher } from '../../src/config/watch.js';

const logger = pino({ level: 'silent' });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let dirs: string[] = [];
let watchers: ConfigWatcher[] = [];
afterEach(() => {
  for (const w of watchers) w.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
  watchers = [];
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'zego-watch-'));
  dirs.push(d);
  return d;
}

/** The layout the kubelet gives a ConfigMap volume: config.yaml → ..data/config.yaml, ..data → ..<timestamp>. */
function configMapVolume(text: string): { dir: string; file: string; update: (text: string) => void } {
  const dir = tempDir();
  let n = 0;
  const version = (t: string): string => {
    const name = `..2026_11_25_23_00_0${n++}.000000001`;
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'config.yaml'), t);
    return name;
  };
  let current = version(text);
  symlinkSync(current, join(dir, '..data'));
  symlinkSync('..data/config.yaml', join(dir, 'config.yaml'));
  return {
    dir,
    file: join(dir, 'config.yaml'),
    // The kubelet's atomic writer: new dir, temp symlink, rename over ..data, remove the old dir.
    update: (t) => {
      const next = version(t);
      symlinkSync(next, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
      rmSync(join(dir, current), { recursive: true });
      current = next;
    },
  };
}

async function watching(paths: string[], opts: { debounceMs?: number; pollMs?: number } = {}): Promise<{ calls: () => number; w: ConfigWatcher }> {
  let calls = 0;
  const w = new ConfigWatcher({ paths: () => paths, onChange: () => calls++, logger, debounceMs: opts.debounceMs ?? 50, pollMs: opts.pollMs ?? 60_000 });
  watchers.push(w);
  await w.start();
  return { calls: () => calls, w };
}

async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await sleep(20);
  }
}

describe('ConfigWatcher', () => {
  it('sees a ConfigMap-style symlink swap, although config.yaml itself is never written', async () => {
    const vol = configMapVolume('a: 1\n');
    const { calls } = await watching([vol.file]);
    vol.update('a: 2\n');
    await until(() => calls() === 1);
    vol.update('a: 3\n');
    await until(() => calls() === 2);
  });

  it('ignores events that leave the contents as they were (same-content swap, touch, unrelated files)', async () => {
    const vol = configMapVolume('a: 1\n');
    const { calls, w } = await watching([vol.file]);
    vol.update('a: 1\n');
    writeFileSync(join(vol.dir, 'unrelated.txt'), 'x');
    await sleep(300);
    await w.settled();
    expect(calls()).toBe(0);
  });

  it('debounces a burst of writes into one call', async () => {
    const dir = tempDir();
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'a: 0\n');
    const { calls, w } = await watching([file], { debounceMs: 150 });
    for (let i = 1; i <= 5; i++) {
      writeFileSync(file, `a: ${i}\n`);
      await sleep(10);
    }
    await until(() => calls() >= 1);
    await sleep(300);
    await w.settled();
    expect(calls()).toBe(1);
  });

  it('watches the secret file too, in its own directory', async () => {
    const vol = configMapVolume('a: 1\n');
    const secretDir = tempDir();
    const secret = join(secretDir, 'server_secret');
    writeFileSync(secret, 'old');
    const { calls } = await watching([vol.file, secret]);
    writeFileSync(secret, 'new');
    await until(() => calls() === 1);
  });

  it('falls back to polling when no event arrives', async () => {
    const dir = tempDir();
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'a: 0\n');
    // A debounce far beyond the test: only the poll can report the change in time.
    const { calls } = await watching([file], { debounceMs: 60_000, pollMs: 100 });
    writeFileSync(file, 'a: 1\n');
    await until(() => calls() === 1, 2000);
  });

  it('reports a file that disappears and comes back changed, and survives its directory being removed', async () => {
    const parent = tempDir();
    const dir = join(parent, 'conf');
    mkdirSync(dir);
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'a: 0\n');
    const { calls } = await watching([file], { pollMs: 100 });
    rmSync(dir, { recursive: true });
    await until(() => calls() === 1);
    mkdirSync(dir);
    writeFileSync(file, 'a: 1\n');
    await until(() => calls() === 2);
  });
});
