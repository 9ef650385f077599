/**
 * The CPU floor of a probe: a bare client that signs, sends and parses DescribeRTCStreamState
 * calls at a fixed rate over one keep-alive undici Pool, and nothing else. Run as a process of its
 * own by scale.ts, so its CPU is its own (the simulator runs in the bench's process):
 *   node dist/bench/floor-client.js <endpoint> <appId> <secret> <rate> <seconds> <streams>
 * Prints one JSON line: { sent, answered, cpuMs } (CPU from the first call to the last answer).
 */
import { randomBytes } from 'node:crypto';
import { Pool } from 'undici';
import { signature } from '../src/zego/sign.js';

const [endpoint = '', appIdArg = '', secret = '', rateArg = '', secondsArg = '', streamsArg = ''] = process.argv.slice(2);
const appId = Number(appIdArg);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const streams = Number(streamsArg);
const pool = new Pool(endpoint, { connections: 8 });
let sequence = BigInt(Date.now()) * 1000n;

async function call(i: number): Promise<boolean> {
  const nonce = randomBytes(8).toString('hex');
  const timestamp = Math.floor(Date.now() / 1000);
  const q = new URLSearchParams({
    Action: 'DescribeRTCStreamState',
    AppId: String(appId),
    SignatureNonce: nonce,
    Timestamp: String(timestamp),
    Signature: signature(appId, nonce, secret, timestamp),
    SignatureVersion: '2.0',
    IsTest: 'false',
    StreamId: `floor-${i % streams}`,
    Sequence: String(++sequence),
  });
  const res = await pool.request({ path: `/?${q.toString()}`, method: 'GET', headers: { accept: 'application/json' } });
  const body = (await res.body.json()) as { Code?: unknown };
  return typeof body.Code === 'number';
}

async function main(): Promise<void> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const total = Math.round(rate * seconds);
  const inflight: Promise<void>[] = [];
  let answered = 0;
  for (let i = 0; i < total; i++) {
    // Paced by the clock, as the exporter's budget paces its calls: call i at t0 + i / rate.
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      call(i).then(
        (ok) => void (ok && answered++),
        () => undefined,
      ),
    );
  }
  await Promise.all(inflight);
  const cpu = process.cpuUsage(cpu0);
  await pool.close();
  process.stdout.write(`${JSON.stringify({ sent: total, answered, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
