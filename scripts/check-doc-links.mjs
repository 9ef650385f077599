#!/usr/bin/env node
// Checks the relative links of README.md, docs/*.md and grafana/README.md: every linked file
// exists, and every #anchor into a Markdown file names one of its headings (GitHub's slugs).
//
//   node scripts/check-doc-links.mjs      prints each broken link; exit 1 if there is one
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const docs = join(root, 'docs');
const files = [
  join(root, 'README.md'),
  join(root, 'grafana', 'README.md'),
  ...(existsSync(docs)
    ? readdirSync(docs)
        .filter((f) => f.endsWith('.md'))
        .map((f) => join(docs, f))
    : []),
];

/** GitHub's heading anchor: lower case, punctuation dropped (but - and _), spaces to -. */
function slug(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Headings outside fenced code blocks, as anchors (repeats get -1, -2 … like GitHub). */
function anchors(file) {
  const seen = new Map();
  const out = new Set();
  let fenced = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

const problems = [];
for (const file of files) {
  if (!existsSync(file)) continue;
  const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1];
    if (/^[a-z]+:/i.test(target)) continue; // http:, https:, mailto:
    const [path, anchor] = target.split('#');
    const resolved = path === '' ? file : join(dirname(file), path);
    const where = relative(root, file);
    if (!existsSync(resolved)) {
      problems.push(`${where}: ${target}: no such file`);
      continue;
    }
    if (anchor !== undefined && resolved.endsWith('.md') && statSync(resolved).isFile() && !anchors(resolved).has(anchor)) {
      problems.push(`${where}: ${target}: no heading with anchor #${anchor}`);
    }
  }
}
for (const p of problems) process.stdout.write(`${p}\n`);
process.exitCode = problems.length === 0 ? 0 : 1;
