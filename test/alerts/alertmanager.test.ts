import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AlertmanagerConfig } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1alpha1';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { requireBinary } from '../helpers/binaries.js';
import { requireKubectl, kustomize, validate } from '../helpers/kubernetes.js';

const root = join(import.meta.dirname, '..', '..');
const rules = (
  parse(readFileSync(join(root, 'alerts', 'zego-alerts.yaml'), 'utf8')) as { groups: { rules: { alert?: string; labels?: Record<string, string> }[] }[] }
).groups.flatMap((g) => g.rules);
const critical = rules.filter((r) => r.labels?.['severity'] === 'critical').map((r) => r.alert!);
const plainFile = join(root, 'deploy', 'alertmanager', 'alertmanager.yml');

describe('Alertmanager examples', () => {
  it('components/alertmanager-config renders an AlertmanagerConfig (v1alpha1, schema-valid) routing severity=critical to a receiver that exists', () => {
    expect(critical).toEqual(expect.arrayContaining(['ZegoKeyStreamDown', 'ZegoExporterDown']));
    const docs = kustomize(requireKubectl(), join(root, 'deploy', 'kubernetes', 'components', 'alertmanager-config'));
    expect(docs.map((d) => d.kind)).toEqual(['AlertmanagerConfig']);
    for (const d of docs) validate(d);
    const amc = new AlertmanagerConfig(docs[0] as never);
    const route = amc.spec!.route!;
    expect(route.matchers).toEqual([{ name: 'severity', matchType: '=', value: 'critical' }]);
    expect(amc.spec!.receivers!.map((r) => r.name)).toContain(route.receiver);
    const receiver = amc.spec!.receivers!.find((r) => r.name === route.receiver)!;
    expect(receiver.pagerdutyConfigs?.[0]?.routingKey).toEqual({ name: 'zego-alerts-pagerduty', key: 'routing-key' });
    // Grouped per stream or room, never per replica (the stream alerts carry no instance label).
    expect(route.groupBy).toEqual(expect.arrayContaining(['alertname', 'stream_id', 'room_id']));
    expect(route.groupBy).not.toContain('instance');
  });

  it('deploy/alertmanager/alertmanager.yml passes amtool check-config and sends severity=critical to the paging receiver', () => {
    const amtool = requireBinary('amtool', 'AMTOOL'); // Debian: apt-get install prometheus-alertmanager
    const check = spawnSync(amtool, ['check-config', plainFile], { encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toContain('SUCCESS');
    const routeOf = (labels: string[]): string =>
      execFileSync(amtool, ['config', 'routes', 'test', `--config.file=${plainFile}`, ...labels], { encoding: 'utf8' }).trim();
    for (const alert of critical) expect(routeOf([`alertname=${alert}`, 'severity=critical'])).toBe('zego-oncall');
    expect(routeOf(['alertname=ZegoStreamDown', 'severity=warning'])).toBe('zego-team-chat');
  });
});
