import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/exporter-process.js';

const SIMULATOR = join(ROOT, 'dist/simulator/main.js');
const doc = readFileSync(join(ROOT, 'docs/simulator.md'), 'utf8');

/** docs/simulator.md is a user's manual: its flags and its test-environment example must be true. */
describe('docs/simulator.md', () => {
  it('documents exactly the flags the simulator accepts', () => {
    const usage = spawnSync(process.execPath, [SIMULATOR, '--help'], { encoding: 'utf8' }).stdout;
    const accepted = new Set([...usage.matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1]));
    accepted.delete('help');
    const documented = new Set([...doc.matchAll(/^\| `--([a-z][a-z-]*)/gm)].map((m) => m[1]));
    expect([...documented].sort()).toEqual([...accepted].sort());
  });

  it('sets a test-environment stream with its prefixed id, as the page says', async () => {
    const child = spawn(process.execPath, [SIMULATOR, '--app-id', '1234567890', '--test-env', '--listen', '127.0.0.1:0'], {
      env: { PATH: process.env['PATH'] ?? '', SIM_SECRET: 'docs-secret-0123456789abcdef' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((r) => child.on('exit', r));
    try {
      const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
      const { url } = JSON.parse(line) as { url: string };
      expect(doc).toContain('curl -X PUT -d \'{"state":"closed"}\' http://127.0.0.1:18080/_sim/streams/zegotest-1234567890-live-main');
      const res = await fetch(`${url}/_sim/streams/zegotest-1234567890-live-main`, { method: 'PUT', body: '{"state":"closed"}' });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ id: 'zegotest-1234567890-live-main', state: 'closed' });
      const patched = (await (await fetch(`${url}/_sim/faults`, { method: 'PUT', body: '{"latencyMs":150}' })).json()) as Record<string, unknown>;
      expect(patched).toMatchObject({ latencyMs: 150, forceCode: null, throttleRate: null });
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});
