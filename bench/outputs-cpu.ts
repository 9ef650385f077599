/**
 * CPU per HLS output probe: the exporter's prober (playlist, hls-parser, freshness, ranged read of
 * the newest segment) against a bare undici client that only fetches the same playlist and the same
 * 1 KiB of the segment, at the same rate; and an HTTP-FLV probe (window, tag reader) against a bare
 * read of the same stream for the same window. The CDN runs in a child process so this process's CPU is
 * the client's alone. `npm run bench -- --only outputs-cpu`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';
import { HttpOutputProber } from '../src/outputs/prober.js';
import type { HlsMemory } from '../src/outputs/types.js';
import { fmt } from './stats.js';

/**
 * A live HLS CDN: /o/<n>.m3u8 is a 5-segment sliding window advancing every 2 s (target duration 2);
 * /o/<n>/<seq>.ts is a 200 KB MPEG-TS segment with Range honoured; /f/<n>.flv is live HTTP-FLV.
 * Prints its port.
 */
const CDN = `
import { createServer } from 'node:http';
const seg = Buffer.alloc(200_000, 0xff);
for (let i = 0; i < seg.length; i += 188) seg[i] = 0x47;
const t0 = Date.now();
createServer((req, res) => {
  const path = (req.url ?? '').split('?')[0];
  let m = /^\\/o\\/(\\d+)\\.m3u8$/.exec(path);
  if (m) {
    const seq = Math.floor((Date.now() - t0) / 2000);
    let body = '#EXTM3U\\n#EXT-X-VERSION:3\\n#EXT-X-TARGETDURATION:2\\n#EXT-X-MEDIA-SEQUENCE:' + seq + '\\n';
    for (let i = seq; i < seq + 5; i++) body += '#EXTINF:2.000,\\n' + m[1] + '/' + i + '.ts\\n';
    res.writeHead(200, { 'content-type': 'application/vnd.apple.mpegurl', 'content-length': Buffer.byteLength(body) }).end(body);
    return;
  }
  m = /^\\/o\\/\\d+\\/\\d+\\.ts$/.exec(path);
  if (m) {
    const r = /^bytes=(\\d+)-(\\d+)$/.exec(req.headers.range ?? '');
    if (!r) return void res.writeHead(200, { 'content-length': seg.length }).end(seg);
    const start = Number(r[1]);
    const end = Math.min(Number(r[2]), seg.length - 1);
    res.writeHead(206, { 'content-range': 'bytes ' + start + '-' + end + '/' + seg.length, 'content-length': end - start + 1 }).end(seg.subarray(start, end + 1));
    return;
  }
  if (/^\\/f\\/\\d+\\.flv$/.test(path)) {
    // HTTP-FLV at ~840 kbit/s: per 40 ms a 4000-byte video tag (keyframe every 2 s) and a 200-byte audio tag.
    res.writeHead(200, { 'content-type': 'video/x-flv' });
    res.write(Buffer.from([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]));
    const tag = (type, ts, size, first) => {
      const b = Buffer.alloc(11 + size + 4);
      b[0] = type; b.writeUIntBE(size, 1, 3); b.writeUIntBE(ts & 0xffffff, 4, 3); b[7] = (ts >>> 24) & 0xff;
      b[11] = first; b.writeUInt32BE(11 + size, 11 + size);
      return b;
    };
    let ts = 0;
    const timer = setInterval(() => {
      res.write(tag(9, ts, 4000, ts % 2000 === 0 ? 0x17 : 0x27));
      res.write(tag(8, ts, 200, 0xaf));
      ts += 40;
    }, 40);
    res.on('close', () => clearInterval(timer));
    return;
  }
  res.writeHead(404).end();
}).listen(0, '127.0.0.1', function () { console.log(this.address().port); });
`;

export interface OutputsCpuResult {
  rate: number;
  seconds: number;
  outputs: number;
  prober: { probes: number; up: number; cpuMsPerProbe: number };
  bare: { fetches: number; ok: number; cpuMsPerFetch: number };
  ratio: number;
  /** HTTP-FLV: the prober's window (tag reader, judgement) against a bare read of the same stream for the same time. */
  flv: { windowMs: number; probes: number; up: number; cpuMsPerProbe: number; bareCpuMsPerRead: number; ratio: number };
}

async function startCdn(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CDN], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const [port] = (await once(lines, 'line')) as [string];
  return { child, url: `http://127.0.0.1:${port.trim()}` };
}

/** Runs `op(i)` at `rate` per second for `seconds`, paced by the clock; CPU (ms) over the run. */
async function paced(rate: number, seconds: number, op: (i: number) => Promise<boolean>): Promise<{ n: number; ok: number; cpuMs: number }> {
  const total = Math.round(rate * seconds);
  const inflight: Promise<void>[] = [];
  let ok = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inflight.push(op(i).then((good) => void (good && ok++)));
  }
  await Promise.all(inflight);
  const cpu = process.cpuUsage(cpu0);
  return { n: total, ok, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/**
 * `outputs` HLS outputs probed round-robin at `rate` probes/s for `seconds`, first by the prober,
 * then by the bare client (each warmed up for a second first).
 */
export async function outputsCpuBench(rate: number, seconds: number, outputs = 100): Promise<OutputsCpuResult> {
  const cdn = await startCdn();
  const prober = new HttpOutputProber();
  const bare = new Agent({ connections: 4, keepAliveTimeout: 4000 });
  const bareStreams = new Agent({ connections: 32 });
  try {
    const memory = new Map<number, HlsMemory | null>();
    const probeOne = async (i: number): Promise<boolean> => {
      const o = i % outputs;
      const out = await prober.probe({ url: `${cdn.url}/o/${o}.m3u8?token=bench`, kind: 'hls', intervalSeconds: 15 }, memory.get(o) ?? null, Date.now());
      memory.set(o, out.memory);
      return out.result.up;
    };
    const fetchOne = async (i: number): Promise<boolean> => {
      const o = i % outputs;
      const pl = await request(`${cdn.url}/o/${o}.m3u8?token=bench`, { dispatcher: bare });
      const text = await pl.body.text();
      // The newest segment's URI is the last line: the least a client must read to fetch it.
      const last = text.trimEnd().split('\n').at(-1) ?? '';
      const seg = await request(`${cdn.url}/o/${last}`, { dispatcher: bare, headers: { range: 'bytes=0-1023' } });
      const head = Buffer.from(await seg.body.arrayBuffer());
      return pl.statusCode === 200 && seg.statusCode === 206 && head[0] === 0x47;
    };
    await paced(rate, 1, probeOne);
    const p = await paced(rate, seconds, probeOne);
    await paced(rate, 1, fetchOne);
    const b = await paced(rate, seconds, fetchOne);
    const flvRate = 5;
    const windowMs = prober.limits('flv').flvWindowMs;
    const flvProbe = async (i: number): Promise<boolean> =>
      (await prober.probe({ url: `${cdn.url}/f/${i % outputs}.flv?token=bench`, kind: 'flv', intervalSeconds: 15 }, null, Date.now())).result.up;
    const flvBare = async (i: number): Promise<boolean> => {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), windowMs);
      let bytes = 0;
      try {
        const res = await request(`${cdn.url}/f/${i % outputs}.flv?token=bench`, { dispatcher: bareStreams, signal: controller.signal });
        for await (const chunk of res.body) bytes += (chunk as Buffer).length;
      } catch {
        // The window's end aborts the read.
      } finally {
        clearTimeout(timer);
      }
      return bytes > 0;
    };
    const fp = await paced(flvRate, seconds, flvProbe);
    const fb = await paced(flvRate, seconds, flvBare);
    const cpuMsPerProbe = p.cpuMs / p.n;
    const cpuMsPerFetch = b.cpuMs / b.n;
    return {
      rate,
      seconds,
      outputs,
      prober: { probes: p.n, up: p.ok, cpuMsPerProbe },
      bare: { fetches: b.n, ok: b.ok, cpuMsPerFetch },
      ratio: cpuMsPerProbe / cpuMsPerFetch,
      flv: {
        windowMs,
        probes: fp.n,
        up: fp.ok,
        cpuMsPerProbe: fp.cpuMs / fp.n,
        bareCpuMsPerRead: fb.cpuMs / fb.n,
        ratio: fp.cpuMs / fp.n / (fb.cpuMs / fb.n),
      },
    };
  } finally {
    await prober.close();
    await bare.close();
    await bareStreams.close();
    cdn.child.kill();
    await once(cdn.child, 'exit');
  }
}

export function printOutputsCpu(r: OutputsCpuResult): void {
  console.log(
    `outputs-cpu ${r.outputs} HLS outputs at ${r.rate} probes/s for ${r.seconds} s: prober ${fmt(r.prober.cpuMsPerProbe, 3)} ms CPU/probe ` +
      `(${r.prober.up}/${r.prober.probes} up), bare undici playlist + 1 KiB segment read ${fmt(r.bare.cpuMsPerFetch, 3)} ms CPU/fetch ` +
      `(${r.bare.ok}/${r.bare.fetches} ok): ratio ${fmt(r.ratio, 2)}×`,
  );
  console.log(
    `outputs-cpu HTTP-FLV ~840 kbit/s, ${r.flv.windowMs} ms windows: prober ${fmt(r.flv.cpuMsPerProbe, 3)} ms CPU/probe (${r.flv.up}/${r.flv.probes} up), ` +
      `bare undici read of the same window ${fmt(r.flv.bareCpuMsPerRead, 3)} ms CPU/read: ratio ${fmt(r.flv.ratio, 2)}×`,
  );
}
