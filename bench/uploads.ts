/**
 * Issue 16 #1: "3000 unfinished uploads: RSS delta, /metrics latency". The exporter as a real
 * process; 3000 connections to its callback listener each send the headers and 60 KiB of a
 * 64 KiB body to the callback path and then wait, needing no secret (the body budget is
 * process-wide, so the main listener's /metrics shares it). Before the body budget
 * (src/http/body-budget.ts) RSS grew by about 200 MB; now what is held is bounded, the rest are
 * refused (503), and /metrics keeps answering.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { startSimulator } from '../simulator/index.js';
import { scrape, startExporter } from '../test/helpers/exporter-process.js';
import { fmt, percentile, sleep } from './stats.js';

const APP_ID = 555000333;
const SECRET = 'bench0123456789abcdef0123456789c';
const KB = 1024;

export interface UploadsResult {
  connections: number;
  rssBeforeMb: number;
  rssDuringMb: number;
  rssDeltaMb: number;
  /** Connections the exporter answered (503 when the budget was full) or closed while the uploads stalled. */
  refused: number;
  scrapes: number;
  scrapeP50Ms: number;
  scrapeP99Ms: number;
}

/** The resident set of a process, from /proc (Linux). */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

export async function unfinishedUploads(connections: number, scrapes = 100): Promise<UploadsResult> {
  const sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
  const exp = await startExporter(
    `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  rate_limit: 10\nstreams:\n  - up-0\ncallbacks:\n  secret: \${CB}\n  listen_address: 127.0.0.1:0\n`,
    { env: { S: SECRET, CB: 'bench-uploads-callback-secret' }, logLevel: 'info' },
  );
  const sockets: Socket[] = [];
  try {
    const pid = exp.child.pid!;
    for (let i = 0; i < 5; i++) await scrape(exp.url); // warm: the first scrapes build caches
    await sleep(500);
    const rssBeforeMb = rssMb(pid);
    // The uploads go where ZEGO posts (the callback listener); the scrapes to the main listener.
    const url = new URL(await exp.callbackUrl());
    const body = Buffer.alloc(60 * KB, 'a');
    let refused = 0;
    for (let i = 0; i < connections; i++) {
      // From another loopback address than the scrapes: an attacker is not Prometheus, and each
      // address may hold only so many connections (src/http/peer-limit.ts).
      const sock = connect({ port: Number(url.port), host: url.hostname, localAddress: '127.0.0.2' });
      sockets.push(sock);
      sock.on('error', () => undefined);
      let answered = false;
      const done = (): void => {
        if (!answered) refused++;
        answered = true;
      };
      sock.on('data', done);
      sock.on('close', done);
      sock.write(`POST /zego/callback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${64 * KB}\r\n\r\n`);
      sock.write(body);
      if (i % 200 === 199) await sleep(10); // let the writes drain, as 3000 real clients would
    }
    await sleep(2000);
    const latencies: number[] = [];
    for (let i = 0; i < scrapes; i++) {
      const t = performance.now();
      await scrape(exp.url);
      latencies.push(performance.now() - t);
      await sleep(20);
    }
    const rssDuringMb = rssMb(pid);
    return {
      connections,
      rssBeforeMb,
      rssDuringMb,
      rssDeltaMb: rssDuringMb - rssBeforeMb,
      refused,
      scrapes: latencies.length,
      scrapeP50Ms: percentile(latencies, 50),
      scrapeP99Ms: percentile(latencies, 99),
    };
  } finally {
    for (const s of sockets) s.destroy();
    await exp.stop();
    await sim.close();
  }
}

export function printUploads(r: UploadsResult): void {
  console.log(
    `uploads     ${r.connections} unfinished 60/64 KiB uploads: RSS ${fmt(r.rssBeforeMb, 0)} → ${fmt(r.rssDuringMb, 0)} MB ` +
      `(delta ${fmt(r.rssDeltaMb, 0)} MB), ${r.refused} refused or closed; /metrics meanwhile p50 ${fmt(r.scrapeP50Ms)} ms p99 ${fmt(r.scrapeP99Ms)} ms (n=${r.scrapes})`,
  );
}
