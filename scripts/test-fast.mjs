#!/usr/bin/env node
// `npm test`: the build, typecheck, lint and the fast tier (vitest project `fast`), side by side.
//
// Why not one after the other: on a 2-core machine, tsc, eslint and prettier each keep one core busy,
// and vitest's two workers leave gaps while a file starts. One after another they added up to twice
// the wall time that the work takes when it runs side by side. The order that stays: vitest starts once
// dist/ is written (tests start the built worker and processes). One tsc pass over tsconfig.json
// both typechecks everything (src, tests, simulator, bench) and writes dist/: `npm run build`'s
// files are a subset of it (tsconfig.build.json), with the same options.
//
// The checks' output is held and printed after vitest's, so the two never interleave. The exit code
// is non-zero when any step failed. Every step runs to the end, so one run reports all failures.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
// The caches live in node_modules (ignored by git): a rerun lints only the files that changed.
const cache = join(root, 'node_modules', '.cache');

/** Runs a command; resolves with its exit code, its output (when held) and how long it took. */
function run(name, cmd, args, { hold }) {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: hold ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    let output = '';
    if (hold) {
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
    }
    child.on('error', (err) => resolve({ name, code: 1, output: `${output}cannot run ${cmd}: ${err.message}\n`, ms: Date.now() - started }));
    child.on('close', (code, signal) => resolve({ name, code: code ?? (signal ? 1 : 0), output, ms: Date.now() - started }));
  });
}

rmSync(join(root, 'dist'), { recursive: true, force: true });
const tsc = run('build + typecheck (tsc -p tsconfig.json)', bin('tsc'), ['-p', 'tsconfig.json'], { hold: true });
const checks = [
  tsc,
  run('eslint', bin('eslint'), ['--cache', '--cache-location', join(cache, 'eslint/'), '.'], { hold: true }),
  run('prettier --check', bin('prettier'), ['--check', '--cache', '--cache-location', join(cache, 'prettier/.cache'), '.'], { hold: true }),
];
// tsc writes dist/ even when it finds type errors: the tests still run, and the errors are reported below.
await tsc;
const vitest = await run('vitest (fast tier)', bin('vitest'), ['run', '--project', 'fast', ...process.argv.slice(2)], { hold: false });
const results = [...(await Promise.all(checks)), vitest];

process.stdout.write('\n');
for (const r of results) {
  if (r.code !== 0 && r.output) process.stdout.write(`\n--- ${r.name} ---\n${r.output}`);
}
for (const r of results) process.stdout.write(`${r.code === 0 ? 'ok    ' : 'FAILED'} ${r.name} (${(r.ms / 1000).toFixed(1)} s)\n`);
process.exit(results.some((r) => r.code !== 0) ? 1 : 0);
