import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { requireBinary } from './binaries.js';

export interface PromtoolResult {
  status: number | null;
  output: string;
}

/**
 * Runs promtool ($PROMTOOL or from PATH; a missing one fails the test with how to install it) and
 * returns exit status and stdout+stderr. `input` goes to its stdin.
 */
export function promtool(args: string[], opts: { cwd?: string; input?: string } = {}): PromtoolResult {
  const r = spawnSync(requireBinary('promtool', 'PROMTOOL'), args, { cwd: opts.cwd, input: opts.input, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`cannot run promtool: ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** promtool without blocking the worker: tests that run it many times run them side by side (`it.concurrent`). */
export function promtoolAsync(args: string[]): Promise<PromtoolResult> {
  const bin = requireBinary('promtool', 'PROMTOOL');
  return new Promise((resolve, reject) => {
    execFile(bin, args, { encoding: 'utf8', timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      if (err !== null && code === null) reject(new Error(`cannot run promtool: ${err.message}`));
      else resolve({ status: code, output: `${stdout}${stderr}` });
    });
  });
}

/** A scratch directory removed by the returned cleanup function. */
export function scratchDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'zego-promtool-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Checks that each PromQL expression parses, offline: promtool has no standalone parser, but
 * `promtool check rules` parses every rule's expr. Each expression becomes a recording rule.
 */
export function checkExpressions(exprs: string[]): PromtoolResult {
  const { dir, cleanup } = scratchDir();
  try {
    const file = join(dir, 'exprs.yaml');
    const rules = exprs.map((expr, i) => ({ record: `zego_test:expr_${i}`, expr }));
    writeFileSync(file, stringify({ groups: [{ name: 'exprs', rules }] }));
    return promtool(['check', 'rules', file]);
  } finally {
    cleanup();
  }
}
