import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_CONFIG_STREAMS } from '../../src/config/load.js';
import { MAIN, startExporter, stopAll, writeTemp } from '../helpers/exporter-process.js';

/**
 * --config.check and a start agree on a file at the limit of streams a config may list (both
 * load it) and on one over it (both refuse it, with the limit in the error). Both run the built
 * binary, so the loader worker, its heap and its timeout are the real ones.
 */
const REFUSED =
  'streams: lists 100,001 streams: a config file may list at most 100,000 streams (docs/limits.md); watch more by discovery (callbacks.discover, rooms)';

function configText(n: number): string {
  const items: string[] = [];
  // Objects with a label each, written short: 100 000 of them must fit the 4 MiB file cap.
  for (let i = 0; i < n; i++) items.push(`  - {id: s${String(i).padStart(6, '0')}, labels: {team: t${i % 7}}}\n`);
  // An endpoint nothing listens on: the start needs no API, only the config.
  return `zego:\n  app_id: 4242\n  server_secret: "0123456789abcdef0123456789abcdef"\n  endpoint: http://127.0.0.1:9\nstreams:\n${items.join('')}`;
}

/** --config.check to completion; the CLI helper's 15 s would be too short on a busy machine. */
function check(file: string): Promise<{ code: number | null; out: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [MAIN, '--config.check', `--config.file=${file}`], {
      env: { PATH: process.env['PATH'] ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      res({ code, out });
    });
  });
}

describe('streams a config file may list (built binary)', () => {
  afterEach(async () => {
    await stopAll();
  });

  it(`${MAX_CONFIG_STREAMS} streams: --config.check passes and the exporter starts`, async () => {
    const text = configText(MAX_CONFIG_STREAMS);
    const r = await check(writeTemp('at.yaml', text));
    expect(r.out).not.toContain('error');
    expect(r.code).toBe(0);
    const exp = await startExporter(text, { logLevel: 'info', timeoutMs: 60_000 });
    const res = await fetch(`${exp.url}/metrics`);
    expect(res.status).toBe(200);
  }, 150_000);

  it(`${MAX_CONFIG_STREAMS + 1} streams: --config.check and the start both refuse the file with the limit`, async () => {
    const text = configText(MAX_CONFIG_STREAMS + 1);
    const file = writeTemp('over.yaml', text);
    const r = await check(file);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${file}:6:3: ${REFUSED}`);
    await expect(startExporter(text, { logLevel: 'info', timeoutMs: 60_000 })).rejects.toThrow(REFUSED);
  }, 150_000);
});
