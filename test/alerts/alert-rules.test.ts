import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { promtool, scratchDir } from '../helpers/promtool.js';

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

    // Each mutation is a plausible mistake; the promtool unit tests must fail on every one.
    const mutations: [string, (s: string) => string][] = [
      ['key stream alert without `for`', (s) => s.replace('for: 1m', 'for: 0s')],
      ['key stream alert on every stream', (s) => s.replaceAll('zego_stream_active{severity="critical"}', 'zego_stream_active')],
      ['non-key alert also on key streams', (s) => s.replaceAll('severity!~"critical|none"', 'severity!="none"')],
      ['non-key alert ignoring severity="none"', (s) => s.replaceAll('severity!~"critical|none"', 'severity!="critical"')],
      ['stream alerts per replica (no aggregation)', (s) => s.replaceAll(PER_REPLICA, 'without ()')],
      ['stream alerts keeping the pod label', (s) => s.replaceAll(PER_REPLICA, 'without (instance, node, container, endpoint, service)')],
      ['stream alerts without keep_firing_for', (s) => s.replaceAll('keep_firing_for: 5m', 'keep_firing_for: 0s')],
      [
        'key stream down when any replica says down',
        (s) => s.replace(/(alert: ZegoKeyStreamDown[\s\S]*?)max without([\s\S]*?)max without/, '$1min without$2min without'),
      ],
      [
        'a replica whose probes fail still votes with its last known state',
        (s) => s.replace(/(alert: ZegoKeyStreamDown[\s\S]*?)and zego_stream_probe_success == 1\n/, '$1'),
      ],
      [
        'no last known state when no replica has current data',
        (s) => s.replace(/\n\s*or\n\s*max without \([^)]*\) \(\n\s*zego_stream_active\{severity="critical"\}\n[^\n]*\n[^\n]*\n\s*\)/, ''),
      ],
      [
        'a last known state of any age decides when no replica has current data',
        (s) =>
          s.replaceAll(
            /\n\s*and time\(\) - zego_stream_last_success_timestamp_seconds\n\s*<= clamp_min\(3 \* zego_stream_interval_seconds, 180\) \+ 3600/g,
            '',
          ),
      ],
      ['key output alert on every output', (s) => s.replaceAll('zego_output_up{severity="critical"}', 'zego_output_up')],
      [
        'key output down when any replica says down',
        (s) => s.replace(/(alert: ZegoKeyOutputDown[\s\S]*?)max without([\s\S]*?)max without/, '$1min without$2min without'),
      ],
      [
        'a replica whose output probes fail still votes with its last known state',
        (s) => s.replace(/(alert: ZegoKeyOutputDown[\s\S]*?)and zego_output_probe_success == 1\n/, '$1'),
      ],
      [
        "a key output's last known state of any age decides",
        (s) =>
          s.replace(/\n\s*and time\(\) - zego_output_last_success_timestamp_seconds\n\s*<= clamp_min\(3 \* zego_output_interval_seconds, 180\) \+ 3600/, ''),
      ],
      [
        'key output alert per replica',
        (s) =>
          s.replace(
            /(alert: ZegoKeyOutputDown[\s\S]*?)without \(instance, pod, node, container, endpoint, service\)/,
            '$1without (instance, node, container, endpoint, service)',
          ),
      ],
      [
        "the failing layer read from every output's diagnosis",
        (s) => s.replace('zego_output_diagnosis{output=%q,job=%q,namespace=%q} == 1)" $labels.output', 'zego_output_diagnosis{job=%q,namespace=%q} == 1)"'),
      ],
      ["a key room's last known list of any age decides", (s) => s.replace(/\n\s*and time\(\) - zego_room_last_success_timestamp_seconds <= 180 \+ 3600/, '')],
      ['probe-failing alert when one replica fails', (s) => s.replace(/(alert: ZegoStreamProbeFailing[\s\S]*?)\n\s*unless\n[\s\S]*?\n {10}\)\n/, '$1\n')],
      ['stale alert when one replica is stale', (s) => s.replace(/(alert: ZegoStreamDataStale[\s\S]*?)\n\s*unless\n[\s\S]*?\n {10}\)\n/, '$1\n')],
      ['probe-failing alert on a single failure', (s) => s.replace('<= 2 * zego_stream_interval_seconds', '<= 0')],
      [
        'probe-failing alert on never-probed streams',
        (s) => s.replace('(zego_stream_last_probe_timestamp_seconds > 0)', '(zego_stream_last_probe_timestamp_seconds >= 0)'),
      ],
      ['stale alert without start-up grace', (s) => s.replace('> 300)', '> 0)')],
      [
        'stale alert without floor',
        (s) => s.replace(/(alert: ZegoStreamDataStale[\s\S]*?)3 \* zego_stream_interval_seconds, 180/, '$13 * zego_stream_interval_seconds, 0'),
      ],
      ['throttling alert on any throttling', (s) => s.replace('> 0.1\n', '> 0\n')],
      ['throttling alert without `for`', (s) => s.replace(/(ZegoApiThrottling[\s\S]*?)for: 10m/, '$1for: 1m')],
      [
        'throttling alert summed over APIs',
        (s) =>
          s.replaceAll('sum by (job, instance, api) (rate(zego_exporter_api_requests_total', 'sum by (job, instance) (rate(zego_exporter_api_requests_total'),
      ],
      ['auth alert on a single error', (s) => s.replace('[3m]', '[10m]')],
      ['auth alert per API', (s) => s.replace('sum by (job, instance, outcome)', 'sum by (job, instance, outcome, api)')],
      [
        'budget alert summed over APIs',
        (s) =>
          s.replace(
            'zego_exporter_demand_probes_per_second > zego_exporter_achievable_probes_per_second',
            'sum without (api) (zego_exporter_demand_probes_per_second) > sum without (api) (zego_exporter_achievable_probes_per_second)',
          ),
      ],
      ['exporter down on any job', (s) => s.replace('up{job="zego-stream-exporter"} == 0', 'up == 0')],
      ['config reload alert inverted', (s) => s.replace('last_reload_successful == 0', 'last_reload_successful == 1')],
      ['web config reload alert inverted', (s) => s.replace('web_config_last_reload_successful == 0', 'web_config_last_reload_successful == 1')],
      ['budget alert on the effective rate', (s) => s.replace('> zego_exporter_achievable_probes_per_second', '> zego_exporter_rate_limit')],
      [
        'budget alert on the configured rate, not what it yields',
        (s) => s.replace('> zego_exporter_achievable_probes_per_second', '> zego_exporter_rate_limit_configured'),
      ],
    ];

    it.each(mutations)('fails on: %s', (_name, mutate) => {
      const mutated = mutate(original);
      expect(mutated, 'mutation did not apply').not.toBe(original);
      const rules = join(dir, 'zego-alerts.yaml');
      writeFileSync(rules, mutated);
      expect(promtool(['check', 'rules', rules]).status).toBe(0);
      const testsCopy: string[] = [];
      for (const [i, f] of testFiles.entries()) {
        const t = join(dir, `test-${i}.yaml`);
        writeFileSync(t, readFileSync(f, 'utf8').replace('../zego-alerts.yaml', rules));
        testsCopy.push(t);
      }
      const r = promtool(['test', 'rules', ...testsCopy]);
      expect(r.status, r.output).not.toBe(0);
      expect(r.output).toContain('FAILED');
    });
  });
});
