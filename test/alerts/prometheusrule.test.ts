import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { promtool, scratchDir } from '../helpers/promtool.js';

const root = join(import.meta.dirname, '..', '..');
const committedPath = join(root, 'deploy', 'kubernetes', 'prometheusrule.yaml');

interface PrometheusRule {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: { groups: unknown[] };
}

describe('deploy/kubernetes/prometheusrule.yaml', () => {
  const { dir, cleanup } = scratchDir();
  afterAll(cleanup);
  const committed = readFileSync(committedPath, 'utf8');
  const doc = parse(committed) as PrometheusRule;

  it('equals the output of scripts/gen-prometheusrule.mjs (run it after editing alerts/zego-alerts.yaml)', () => {
    const generated = execFileSync(process.execPath, [join(root, 'scripts', 'gen-prometheusrule.mjs'), '--stdout'], {
      encoding: 'utf8',
    });
    expect(committed).toBe(generated);
  });

  it('is a monitoring.coreos.com/v1 PrometheusRule carrying exactly the groups of alerts/zego-alerts.yaml', () => {
    expect(doc.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(doc.kind).toBe('PrometheusRule');
    expect(doc.metadata.name).toBe('zego-stream-exporter');
    const source = parse(readFileSync(join(root, 'alerts', 'zego-alerts.yaml'), 'utf8')) as { groups: unknown[] };
    expect(doc.spec.groups).toEqual(source.groups);
  });

  it('has rules that pass promtool check rules', () => {
    const file = join(dir, 'extracted.yaml');
    writeFileSync(file, stringify({ groups: doc.spec.groups }));
    const r = promtool(['check', 'rules', file]);
    expect(r.output).toContain('SUCCESS');
    expect(r.status, r.output).toBe(0);
  });

  it('has rules that pass the promtool unit tests', () => {
    const rules = join(dir, 'zego-alerts.yaml');
    writeFileSync(rules, stringify({ groups: doc.spec.groups }));
    const testsDir = join(root, 'alerts', 'tests');
    const tests = readdirSync(testsDir)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => {
        const copy = join(dir, f);
        writeFileSync(copy, readFileSync(join(testsDir, f), 'utf8').replace('../zego-alerts.yaml', rules));
        return copy;
      });
    expect(tests.length).toBeGreaterThan(1);
    const r = promtool(['test', 'rules', ...tests]);
    expect(r.output).toContain('SUCCESS');
    expect(r.status, r.output).toBe(0);
  });
});
