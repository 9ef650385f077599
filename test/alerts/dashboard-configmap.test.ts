import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigMap } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = join(import.meta.dirname, '..', '..');
const committed = readFileSync(join(root, 'deploy', 'kubernetes', 'components', 'dashboards', 'configmap.yaml'), 'utf8');
const dashboard = readFileSync(join(root, 'grafana', 'dashboards', 'zego-streams.json'), 'utf8');

describe('deploy/kubernetes/components/dashboards/configmap.yaml', () => {
  it('equals the output of scripts/gen-dashboard-configmap.mjs byte for byte (npm run gen after editing the dashboard)', () => {
    const generated = execFileSync(process.execPath, [join(root, 'scripts', 'gen-dashboard-configmap.mjs'), '--stdout'], { encoding: 'utf8' });
    expect(committed).toBe(generated);
  });

  it('is a valid ConfigMap the kube-prometheus-stack Grafana sidecar loads (grafana_dashboard: "1"), holding the dashboard JSON unchanged', () => {
    const cm = new ConfigMap(parse(committed) as never);
    cm.validate();
    expect(cm.metadata!.labels!['grafana_dashboard']).toBe('1');
    expect(cm.metadata!.annotations!['grafana_folder']).toBe('ZEGOCLOUD');
    const keys = Object.keys(cm.data!);
    expect(keys).toEqual(['zego-streams.json']);
    expect(cm.data!['zego-streams.json']).toBe(dashboard);
    expect((JSON.parse(cm.data!['zego-streams.json']!) as { uid: string }).uid).toBe('zego-stream-exporter');
    // kubectl apply keeps the object in an annotation limited to 256 KiB.
    expect(Buffer.byteLength(committed)).toBeLessThan(256 * 1024);
  });
});
