import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

/** The README and docs/ link to each other by relative paths and #anchors; a moved heading breaks them silently. */
describe('documentation links', () => {
  it('every relative link and #anchor in README.md, grafana/README.md and docs/*.md resolves', () => {
    const run = spawnSync(process.execPath, [join(ROOT, 'scripts/check-doc-links.mjs')], { encoding: 'utf8' });
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});
