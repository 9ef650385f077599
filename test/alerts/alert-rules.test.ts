import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { promtool, promtoolAsync, scratchDir } from '../helpers/promtool.js';

const root = join(import.meta.dirname, '..', '..');
const rulesFile = join(root, 'alerts', 'zego-alerts.yaml');
const testsDir = join(root, 'alerts', 'tests');
const testFiles = readdirSync(testsDir)
  .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
  .map((f) => join(testsDir, f));
// The one base every runbook_url is built from: the rule generator's default (docs/deploying.md#runbook-links).
const { DEFAULT_RUNBOOK_URL_BASE } = (await import(pathToFileURL(join(root, 'scripts', 'gen-prometheusrule.mjs')).href)) as {
  DEFAULT_RUNBOOK_URL_BASE: string;
};
const RUNBOOK = `${DEFAULT_RUNBOOK_URL_BASE}#`;

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  keep_firing_for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: AlertRule[] }[];
}
interface UnitTestFile {
  rule_files: string[];
  tests: {
    name: string;
    alert_rule_test?: { eval_time: string; alertname: string; exp_alerts: unknown[] | null }[];
  }[];
}

const ruleFile = parse(readFileSync(rulesFile, 'utf8')) as RuleFile;
const alerts = ruleFile.groups.flatMap((g) => g.rules);
/** Labels a scrape or the Prometheus Operator adds per replica: stream alerts aggregate them away. */
const PER_REPLICA = 'without (instance, pod, node, container, endpoint, service)';
const STREAM_ALERTS = ['ZegoKeyStreamDown', 'ZegoStreamDown', 'ZegoStreamProbeFailing', 'ZegoStreamDataStale'];

/** Duration string ("1m", "1h30m", "90s") in seconds. */
function seconds(d: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  let total = 0;
  for (const m of d.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) total += Number(m[1]) * (units[m[2] ?? 's'] ?? 0);
  return total;
}

describe('alerts/zego-alerts.yaml', () => {
  it('passes promtool check rules', () => {
    const r = promtool(['check', 'rules', rulesFile]);
    expect(r.output).toContain('SUCCESS');
    expect(r.status, r.output).toBe(0);
  });

  it('passes its promtool unit tests', () => {
    expect(testFiles.length).toBeGreaterThan(0);
    const r = promtool(['test', 'rules', ...testFiles]);
    expect(r.output).toContain('SUCCESS');
    expect(r.output).not.toContain('FAILED');
    expect(r.status, r.output).toBe(0);
  });

  it('has one group named zego-stream-exporter', () => {
    expect(ruleFile.groups.map((g) => g.name)).toEqual(['zego-stream-exporter']);
  });

  it('contains the agreed alerts', () => {
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        'ZegoKeyStreamDown',
        'ZegoKeyOutputDown',
        'ZegoStreamDown',
        'ZegoStreamProbeFailing',
        'ZegoStreamDataStale',
        'ZegoApiThrottling',
        'ZegoApiAuthFailing',
        'ZegoApiConfigError',
        'ZegoExporterDown',
        'ZegoExporterAbsent',
        'ZegoExporterConfigReloadFailed',
        'ZegoExporterWebConfigReloadFailed',
      ]),
    );
  });

  it.each(alerts.map((a) => [a.alert, a] as const))('%s follows the mixin conventions', (name, a) => {
    expect(name).toMatch(/^Zego[A-Z][A-Za-z]+$/);
    expect(['critical', 'warning', 'info']).toContain(a.labels?.severity);
    expect(a.annotations?.summary).toBeTruthy();
    expect(a.annotations?.description).toBeTruthy();
    expect(a.annotations?.runbook_url).toBe(RUNBOOK + name.toLowerCase());
    if (/\bzego_stream_/.test(a.expr) && !/\bby\s*\(/.test(a.expr)) {
      expect(a.annotations?.description).toContain('{{ $labels.stream_id }}');
    }
    // No alert fires on a single evaluation: every one needs a `for`.
    expect(seconds(a.for ?? '0s')).toBeGreaterThanOrEqual(60);
  });

  it('pages (critical) only after at least a minute, and the non-key down alert waits longer', () => {
    const byName = new Map(alerts.map((a) => [a.alert, a]));
    const key = byName.get('ZegoKeyStreamDown');
    const other = byName.get('ZegoStreamDown');
    expect(key?.labels?.severity).toBe('critical');
    expect(key?.expr).toContain('severity="critical"');
    expect(other?.labels?.severity).toBe('warning');
    expect(seconds(other?.for ?? '0s')).toBeGreaterThan(seconds(key?.for ?? '0s'));
    expect(seconds(byName.get('ZegoApiThrottling')?.for ?? '0s')).toBeGreaterThanOrEqual(600);
    expect(byName.get('ZegoApiThrottling')?.labels?.severity).not.toBe('critical');
    expect(byName.get('ZegoExporterDown')?.expr).toContain('up{job="zego-stream-exporter"}');
    expect(byName.get('ZegoExporterAbsent')?.expr).toContain('absent(up{job="zego-stream-exporter"})');
  });

  it('names the stream, not the replica, in every per-stream alert', () => {
    const perStream = alerts.filter((a) => /\bzego_stream_/.test(a.expr));
    expect(perStream.map((a) => a.alert).sort()).toEqual([...STREAM_ALERTS].sort());
    for (const a of perStream) {
      // Every aggregation in the rule drops exactly the per-replica labels, and nothing else.
      const aggregations = [...a.expr.matchAll(/\b(?:max|min|count|sum) (without|by) \(([^)]*)\)/g)];
      expect(aggregations.length, a.alert).toBeGreaterThanOrEqual(2);
      for (const m of aggregations) expect(`${m[1]} (${m[2]})`, a.alert).toBe(PER_REPLICA);
      expect(JSON.stringify(a.annotations), a.alert).not.toContain('$labels.instance');
      // A gap (a single exporter replaced, one probe's flap) must not resolve and re-page.
      expect(seconds(a.keep_firing_for ?? '0s'), a.alert).toBeGreaterThanOrEqual(120);
    }
  });

  it('is explained in docs/deploying.md: the scrape job the rules select, the per-replica labels, keep_firing_for', () => {
    const doc = readFileSync(join(root, 'docs', 'deploying.md'), 'utf8');
    expect(doc).toContain('job_name: zego-stream-exporter');
    expect(doc).toContain('`' + PER_REPLICA + '`');
    const keep = alerts.find((a) => a.alert === 'ZegoKeyStreamDown')?.keep_firing_for ?? '';
    expect(doc).toContain(`keep_firing_for: ${keep}`);
  });

  it('has multi-replica promtool tests: 3 series per stream, a replacement, a disagreement', () => {
    const text = testFiles.map((f) => readFileSync(f, 'utf8')).join('\n');
    for (const r of ['10.0.0.11:9792', '10.0.0.12:9792', '10.0.0.13:9792', '10.0.0.14:9792']) expect(text).toContain(`instance="${r}"`);
    expect(text).toContain('stale');
  });

  it('has a promtool unit test in which each alert fires and one in which it stays quiet', () => {
    const suites = testFiles.map((f) => parse(readFileSync(f, 'utf8')) as UnitTestFile);
    const cases = suites.flatMap((s) => s.tests.flatMap((t) => t.alert_rule_test ?? []));
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a.alert);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${a.alert} never fires in a test`,
      ).toBe(true);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${a.alert} is never asserted quiet`,
      ).toBe(true);
    }
  });

  it('has a docs/runbook.md section per alert whose heading is the runbook_url anchor', () => {
    const runbook = readFileSync(join(root, 'docs', 'runbook.md'), 'utf8');
    // GitHub's anchor for a heading is its text lowercased; `## ZegoKeyStreamDown` → #zegokeystreamdown.
    const anchors = new Set([...runbook.matchAll(/^## (.+)$/gm)].map((m) => m[1]!.trim().toLowerCase()));
    for (const a of alerts) {
      expect(runbook).toMatch(new RegExp(`^## ${a.alert}$`, 'm'));
      const url = String(a.annotations?.['runbook_url'] ?? '');
      const anchor = url.slice(url.indexOf('#') + 1);
      expect(url.startsWith(`${RUNBOOK}`), url).toBe(true);
      expect(anchors.has(anchor), `${url}: no "## " heading in docs/runbook.md with anchor #${anchor}`).toBe(true);
    }
  });

  describe('the unit tests catch broken rules', () => {
    const { dir, cleanup } = scratchDir();
    afterAll(cleanup);
    const original = readFileSync(rulesFile, 'utf8');

    /**
     * Every test group of the promtool suite, by `<file>: <name>`. promtool evaluates each group on
     * its own and the suite fails when one group fails, so a group that fails on a mutant, run alone,
     * proves the suite catches it: each mutant is run against the group named next to it (a fraction
     * of a second) instead of the whole suite (seconds), and the whole suite is the fallback.
     */
    interface Group {
      doc: Record<string, unknown>;
      test: { name?: string };
    }
    const groups = new Map<string, Group>();
    const groupKeys: string[] = [];
    for (const f of testFiles) {
      const doc = parse(readFileSync(f, 'utf8')) as Record<string, unknown> & { tests: { name?: string }[] };
      doc.tests.forEach((test, i) => {
        const key = `${basename(f)}: ${test.name ?? `#${i}`}`;
        groupKeys.push(key);
        groups.set(key, { doc, test });
      });
    }
    /** A test file of the one group, against `rules`. */
    const groupFile = (g: Group, rules: string, path: string): string => {
      writeFileSync(path, stringify({ ...g.doc, rule_files: [rules], tests: [g.test] }));
      return path;
    };
    /** The whole suite against `rules`, under the files' own names (so a failure names them). */
    const suiteCopy = (rules: string, into: string): string[] =>
      testFiles.map((f) => {
        const t = join(into, basename(f));
        writeFileSync(t, readFileSync(f, 'utf8').replace('../zego-alerts.yaml', rules));
        return t;
      });
    /** The `<file>: <name>` of each group promtool reports FAILED (by name: its stdout and stderr come apart). */
    const failedGroups = (output: string): string[] => {
      const failed = new Set([...output.matchAll(/^\s{4}name: (.*),$/gm)].map((m) => m[1]));
      return groupKeys.filter((key) => failed.has(key.slice(key.indexOf(': ') + 2)));
    };

    // Each mutation is a plausible mistake; the promtool unit tests must fail on every one.
    const mutations: [string, (s: string) => string, string][] = [
      ['key stream alert without `for`', (s) => s.replace('for: 1m', 'for: 0s'), 'replicas.test.yaml: replica replaced while a key stream is down'],
      [
        'key stream alert on every stream',
        (s) => s.replaceAll('zego_stream_active{severity="critical"}', 'zego_stream_active'),
        'discovered.test.yaml: discovered streams that end',
      ],
      [
        'non-key alert also on key streams',
        (s) => s.replaceAll('severity!~"critical|none"', 'severity!="none"'),
        'replicas.test.yaml: replicas that disagree, fail or go stale',
      ],
      [
        'non-key alert ignoring severity="none"',
        (s) => s.replaceAll('severity!~"critical|none"', 'severity!="critical"'),
        'discovered.test.yaml: discovered streams that end',
      ],
      ['stream alerts per replica (no aggregation)', (s) => s.replaceAll(PER_REPLICA, 'without ()'), 'discovered.test.yaml: discovered streams that end'],
      [
        'stream alerts keeping the pod label',
        (s) => s.replaceAll(PER_REPLICA, 'without (instance, node, container, endpoint, service)'),
        'mix-tasks.test.yaml: key mix task down on three replicas, a disagreement, a task that is not key',
      ],
      [
        'stream alerts without keep_firing_for',
        (s) => s.replaceAll('keep_firing_for: 5m', 'keep_firing_for: 0s'),
        'replicas.test.yaml: replica replaced while a key stream is down',
      ],
      [
        'key stream down when any replica says down',
        (s) => s.replace(/(alert: ZegoKeyStreamDown[\s\S]*?)max without([\s\S]*?)max without/, '$1min without$2min without'),
        'replicas.test.yaml: replicas that disagree, fail or go stale',
      ],
      [
        'a replica whose probes fail still votes with its last known state',
        (s) => s.replace(/(alert: ZegoKeyStreamDown[\s\S]*?)and zego_stream_probe_success == 1\n/, '$1'),
        'replicas.test.yaml: replicas that disagree, fail or go stale',
      ],
      [
        'no last known state when no replica has current data',
        (s) => s.replace(/\n\s*or\n\s*max without \([^)]*\) \(\n\s*zego_stream_active\{severity="critical"\}\n[^\n]*\n[^\n]*\n\s*\)/, ''),
        'replicas.test.yaml: replicas that disagree, fail or go stale',
      ],
      [
        'a last known state of any age decides when no replica has current data',
        (s) =>
          s.replaceAll(
            /\n\s*and time\(\) - zego_stream_last_success_timestamp_seconds\n\s*<= clamp_min\(3 \* zego_stream_interval_seconds, 180\) \+ 3600/g,
            '',
          ),
        'replicas.test.yaml: a replica whose probes failed hours ago does not page once the replicas that knew better are gone',
      ],
      [
        "a key room's last known list of any age decides",
        (s) => s.replace(/\n\s*and time\(\) - zego_room_last_success_timestamp_seconds <= 180 \+ 3600/, ''),
        'replicas.test.yaml: a replica whose room lists failed hours ago does not page once the replicas that knew better are gone',
      ],
      [
        'probe-failing alert when one replica fails',
        (s) => s.replace(/(alert: ZegoStreamProbeFailing[\s\S]*?)\n\s*unless\n[\s\S]*?\n {10}\)\n/, '$1\n'),
        'replicas.test.yaml: replica replaced while a key stream is down',
      ],
      [
        'stale alert when one replica is stale',
        (s) => s.replace(/(alert: ZegoStreamDataStale[\s\S]*?)\n\s*unless\n[\s\S]*?\n {10}\)\n/, '$1\n'),
        'replicas.test.yaml: replicas that disagree, fail or go stale',
      ],
      [
        'probe-failing alert on a single failure',
        (s) => s.replace('<= 2 * zego_stream_interval_seconds', '<= 0'),
        'replicas.test.yaml: replicas that disagree, fail or go stale',
      ],
      [
        'key output alert on every output',
        (s) => s.replaceAll('zego_output_up{severity="critical"}', 'zego_output_up'),
        'outputs.test.yaml: key output down on three replicas, a disagreement, an output that is not key',
      ],
      [
        'key output down when any replica says down',
        (s) => s.replace(/(alert: ZegoKeyOutputDown[\s\S]*?)max without([\s\S]*?)max without/, '$1min without$2min without'),
        'outputs.test.yaml: key output down on three replicas, a disagreement, an output that is not key',
      ],
      [
        'a replica whose output probes fail still votes with its last known state',
        (s) => s.replace(/(alert: ZegoKeyOutputDown[\s\S]*?)and zego_output_probe_success == 1\n/, '$1'),
        'outputs.test.yaml: a key output last seen down keeps paging while every probe fails, then expires',
      ],
      [
        "a key output's last known state of any age decides",
        (s) =>
          s.replace(/\n\s*and time\(\) - zego_output_last_success_timestamp_seconds\n\s*<= clamp_min\(3 \* zego_output_interval_seconds, 180\) \+ 3600/, ''),
        'outputs.test.yaml: a key output last seen down keeps paging while every probe fails, then expires',
      ],
      [
        'key output alert per replica',
        (s) =>
          s.replace(
            /(alert: ZegoKeyOutputDown[\s\S]*?)without \(instance, pod, node, container, endpoint, service\)/,
            '$1without (instance, node, container, endpoint, service)',
          ),
        'outputs.test.yaml: key output down on three replicas, a disagreement, an output that is not key',
      ],
      [
        "the failing layer read from every output's diagnosis",
        (s) => s.replace('zego_output_diagnosis{output=%q,job=%q,namespace=%q} == 1)" $labels.output', 'zego_output_diagnosis{job=%q,namespace=%q} == 1)"'),
        'outputs.test.yaml: the failing layer in the description, replicas that disagree on it',
      ],
      [
        'probe-failing alert on never-probed streams',
        (s) => s.replace('(zego_stream_last_probe_timestamp_seconds > 0)', '(zego_stream_last_probe_timestamp_seconds >= 0)'),
        'zego-alerts.test.yaml: never probed',
      ],
      ['stale alert without start-up grace', (s) => s.replace('> 300)', '> 0)'), 'zego-alerts.test.yaml: probe failures'],
      [
        'stale alert without floor',
        (s) => s.replace(/(alert: ZegoStreamDataStale[\s\S]*?)3 \* zego_stream_interval_seconds, 180/, '$13 * zego_stream_interval_seconds, 0'),
        'zego-alerts.test.yaml: probe failures',
      ],
      ['throttling alert on any throttling', (s) => s.replace('> 0.1\n', '> 0\n'), 'zego-alerts.test.yaml: throttling'],
      ['throttling alert without `for`', (s) => s.replace(/(ZegoApiThrottling[\s\S]*?)for: 10m/, '$1for: 1m'), 'zego-alerts.test.yaml: throttling'],
      [
        'throttling alert summed over APIs',
        (s) =>
          s.replaceAll('sum by (job, instance, api) (rate(zego_exporter_api_requests_total', 'sum by (job, instance) (rate(zego_exporter_api_requests_total'),
        'zego-alerts.test.yaml: throttling',
      ],
      ['auth alert on a single error', (s) => s.replace('[3m]', '[10m]'), 'zego-alerts.test.yaml: auth failing'],
      [
        'auth alert per API',
        (s) => s.replace('sum by (job, instance, outcome)', 'sum by (job, instance, outcome, api)'),
        'zego-alerts.test.yaml: auth failing',
      ],
      [
        'budget alert summed over APIs',
        (s) =>
          s.replace(
            'zego_exporter_demand_probes_per_second > zego_exporter_achievable_probes_per_second',
            'sum without (api) (zego_exporter_demand_probes_per_second) > sum without (api) (zego_exporter_achievable_probes_per_second)',
          ),
        'zego-alerts.test.yaml: probe budget exceeded',
      ],
      ['exporter down on any job', (s) => s.replace('up{job="zego-stream-exporter"} == 0', 'up == 0'), 'zego-alerts.test.yaml: exporter down'],
      [
        'config reload alert inverted',
        (s) => s.replace('last_reload_successful == 0', 'last_reload_successful == 1'),
        'zego-alerts.test.yaml: config reload failed',
      ],
      [
        'web config reload alert inverted',
        (s) => s.replace('web_config_last_reload_successful == 0', 'web_config_last_reload_successful == 1'),
        'zego-alerts.test.yaml: web config reload failed',
      ],
      [
        'budget alert on the effective rate',
        (s) => s.replace('> zego_exporter_achievable_probes_per_second', '> zego_exporter_rate_limit'),
        'zego-alerts.test.yaml: throttling',
      ],
      [
        'budget alert on the configured rate, not what it yields',
        (s) => s.replace('> zego_exporter_achievable_probes_per_second', '> zego_exporter_rate_limit_configured'),
        'zego-alerts.test.yaml: probe budget exceeded',
      ],
    ];

    it('the groups the mutants are run against pass, each on its own, on the real rules', async () => {
      expect(new Set(groupKeys).size, 'two test groups of one file share a name').toBe(groupKeys.length);
      const named = [...new Set(mutations.map((m) => m[2]))];
      for (const key of named) expect(groups.has(key), `no test group ${key}`).toBe(true);
      const sub = mkdtempSync(join(dir, 'groups-'));
      const files = named.map((key, i) => groupFile(groups.get(key)!, rulesFile, join(sub, `group-${i}.yaml`)));
      const r = await promtoolAsync(['test', 'rules', ...files]);
      expect(r.output).not.toContain('FAILED');
      expect(r.status, r.output).toBe(0);
    });

    it.concurrent.each(mutations)('fails on: %s', async (name, mutate, killer) => {
      const mutated = mutate(original);
      expect(mutated, 'mutation did not apply').not.toBe(original);
      const sub = mkdtempSync(join(dir, 'mutant-'));
      const rules = join(sub, 'zego-alerts.yaml');
      writeFileSync(rules, mutated);
      expect((await promtoolAsync(['check', 'rules', rules])).status).toBe(0);
      const group = groups.get(killer);
      if (group) {
        const r = await promtoolAsync(['test', 'rules', groupFile(group, rules, join(sub, 'group.yaml'))]);
        if (r.status !== 0 && r.output.includes('FAILED')) return;
      }
      // The group named for it no longer catches it (the suite changed): the whole suite must.
      const r = await promtoolAsync(['test', 'rules', ...suiteCopy(rules, sub)]);
      expect(r.status, r.output).not.toBe(0);
      expect(r.output).toContain('FAILED');
      console.warn(`mutant "${name}": caught by the suite, not by "${killer}"; name one of these next to it: ${JSON.stringify(failedGroups(r.output))}`);
    });
  });
});
