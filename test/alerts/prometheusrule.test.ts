import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { promtool, scratchDir } from '../helpers/promtool.js';

const root = join(import.meta.dirname, '..', '..');
const committedPath = join(root, 'deploy', 'kubernetes', 'components', 'rules', 'prometheusrule.yaml');
const script = join(root, 'scripts', 'gen-prometheusrule.mjs');
const gen = (...args: string[]): string => execFileSync(process.execPath, [script, ...args], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '' } });
const { DEFAULT_RUNBOOK_URL_BASE, groupsWithRunbooks } = (await import(pathToFileURL(script).href)) as {
  DEFAULT_RUNBOOK_URL_BASE: string;
  groupsWithRunbooks: (text: string, base?: string) => { rules: { alert?: string; annotations?: Record<string, string> }[] }[];
};

interface PrometheusRule {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: { groups: unknown[] };
}

describe('deploy/kubernetes/components/rules/prometheusrule.yaml', () => {
  const { dir, cleanup } = scratchDir();
  afterAll(cleanup);
  const committed = readFileSync(committedPath, 'utf8');
  const doc = parse(committed) as PrometheusRule;

  it('equals the output of scripts/gen-prometheusrule.mjs byte for byte (npm run gen after editing alerts/zego-alerts.yaml)', () => {
    expect(committed).toBe(gen('--stdout'));
  });

  it("every rule's runbook_url is the one base plus the alert's section, and that section exists in docs/runbook.md", () => {
    const runbook = readFileSync(join(root, 'docs', 'runbook.md'), 'utf8');
    // GitHub's anchor for a heading is its text lowercased; `## ZegoKeyStreamDown` → #zegokeystreamdown.
    const anchors = new Set([...runbook.matchAll(/^## (.+)$/gm)].map((m) => m[1]!.trim().toLowerCase()));
    const rules = doc.spec.groups.flatMap((g) => (g as { rules: { alert?: string; annotations?: Record<string, string> }[] }).rules).filter((r) => r.alert);
    expect(rules.length).toBeGreaterThan(10);
    for (const r of rules) {
      const url = r.annotations!['runbook_url']!;
      expect(url.startsWith(`${DEFAULT_RUNBOOK_URL_BASE}#`), url).toBe(true);
      const anchor = url.slice(DEFAULT_RUNBOOK_URL_BASE.length + 1);
      expect(anchor).toBe(r.alert!.toLowerCase());
      expect(anchors.has(anchor), `${url}: no "## " heading in docs/runbook.md`).toBe(true);
    }
  });

  it('the base is set in one place: the plain rule file and the Grafana rule use the generator default, and --runbook-url-base moves every link', () => {
    const plain = readFileSync(join(root, 'alerts', 'zego-alerts.yaml'), 'utf8');
    expect((parse(plain) as { groups: unknown[] }).groups).toEqual(groupsWithRunbooks(plain));
    const grafana = readFileSync(join(root, 'grafana', 'provisioning', 'alerting', 'zego-alerts.yaml'), 'utf8');
    for (const m of grafana.matchAll(/runbook_url: (\S+)/g)) expect(m[1]!.startsWith(`${DEFAULT_RUNBOOK_URL_BASE}#`), m[1]).toBe(true);
    const base = 'https://wiki.example.com/ops/zego/runbook.md';
    for (const out of [gen('--stdout', `--runbook-url-base=${base}`), gen('--rules', `--runbook-url-base=${base}`)]) {
      const urls = [...out.matchAll(/runbook_url: (\S+)/g)].map((m) => m[1]!);
      expect(urls.length).toBe([...committed.matchAll(/runbook_url:/g)].length);
      for (const u of urls) expect(u, u).toMatch(new RegExp(`^${base.replaceAll('.', '\\.')}#zego[a-z]+$`));
      expect(out).not.toContain(DEFAULT_RUNBOOK_URL_BASE);
    }
    // The environment variable does the same; a base that is not a URL is refused.
    const viaEnv = execFileSync(process.execPath, [script, '--stdout'], {
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] ?? '', ZEGO_RUNBOOK_URL_BASE: base },
    });
    expect(viaEnv).toBe(gen('--stdout', `--runbook-url-base=${base}`));
    expect(() => gen('--stdout', '--runbook-url-base=wiki/runbook.md#x')).toThrow();
    // --rules is the plain file with that base: the same groups as alerts/zego-alerts.yaml.
    expect((parse(gen('--rules')) as { groups: unknown[] }).groups).toEqual((parse(plain) as { groups: unknown[] }).groups);
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
