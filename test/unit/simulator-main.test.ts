import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { callbackSignature } from '../../src/callbacks/verify.js';
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
    for (const bad of [
      ['--history', '--no-history'],
      ['--room-app-limit-code', '30002'],
      ['--disable-action', 'DescribeEverything'],
      ['--callback-url', 'http://127.0.0.1:1/cb'],
      ['--callback-encoding', 'json'],
      ['--callback-url', 'http://127.0.0.1:1/cb', '--callback-secret', 'c', '--callback-encoding', 'xml'],
    ]) {
      expect(await exitCode(run(['--app-id', '1', '--secret', 's', ...bad], { SIM_CALLBACK_SECRET: '' })), bad.join(' ')).toBe(2);
    }
  });

  it("--hls-target-duration sets the CDN playlists' target duration; outside 1..60 s it exits 2", async () => {
    const child = run(['--app-id', '7', '--secret', 's', '--streams', '1', '--hls-target-duration', '6']);
    const { url } = JSON.parse(await firstLine(child)) as { url: string };
    const playlist = await (await fetch(`${url}/cdn/hls/demo-1.m3u8`)).text();
    expect(playlist).toContain('#EXT-X-TARGETDURATION:6\n');
    expect(playlist).toContain('#EXTINF:6.000,\n');
    child.kill('SIGTERM');
    expect(await exitCode(child)).toBe(0);
    for (const bad of ['0', '61', '1.5', 'two']) expect(await exitCode(run(['--app-id', '1', '--secret', 's', '--hls-target-duration', bad])), bad).toBe(2);
  });

  it('the production flags: --history, --is-test-optional, --empty-room-list, --room-app-limit-code, --disable-action', async () => {
    const child = run(
      [
        '--listen',
        '127.0.0.1:0',
        '--app-id',
        '7',
        '--history',
        '--is-test-optional',
        '--empty-room-list',
        '--room-app-limit-code',
        '7',
        '--list-rate-limit',
        '1',
        '--disable-action',
        'DescribeUserNum',
      ],
      { SIM_SECRET: 'flags-secret' },
    );
    const { url } = JSON.parse(await firstLine(child)) as { url: string };
    await fetch(`${url}/_sim/streams/gone`, { method: 'PUT', body: '{"state":"closed"}' });
    const clock = { wall: Date.now() };
    const closed = await call(apiUrl(url, clock, { appId: 7, secret: 'flags-secret', streamId: 'gone', sequence: Date.now(), omit: ['IsTest'] }));
    expect(closed.body.Code).toBe(41006);
    const list = (room: string): string =>
      apiUrl(url, clock, { appId: 7, secret: 'flags-secret', streamId: 'x', sequence: 1, action: 'DescribeSimpleStreamList', omit: ['StreamId', 'Sequence'] }) +
      `&RoomId=${room}`;
    expect((await call(list('a'))).body).toMatchObject({ Code: 0, Data: { StreamList: [] } });
    expect((await call(list('b'))).body.Code).toBe(7);
    expect(await (await fetch(`${url}/_sim/services`)).json()).toMatchObject({ DescribeUserNum: false });
    child.kill('SIGTERM');
    expect(await exitCode(child)).toBe(0);
  });

  it('--callback-url sends a signed stream_create for a stream set active through the control API', async () => {
    let received = '';
    let contentType = '';
    const got = new Promise<void>((resolve) => {
      const server = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          received = body;
          contentType = req.headers['content-type'] ?? '';
          res.writeHead(200).end();
          server.close();
          resolve();
        });
      });
      server.listen(0, '127.0.0.1', () => {
        const cbUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/zego/callback`;
        const child = run(['--listen', '127.0.0.1:0', '--app-id', '8', '--callback-url', cbUrl], { SIM_SECRET: 's', SIM_CALLBACK_SECRET: 'main-cb-secret' });
        void firstLine(child).then(async (line) => {
          const { url } = JSON.parse(line) as { url: string };
          await fetch(`${url}/_sim/streams/cam`, { method: 'PUT', body: '{"state":"active"}' });
        });
      });
    });
    await got;
    expect(contentType).toBe('application/json');
    const f = JSON.parse(received) as Record<string, string>;
    expect(f).toMatchObject({ event: 'stream_create', appid: '8', stream_id: 'cam', room_id: 'room-cam', stream_seq: '1' });
    expect(f['signature']).toBe(callbackSignature('main-cb-secret', f['timestamp']!, f['nonce']!));
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  });
});
