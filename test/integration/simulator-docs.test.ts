import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { callbackSignature } from '../../src/callbacks/verify.js';
import { ROOT } from '../helpers/exporter-process.js';

const SIMULATOR = join(ROOT, 'dist/simulator/main.js');
const doc = readFileSync(join(ROOT, 'docs/simulator.md'), 'utf8');
const callbacksDoc = readFileSync(join(ROOT, 'docs/callbacks.md'), 'utf8');

function flagsOfHelp(args: string[]): string[] {
  const usage = spawnSync(process.execPath, [SIMULATOR, ...args, '--help'], { encoding: 'utf8' }).stdout;
  const accepted = new Set([...usage.matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1]!));
  accepted.delete('help');
  return [...accepted].sort();
}

/** The `--flag`s of the first table after `heading` (a line that starts with it). */
function flagsOfTable(heading: string): string[] {
  const from = doc.indexOf(heading);
  expect(from, heading).toBeGreaterThanOrEqual(0);
  const rest = doc.slice(from);
  const table = rest.slice(rest.indexOf('\n|'), rest.indexOf('\n\n', rest.indexOf('\n|') + 1));
  return [...new Set([...table.matchAll(/^\| `--([a-z][a-z-]*)/gm)].map((m) => m[1]!))].sort();
}

/** docs/simulator.md is a user's manual: its flags and its test-environment example must be true. */
describe('docs/simulator.md', () => {
  it('documents exactly the flags the simulator accepts', () => {
    expect(flagsOfTable('## Run it')).toEqual(flagsOfHelp([]));
  });

  it('documents exactly the flags send-callback accepts', () => {
    expect(flagsOfTable('| send-callback flag')).toEqual(flagsOfHelp(['send-callback']));
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

describe('docs/callbacks.md', () => {
  const snippet = /### Sign a callback by hand[\s\S]*?```sh\n([\s\S]*?)```/.exec(callbacksDoc)?.[1] ?? '';

  it("its shell recipe signs ZEGO's official vector", () => {
    const sigLine = snippet.split('\n').find((l) => l.startsWith('sig=$('));
    expect(sigLine).toBeDefined();
    const r = spawnSync('bash', ['-c', `CB_SECRET=secret ts=1470820198 nonce=123412\n${sigLine}\necho "$sig"`], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('5bd59fd62953a8059fb7eaba95720f66d19e4517');
  });

  it('its curl example posts a body a receiver can verify', async () => {
    let received = '';
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received = body;
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/zego/callback`;
      const script = snippet.replace('CB_SECRET=...', 'CB_SECRET=docs-callback-secret').replace('http://127.0.0.1:9792/zego/callback', url);
      expect(script).not.toBe(snippet);
      const r = await new Promise<number | null>((resolve) => spawn('bash', ['-c', script], { stdio: 'ignore' }).on('exit', resolve));
      expect(r).toBe(0);
      const f = JSON.parse(received) as Record<string, string>;
      expect(f['signature']).toBe(callbackSignature('docs-callback-secret', f['timestamp']!, f['nonce']!));
      expect(f).toMatchObject({ event: 'stream_close', stream_id: 'live-main', stream_seq: '2', type: '0' });
      expect(Number(f['destroy_timemillis'])).toBe(Number(f['timestamp']) * 1000);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
