import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.js';

const DIR = resolve(import.meta.dirname, '../../deploy/kubernetes/fleet');
const docs = (file: string): Record<string, unknown>[] =>
  parseAllDocuments(readFileSync(resolve(DIR, file), 'utf8')).map((d) => d.toJS() as Record<string, unknown>);

function validate(doc: Record<string, unknown>): void {
  const kinds: Record<string, new (d: never) => { validate(): void }> = { Deployment, Service, ConfigMap } as never;
  const Model = kinds[String(doc['kind'])];
  if (!Model) throw new Error(`unexpected kind ${String(doc['kind'])}`);
  new Model(doc as never).validate();
}

describe('deploy/kubernetes/fleet manifests', () => {
  const all = [...docs('redis.yaml'), ...docs('sidecar-deployment.yaml')];

  it('are valid Kubernetes objects', () => {
    expect(all.map((d) => d['kind'])).toEqual(['Deployment', 'Service', 'ConfigMap', 'Deployment']);
    for (const d of all) validate(d);
  });

  it('run every container restricted: non-root, no privilege escalation, read-only root, no capabilities', () => {
    for (const d of all.filter((x) => x['kind'] === 'Deployment')) {
      const dep = new Deployment(d as never);
      const pod = dep.spec!.template.spec!;
      expect(pod.securityContext?.runAsNonRoot).toBe(true);
      expect(pod.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
      for (const c of pod.containers) {
        expect(c.securityContext?.allowPrivilegeEscalation).toBe(false);
        expect(c.securityContext?.readOnlyRootFilesystem).toBe(true);
        expect(c.securityContext?.capabilities?.drop).toEqual(['ALL']);
      }
    }
  });

  it('the sidecar config has a valid fleet section pointing at the Redis Service', () => {
    const cm = all.find((d) => d['kind'] === 'ConfigMap') as { data: Record<string, string> };
    // The exporter's real loader, with the environment and secret file the pod provides.
    const loaded = parseConfig(cm.data['config.yaml']!, {
      env: { REDIS_URL: 'redis://zego-exporter-redis:6379' },
      baseDir: '/etc/zego-stream-exporter',
      readFile: () => 'secret-from-the-mounted-secret',
    });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
    expect(loaded.config.fleet?.redisUrl.reveal()).toBe('redis://zego-exporter-redis:6379');
    const sidecar = new Deployment(all[3] as never).spec!.template.spec!.containers.find((c) => c.name === 'zego-exporter')!;
    const svc = all.find((d) => d['kind'] === 'Service') as { metadata: { name: string } };
    expect(sidecar.env?.find((e) => e.name === 'REDIS_URL')?.value).toBe(`redis://${svc.metadata.name}:6379`);
  });
});
