import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { containerEnv, expand } from '../helpers/kubernetes.js';

const DIR = resolve(import.meta.dirname, '../../deploy/kubernetes/components/fleet');
const docs = (file: string): Record<string, unknown>[] =>
  parseAllDocuments(readFileSync(resolve(DIR, file), 'utf8')).map((d) => d.toJS() as Record<string, unknown>);
const [redisDoc, serviceDoc] = docs('redis.yaml');
const redis = new Deployment(redisDoc as never);
const service = new Service(serviceDoc as never);
const policy = new NetworkPolicy(docs('networkpolicy.yaml')[0] as never);
const patch = new Deployment(docs('exporter-containers.yaml')[0] as never);
const secrets = new Map([['zego-exporter-redis-auth', { password: Buffer.from('0123456789abcdef') }]]);

describe('components/fleet: Redis secured', () => {
  it('are valid Kubernetes objects, Redis restricted: non-root, read-only root, no capabilities', () => {
    for (const o of [redis, service, policy]) o.validate();
    const pod = redis.spec!.template.spec!;
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    expect(pod.automountServiceAccountToken).toBe(false);
    for (const c of pod.containers) {
      expect(c.securityContext?.readOnlyRootFilesystem).toBe(true);
      expect(c.securityContext?.allowPrivilegeEscalation).toBe(false);
      expect(c.securityContext?.capabilities?.drop).toEqual(['ALL']);
    }
  });

  it("Redis asks for the Secret's password (requirepass), and its readiness probe's redis-cli sends it", () => {
    const c = redis.spec!.template.spec!.containers[0]!;
    const env = containerEnv(c, secrets);
    const args = (c.args ?? []).map((a) => expand(a, env));
    expect(args[args.indexOf('--requirepass') + 1]).toBe('0123456789abcdef');
    expect(env['REDISCLI_AUTH']).toBe('0123456789abcdef');
    expect(c.readinessProbe?.exec?.command).toEqual(['redis-cli', 'ping']);
  });

  it("the exporter's REDIS_URL carries the same Secret's password to the Redis Service, and the fleet snippet's redis_url loads with it", () => {
    const c = patch.spec!.template.spec!.containers[0]!;
    const env = containerEnv(c, secrets);
    expect(env['REDIS_URL']).toBe(`redis://:0123456789abcdef@${service.metadata!.name}:${service.spec!.ports![0]!.port}`);
    const snippet = readFileSync(resolve(DIR, '../../snippets/fleet.yaml'), 'utf8');
    const loaded = parseConfig(`zego: { app_id: 1234567890, server_secret: s3cret }\nstreams: [a]\n${snippet}`, { env, baseDir: '/' });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
    expect(loaded.config.fleet?.redisUrl.reveal()).toBe(env['REDIS_URL']);
    // The secret stays out of the file: only ${REDIS_URL} is written there.
    expect(snippet).not.toMatch(/redis:\/\//);
  });

  it('the NetworkPolicy admits exporter pods only, on the Redis port only', () => {
    expect(policy.spec!.podSelector.matchLabels).toEqual(redis.spec!.template.metadata!.labels);
    expect(policy.spec!.policyTypes).toEqual(['Ingress']);
    const [rule, ...more] = policy.spec!.ingress!;
    expect(more).toEqual([]);
    expect(rule!.ports).toEqual([{ port: 'redis', protocol: 'TCP' }]);
    expect(rule!.from).toEqual([{ podSelector: { matchLabels: { 'zego-stream-exporter/exporter': 'true' } } }]);
    // Every base labels the pods that run the exporter so.
    for (const base of ['sidecar', 'sidecar-native', 'standalone', 'ha-pair']) {
      const dep = parse(readFileSync(resolve(DIR, `../../bases/${base}/deployment.yaml`), 'utf8')) as {
        spec: { template: { metadata: { labels: Record<string, string> } } };
      };
      expect(dep.spec.template.metadata.labels['zego-stream-exporter/exporter'], base).toBe('true');
    }
  });
});
