import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { REPLICA_LABELS } from '../../src/config/sections/streams.js';

const RULES = readFileSync(new URL('../../alerts/zego-alerts.yaml', import.meta.url), 'utf8');
const BASE = `zego:\n  app_id: 1234567890\n  server_secret: \${ZEGO_SERVER_SECRET}\n`;
const parseText = (text: string) => parseConfig(text, { env: { ZEGO_SERVER_SECRET: 's3cr3t' }, baseDir: '/nonexistent' });

/** Every label a `without (…)` in the shipped rules drops. */
function labelsTheRulesDrop(): Set<string> {
  const out = new Set<string>();
  for (const [, list] of RULES.matchAll(/\bwithout\s*\(([^)]*)\)/g)) for (const l of list!.split(',')) out.add(l.trim());
  return out;
}

describe('stream labels the alert rules aggregate away', () => {
  it('are exactly the ones alerts/zego-alerts.yaml drops', () => {
    const fromRules = labelsTheRulesDrop();
    expect(fromRules.size).toBeGreaterThan(0);
    expect([...REPLICA_LABELS].sort()).toEqual([...fromRules].sort());
  });

  it('a stream label of such a name (e.g. `service`) is a warning naming it and its place; other labels are not', () => {
    const r = parseText(`${BASE}streams:\n  - id: live-a\n    labels: { team: x, service: checkout, pod: p1 }\n`);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.config.streams[0]!.labels).toEqual({ team: 'x', service: 'checkout', pod: 'p1' });
    expect(r.warnings.map((w) => w.path)).toEqual(['streams[0].labels.service', 'streams[0].labels.pod']);
    expect(r.warnings[0]!.message).toContain('label "service" is one the shipped alert rules and dashboard aggregate away');
    expect(r.warnings[0]!.line).toBe(6);
  });
});
