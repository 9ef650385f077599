import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { apiUrl, call } from './simulator-helpers.js';

// The build `npm test` runs first, the same file `npm run demo` uses.
const MAIN = fileURLToPath(new URL('../../dist/simulator/main.js', import.meta.url));

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

function run(args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    if (child.stdout === null) return reject(new Error('no stdout'));
    const rl = createInterface({ input: child.stdout });
    rl.once('line', (l) => {
      rl.close();
      resolve(l);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before printing`)));
  });
}

function exitCode(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
  });
}

describe('simulator main (process)', () => {
  it('prints one JSON line with its URL, serves the demo streams, exits 0 on SIGTERM', async () => {
    const child = run(['--listen', '127.0.0.1:0', '--app-id', '99', '--test-env', '--streams', '3', '--script', '--faults', '{"jitterMs":5}'], {
      SIM_SECRET: 'proc-secret',
    });
    const line = await firstLine(child);
    const { url } = JSON.parse(line) as { url: string };
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const streams = (await (await fetch(`${url}/_sim/streams`)).json()) as Record<string, unknown>;
    expect(Object.keys(streams).sort()).toEqual(['zegotest-99-demo-1', 'zegotest-99-demo-2', 'zegotest-99-demo-3']);
    const clock = { wall: Date.now() };
    const r = await call(apiUrl(url, clock, { appId: 99, secret: 'proc-secret', streamId: 'zegotest-99-demo-1', sequence: Date.now(), isTest: true }));
    expect([0, 41006]).toContain(r.body.Code);
    // --test-env models an app that isn't launched: production calls are refused.
    const prod = await call(apiUrl(url, clock, { appId: 99, secret: 'proc-secret', streamId: 'demo-1', sequence: Date.now() }));
    expect(prod.body.Code).toBe(30004);
    child.kill('SIGTERM');
    expect(await exitCode(child)).toBe(0);
  });

  it('exits 2 with usage on bad flags', async () => {
    const noSecret = run(['--app-id', '1'], { SIM_SECRET: '' });
    expect(await exitCode(noSecret)).toBe(2);
    const badFaults = run(['--app-id', '1', '--secret', 's', '--faults', '{"http500":9}']);
    expect(await exitCode(badFaults)).toBe(2);
    const unknownFlag = run(['--app-id', '1', '--secret', 's', '--bogus']);
    expect(await exitCode(unknownFlag)).toBe(2);
  });
});
