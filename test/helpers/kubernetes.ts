import { execFile, execFileSync } from 'node:child_process';
import { posix } from 'node:path';
import { Certificate } from '@kubernetes-models/cert-manager/cert-manager.io/v1';
import { PodMonitor, PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { AlertmanagerConfig } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1alpha1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { parseAllDocuments } from 'yaml';
import { requireBinary } from './binaries.js';

/** A rendered object: what every kind has, the rest read through the kubernetes-models classes. */
export interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

/** Components (kind: Component) came with kustomize 3.7; this layout is written for kustomize 5. */
const MIN_KUSTOMIZE_MAJOR = 5;

/**
 * kubectl with kustomize >= 5 ($KUBECTL or from PATH). Missing or too old fails the test with that
 * message, never skips: Debian's kubectl 1.20 (kustomize 2) knows no components.
 */
export function requireKubectl(): string {
  const kubectl = requireBinary('kubectl', 'KUBECTL');
  let out: string;
  try {
    out = execFileSync(kubectl, ['version', '--client', '-o', 'json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new Error(
      `${kubectl} version --client failed (${(err as Error).message}): kubectl >= 1.27 with kustomize >= ${MIN_KUSTOMIZE_MAJOR} is needed to render the components`,
    );
  }
  const v = JSON.parse(out) as { clientVersion?: { gitVersion?: string }; kustomizeVersion?: string };
  const major = Number(/^v?(\d+)/.exec(v.kustomizeVersion ?? '')?.[1] ?? 0);
  if (major < MIN_KUSTOMIZE_MAJOR) {
    throw new Error(
      `${kubectl} is ${v.clientVersion?.gitVersion ?? 'unknown'} with kustomize ${v.kustomizeVersion ?? 'none'}: too old for kustomize components ` +
        `(kind: Component); install kubectl >= 1.27 (kustomize >= ${MIN_KUSTOMIZE_MAJOR}) or set $KUBECTL to one`,
    );
  }
  return kubectl;
}

/** `kubectl kustomize <dir>`, parsed. */
export function kustomize(kubectl: string, dir: string): Doc[] {
  const out = execFileSync(kubectl, ['kustomize', dir], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
  return parseAllDocuments(out).map((d) => d.toJS() as Doc);
}

/** The same, without blocking the test's event loop (several renders at once). */
export function kustomizeAsync(kubectl: string, dir: string): Promise<Doc[]> {
  return new Promise((resolve, reject) => {
    execFile(kubectl, ['kustomize', dir], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 }, (err, out, stderr) => {
      if (err) reject(new Error(`kubectl kustomize ${dir}: ${stderr || err.message}`));
      else resolve(parseAllDocuments(out).map((d) => d.toJS() as Doc));
    });
  });
}

const VALIDATORS: Record<string, (d: Doc) => void> = {
  'apps/v1/Deployment': (d) => new Deployment(d as never).validate(),
  'v1/Service': (d) => new Service(d as never).validate(),
  'v1/ConfigMap': (d) => new ConfigMap(d as never).validate(),
  'v1/Secret': (d) => new Secret(d as never).validate(),
  'monitoring.coreos.com/v1/PodMonitor': (d) => new PodMonitor(d as never).validate(),
  'monitoring.coreos.com/v1/ServiceMonitor': (d) => new ServiceMonitor(d as never).validate(),
  'monitoring.coreos.com/v1/PrometheusRule': (d) => new PrometheusRule(d as never).validate(),
  'monitoring.coreos.com/v1alpha1/AlertmanagerConfig': (d) => new AlertmanagerConfig(d as never).validate(),
  'networking.k8s.io/v1/Ingress': (d) => new Ingress(d as never).validate(),
  'networking.k8s.io/v1/NetworkPolicy': (d) => new NetworkPolicy(d as never).validate(),
  'policy/v1/PodDisruptionBudget': (d) => new PodDisruptionBudget(d as never).validate(),
  'cert-manager.io/v1/Certificate': (d) => new Certificate(d as never).validate(),
};

/** Validates by the kind's schema; a kind without one is an error (nothing unchecked slips in). */
export function validate(d: Doc): void {
  const v = VALIDATORS[`${d.apiVersion}/${d.kind}`];
  if (!v) throw new Error(`no schema for ${d.apiVersion}/${d.kind} (${d.metadata.name})`);
  v(d);
}

export const podSpec = (d: Doc): IPodSpec => new Deployment(d as never).spec!.template.spec!;
export const podLabels = (d: Doc): Record<string, string> => new Deployment(d as never).spec!.template.metadata!.labels ?? {};
export const allContainers = (spec: IPodSpec): IContainer[] => [...(spec.initContainers ?? []), ...spec.containers];
export const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>): boolean =>
  Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);

/** The values of Secrets the user creates (kubectl create secret … -o yaml), by name and key. */
export type SecretStore = Map<string, Record<string, Buffer>>;

export function secretStore(docs: Doc[]): SecretStore {
  const store: SecretStore = new Map();
  for (const d of docs.filter((x) => x.kind === 'Secret')) {
    const data = (d['data'] ?? {}) as Record<string, string>;
    store.set(d.metadata.name, Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64')])));
  }
  return store;
}

/** A container's environment as the kubelet builds it: in order, $(VAR) of earlier entries expanded, secretKeyRef resolved. */
export function containerEnv(c: IContainer, secrets: SecretStore): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.valueFrom) {
      const ref = e.valueFrom.secretKeyRef;
      if (!ref) throw new Error(`${c.name}: env ${e.name} takes its value from something other than a Secret`);
      const value = secrets.get(ref.name!)?.[ref.key];
      if (value === undefined) throw new Error(`${c.name}: env ${e.name} names Secret ${ref.name} key ${ref.key}, which the documented commands do not create`);
      env[e.name] = value.toString('utf8');
    } else {
      env[e.name] = expand(e.value ?? '', env);
    }
  }
  return env;
}

/** The kubelet's $(VAR) expansion (an unknown variable stays as written, as the kubelet leaves it). */
export function expand(s: string, env: Record<string, string>): string {
  return s.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name: string) => env[name] ?? all);
}

/**
 * The files a container sees under its volume mounts: ConfigMaps from the render, Secrets from the
 * store or, for a Certificate's secretName, from `issued` (what cert-manager would write).
 */
export function podFiles(
  spec: IPodSpec,
  c: IContainer,
  docs: Doc[],
  secrets: SecretStore,
  issued: Record<string, Buffer> = {},
): { read: (path: string) => Buffer; mountOf: (path: string) => { volume: string; subPath?: string; secret?: string; configMap?: string } } {
  const certificates = docs.filter((d) => d.kind === 'Certificate').map((d) => (d['spec'] as { secretName: string }).secretName);
  const mountOf = (path: string): { volume: string; subPath?: string; secret?: string; configMap?: string } => {
    const m = (c.volumeMounts ?? []).find((v) => posix.dirname(path) === v.mountPath);
    if (!m) throw new Error(`${c.name}: no volume mounted at ${posix.dirname(path)} (for ${path})`);
    const vol = (spec.volumes ?? []).find((v) => v.name === m.name);
    if (!vol) throw new Error(`${c.name}: mount ${m.mountPath} names volume ${m.name}, which the pod does not have`);
    return {
      volume: m.name,
      ...(m.subPath !== undefined ? { subPath: m.subPath } : {}),
      ...(vol.secret?.secretName ? { secret: vol.secret.secretName } : {}),
      ...(vol.configMap?.name ? { configMap: vol.configMap.name } : {}),
    };
  };
  const read = (path: string): Buffer => {
    const m = mountOf(path);
    const key = posix.basename(path);
    let data: Record<string, Buffer> | undefined;
    if (m.configMap !== undefined) {
      const cm = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === m.configMap);
      if (!cm) throw new Error(`${path}: ConfigMap ${m.configMap} is not in the render`);
      data = Object.fromEntries(Object.entries((cm['data'] ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v)]));
    } else if (m.secret !== undefined) {
      data = secrets.get(m.secret) ?? (certificates.includes(m.secret) ? issued : undefined);
      if (!data) throw new Error(`${path}: Secret ${m.secret} is neither created by the documented commands nor issued by a Certificate`);
    }
    const value = data?.[key];
    if (value === undefined) throw Object.assign(new Error(`${path}: no key ${key} in the volume ${m.volume}`), { code: 'ENOENT' });
    return value;
  };
  return { read, mountOf };
}

/** The value of --<name>= in args, after the kubelet's $(VAR) expansion. */
export function flagValue(args: string[], name: string, env: Record<string, string>): string | undefined {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? undefined : expand(a.slice(name.length + 3), env);
}
