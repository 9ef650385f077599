/**
 * What loading a large config costs: writes a file of N streams, loads it once through the
 * loader worker (as --config.check, a start and a reload do) and prints one JSON line with the
 * file's size, the process's peak RSS above its RSS before the load, their ratio and the time.
 * One load per process, since the peak (getrusage's maxRSS) only ever grows:
 *   node dist/bench/config-memory.js <streams> [plain|labels]
 * plain: `- room-00042-user-0012345-main` (~33 bytes a stream); labels: two lines a stream,
 * `- id: stream-000042` and `labels: { team: t3 }` (~47 bytes).
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigIsolated } from '../src/config/isolated.js';

const n = Number(process.argv[2] ?? 50_000);
const shape = process.argv[3] === 'labels' ? 'labels' : 'plain';
const items: string[] = [];
for (let i = 0; i < n; i++) {
  items.push(
    shape === 'plain'
      ? `  - room-${String(i % 5000).padStart(5, '0')}-user-${String(i).padStart(7, '0')}-main\n`
      : `  - id: stream-${String(i).padStart(6, '0')}\n    labels: { team: t${i % 7} }\n`,
  );
}
const dir = mkdtempSync(join(tmpdir(), 'zego-config-memory-'));
const file = join(dir, 'config.yaml');
writeFileSync(file, `zego:\n  app_id: 4242\n  server_secret: "0123456789abcdef0123456789abcdef"\n  endpoint: http://127.0.0.1:9\nstreams:\n${items.join('')}`);
items.length = 0;
const before = process.memoryUsage().rss;
const t0 = performance.now();
const r = await loadConfigIsolated(file, {}, { timeoutMs: 120_000 });
const ms = performance.now() - t0;
const peak = process.resourceUsage().maxRSS * 1024;
const size = statSync(file).size;
rmSync(dir, { recursive: true, force: true });
process.stdout.write(
  `${JSON.stringify({
    streams: n,
    shape,
    loaded: r.ok ? r.config.streams.length : r.errors[0]?.message,
    fileMB: +(size / 1e6).toFixed(2),
    peakRssAboveMB: +((peak - before) / 1e6).toFixed(1),
    timesFile: +((peak - before) / size).toFixed(1),
    wallMs: Math.round(ms),
  })}\n`,
);
