import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { PodMonitor, PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret as K8sSecret, Service } from 'kubernetes-models/v1';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { parseHostPort } from '../../src/zego/protocol.js';
import { parseConfig } from '../../src/config/load.js';
import { API_RATE_LIMIT, API_RATE_LIMIT_TEST } from '../../src/config/types.js';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { callbackSignature } from '../../src/callbacks/verify.js';
import { ROOT, eventually, parseMetrics, scrape, startExporter, stopAll, type ExporterProcess } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/ports.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';
import { makePki, removePkis } from '../helpers/certs.js';
import { httpsRequest } from '../helpers/https.js';
import { parseWebConfig } from '../../src/http/web-config.js';
import bcrypt from 'bcryptjs';

const DIR = join(ROOT, 'deploy/kubernetes');
/** Where standalone-tls mounts its kubernetes.io/tls Secret, and the hash its web.yml ships without. */
const TLS_MOUNT = '/run/secrets/zego-stream-exporter-tls';
const HASH_PLACEHOLDER = 'REPLACE-WITH-BCRYPT-HASH';
type Doc = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; [k: string]: unknown };

/** What `kubectl kustomize <dir>` would emit, for the plain-resource kustomizations used here. */
function build(dir: string): Doc[] {
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as { resources?: string[]; [key: string]: unknown };
  // Only plain resource lists: anything kustomize would transform must be reflected here first.
  expect(Object.keys(k).sort(), dir).toEqual(['apiVersion', 'kind', 'resources']);
  return (k.resources ?? []).flatMap((r) => {
    const p = join(dir, r);
    if (!existsSync(p)) throw new Error(`${relative(ROOT, dir)}/kustomization.yaml: resource ${r} does not exist`);
    return statSync(p).isDirectory() ? build(p) : parseAllDocuments(readFileSync(p, 'utf8')).map((d) => d.toJS() as Doc);
  });
}

const VALIDATORS: Record<string, (d: Doc) => void> = {
  'apps/v1/Deployment': (d) => new Deployment(d as never).validate(),
  'v1/Service': (d) => new Service(d as never).validate(),
  'v1/ConfigMap': (d) => new ConfigMap(d as never).validate(),
  'v1/Secret': (d) => new K8sSecret(d as never).validate(),
  'monitoring.coreos.com/v1/PodMonitor': (d) => new PodMonitor(d as never).validate(),
  'monitoring.coreos.com/v1/ServiceMonitor': (d) => new ServiceMonitor(d as never).validate(),
  'monitoring.coreos.com/v1/PrometheusRule': (d) => new PrometheusRule(d as never).validate(),
  'networking.k8s.io/v1/Ingress': (d) => new Ingress(d as never).validate(),
  'networking.k8s.io/v1/NetworkPolicy': (d) => new NetworkPolicy(d as never).validate(),
  'policy/v1/PodDisruptionBudget': (d) => new PodDisruptionBudget(d as never).validate(),
};

const VARIANTS = ['sidecar', 'sidecar-native', 'standalone', 'standalone-tls'] as const;
const built = Object.fromEntries(VARIANTS.map((v) => [v, build(join(DIR, v))])) as Record<(typeof VARIANTS)[number], Doc[]>;
const of = <T>(docs: Doc[], kind: string): T[] => docs.filter((d) => d.kind === kind) as unknown as T[];
const podSpec = (d: Doc): IPodSpec => new Deployment(d as never).spec!.template.spec!;
const isExporter = (c: IContainer): boolean => (c.image ?? '').includes('zego-stream-exporter');
const exporterOf = (d: Doc): IContainer => {
  const spec = podSpec(d);
  const all = [...(spec.initContainers ?? []), ...spec.containers].filter(isExporter);
  expect(all).toHaveLength(1);
  return all[0]!;
};
const flag = (c: IContainer, name: string): string | undefined => c.args?.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

describe('deploy/kubernetes manifests', () => {
  it('every kustomization lists every manifest next to it, and the root one includes the generated PrometheusRule', () => {
    const dirs = [DIR, ...readdirSync(DIR).map((d) => join(DIR, d))].filter((d) => existsSync(join(d, 'kustomization.yaml')));
    expect(dirs.map((d) => relative(DIR, d)).sort()).toEqual([
      '',
      'fleet',
      'ha-pair',
      'sidecar',
      'sidecar-common',
      'sidecar-native',
      'standalone',
      'standalone-tls',
    ]);
    for (const dir of dirs) {
      const listed = new Set((parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] }).resources);
      for (const f of readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml'))
        expect(listed.has(f), `${relative(ROOT, dir)}/${f}`).toBe(true);
    }
    const root = build(DIR);
    expect(root.filter((d) => d.kind === 'PrometheusRule').map((d) => d.metadata.name)).toEqual(['zego-stream-exporter']);
    expect(root.some((d) => d.kind === 'Deployment')).toBe(true);
  });

  it('are valid Kubernetes and Prometheus Operator objects (kubernetes-models schemas)', () => {
    for (const docs of [...Object.values(built), build(DIR), build(join(DIR, 'fleet')), build(join(DIR, 'ha-pair'))]) {
      for (const d of docs) {
        const validate = VALIDATORS[`${d.apiVersion}/${d.kind}`];
        expect(validate, `${d.apiVersion}/${d.kind}`).toBeDefined();
        validate!(d);
      }
    }
    // The schema check is real: a wrong type is rejected.
    const broken = structuredClone(of<Doc>(built.standalone, 'Deployment')[0]!) as Doc & { spec: { replicas: unknown } };
    broken.spec.replicas = 'one';
    expect(() => VALIDATORS['apps/v1/Deployment']!(broken)).toThrow();
  });

  it('run every container restricted: non-root, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp', () => {
    for (const [variant, docs] of Object.entries(built)) {
      for (const d of of<Doc>(docs, 'Deployment')) {
        const spec = podSpec(d);
        expect(spec.securityContext?.runAsNonRoot, variant).toBe(true);
        expect(spec.securityContext?.seccompProfile?.type, variant).toBe('RuntimeDefault');
        expect(spec.automountServiceAccountToken, variant).toBe(false);
        for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
          const sc = c.securityContext;
          expect(sc?.runAsNonRoot ?? spec.securityContext?.runAsNonRoot, `${variant}/${c.name}`).toBe(true);
          expect(sc?.runAsUser ?? spec.securityContext?.runAsUser, `${variant}/${c.name}`).not.toBe(0);
          expect(sc?.allowPrivilegeEscalation, `${variant}/${c.name}`).toBe(false);
          expect(sc?.readOnlyRootFilesystem, `${variant}/${c.name}`).toBe(true);
          expect(sc?.capabilities?.drop, `${variant}/${c.name}`).toEqual(['ALL']);
          expect(sc?.privileged ?? false, `${variant}/${c.name}`).toBe(false);
          expect(sc?.seccompProfile?.type ?? spec.securityContext?.seccompProfile?.type, `${variant}/${c.name}`).toBe('RuntimeDefault');
          expect(c.resources?.requests?.['cpu'], `${variant}/${c.name}`).toBeDefined();
          expect(c.resources?.requests?.['memory'], `${variant}/${c.name}`).toBeDefined();
          expect(c.resources?.limits?.['memory'], `${variant}/${c.name}`).toBeDefined();
        }
      }
    }
  });

  it('place the exporter as a sidecar container, as a native sidecar (init, restartPolicy Always), or alone', () => {
    const sidecar = podSpec(of<Doc>(built.sidecar, 'Deployment')[0]!);
    expect(sidecar.containers.filter(isExporter)).toHaveLength(1);
    expect(sidecar.containers.length).toBeGreaterThan(1);
    const native = podSpec(of<Doc>(built['sidecar-native'], 'Deployment')[0]!);
    expect(native.containers.filter(isExporter)).toHaveLength(0);
    expect(native.initContainers?.filter(isExporter).map((c) => c.restartPolicy)).toEqual(['Always']);
    const alone = podSpec(of<Doc>(built.standalone, 'Deployment')[0]!);
    expect(alone.containers.map(isExporter)).toEqual([true]);
  });

  it('mount the config from the ConfigMap as a directory (updates reach it) and the secret from a Secret, and the embedded config passes the real loader', () => {
    for (const [variant, docs] of Object.entries(built)) {
      const dep = of<Doc>(docs, 'Deployment')[0]!;
      const spec = podSpec(dep);
      const c = exporterOf(dep);
      const configFile = flag(c, 'config.file')!;
      expect(configFile, variant).toBe('/etc/zego-stream-exporter/config.yaml');
      const mountOf = (path: string): { volume: string; subPath: string | undefined } => {
        const m = (c.volumeMounts ?? []).find((v) => posix.dirname(path) === v.mountPath);
        expect(m, `${variant}: no mount for ${path}`).toBeDefined();
        expect(m!.readOnly, variant).toBe(true);
        return { volume: m!.name, subPath: m!.subPath };
      };
      const cfgMount = mountOf(configFile);
      expect(cfgMount.subPath, `${variant}: a subPath mount never sees ConfigMap updates`).toBeUndefined();
      const cmName = spec.volumes!.find((v) => v.name === cfgMount.volume)!.configMap!.name!;
      const cm = new ConfigMap(of<Doc>(docs, 'ConfigMap').find((d) => d.metadata.name === cmName) as never);
      const text = cm.data![posix.basename(configFile)]!;

      const read: string[] = [];
      const r = parseConfig(text, {
        env: {},
        baseDir: posix.dirname(configFile),
        readFile: (p) => {
          read.push(p);
          return 'secret-from-the-volume\n';
        },
      });
      expect(r.ok, `${variant}: ${JSON.stringify(r.ok ? '' : r.errors)}`).toBe(true);
      if (!r.ok) continue;
      // The secret comes from a file on a Secret volume, not inline and not from the ConfigMap.
      expect(r.config.zego.serverSecretFile, variant).toBeDefined();
      expect(read, variant).toEqual([r.config.zego.serverSecretFile]);
      const secretMount = mountOf(r.config.zego.serverSecretFile!);
      expect(secretMount.subPath, variant).toBeUndefined();
      expect(spec.volumes!.find((v) => v.name === secretMount.volume)?.secret?.secretName, variant).toMatch(/server-secret$/);
      expect(text, variant).not.toMatch(/server_secret:/);

      // The budget rule: every exporter on the AppID draws on the same 40/s (10/s in the test env).
      const replicas = new Deployment(dep as never).spec!.replicas ?? 1;
      const ceiling = r.config.zego.isTest ? API_RATE_LIMIT_TEST : API_RATE_LIMIT;
      expect(replicas * r.config.zego.rateLimit, `${variant}: replicas × rate_limit`).toBeLessThan(ceiling);
      if (variant.startsWith('standalone')) expect(replicas).toBe(1);
    }
  });

  it('name the metrics port, probe /-/healthy and /-/ready on it, and point the monitors at it', () => {
    for (const [variant, docs] of Object.entries(built)) {
      const dep = of<Doc>(docs, 'Deployment')[0]!;
      const c = exporterOf(dep);
      const listen = parseHostPort(flag(c, 'web.listen-address')!);
      expect(listen.ok).toBe(true);
      const port = c.ports?.find((p) => p.name === 'metrics');
      expect(port?.containerPort, variant).toBe(listen.ok ? listen.port : -1);
      expect(c.livenessProbe?.httpGet, variant).toMatchObject({ path: '/-/healthy', port: 'metrics' });
      expect(c.readinessProbe?.httpGet, variant).toMatchObject({ path: '/-/ready', port: 'metrics' });

      const podLabels = new Deployment(dep as never).spec!.template.metadata!.labels!;
      const matches = (sel: Record<string, string>): boolean => Object.entries(sel).every(([k, v]) => podLabels[k] === v);
      if (variant.startsWith('standalone')) {
        const svc = new Service(of<Doc>(docs, 'Service')[0] as never);
        expect(matches(svc.spec!.selector!)).toBe(true);
        expect(svc.spec!.ports!.map((p) => [p.name, p.targetPort])).toEqual([['metrics', 'metrics']]);
        const sm = new ServiceMonitor(of<Doc>(docs, 'ServiceMonitor')[0] as never);
        expect(Object.entries(sm.spec.selector.matchLabels!).every(([k, v]) => svc.metadata!.labels![k] === v)).toBe(true);
        expect(sm.spec.endpoints!.map((e) => [e.port, e.path])).toEqual([['metrics', '/metrics']]);
      } else {
        const pm = new PodMonitor(of<Doc>(docs, 'PodMonitor')[0] as never);
        expect(matches(pm.spec.selector.matchLabels!), variant).toBe(true);
        expect(pm.spec.podMetricsEndpoints!.map((e) => [e.port, e.path])).toEqual([['metrics', '/metrics']]);
      }
    }
  });

  it('standalone-tls: web.yml comes from a Secret, names files on the TLS Secret mount, refuses its placeholder; the ServiceMonitor scrapes https with basic auth', () => {
    const docs = built['standalone-tls'];
    const dep = of<Doc>(docs, 'Deployment')[0]!;
    const spec = podSpec(dep);
    const c = exporterOf(dep);
    const mountedSecret = (path: string): string | undefined => {
      const m = (c.volumeMounts ?? []).find((v) => posix.dirname(path) === v.mountPath);
      expect(m?.subPath, path).toBeUndefined(); // a subPath mount never sees a renewed certificate
      return spec.volumes!.find((v) => v.name === m?.name)?.secret?.secretName;
    };
    const webFlag = flag(c, 'web.config.file')!;
    expect(mountedSecret(webFlag)).toBe('zego-exporter-1234567890-web-config');
    const text = readFileSync(join(DIR, 'standalone-tls', posix.basename(webFlag)), 'utf8');
    // As shipped, the placeholder hash is refused: nobody runs it with a password from the repository.
    const shipped = parseWebConfig(text, { baseDir: posix.dirname(webFlag), readFile: () => Buffer.from('') });
    expect(shipped.ok).toBe(false);
    if (!shipped.ok) expect(shipped.errors.map((e) => e.path)).toContain('basic_auth_users.prometheus');
    const read: string[] = [];
    const filled = parseWebConfig(text.replace(HASH_PLACEHOLDER, bcrypt.hashSync('x', 4)), {
      baseDir: posix.dirname(webFlag),
      readFile: (p) => {
        read.push(p);
        throw Object.assign(new Error('not here'), { code: 'ENOENT' });
      },
    });
    expect(filled.ok).toBe(false); // the files are not on this machine: but every path it names is on the TLS Secret mount
    expect(read.length).toBeGreaterThanOrEqual(2);
    for (const p of read) expect(mountedSecret(p), p).toBe('zego-exporter-1234567890-tls');
    expect(read.every((p) => p.startsWith(`${TLS_MOUNT}/`))).toBe(true);
    for (const probe of [c.livenessProbe!, c.readinessProbe!]) expect(probe.httpGet?.scheme).toBe('HTTPS');

    const sm = new ServiceMonitor(of<Doc>(docs, 'ServiceMonitor')[0] as never);
    const e = sm.spec.endpoints![0]!;
    expect(e.scheme).toBe('https');
    expect(e.tlsConfig?.ca?.secret).toEqual({ name: 'zego-exporter-1234567890-tls', key: 'ca.crt' });
    expect(e.tlsConfig?.serverName).toBe(of<Doc>(docs, 'Service')[0]!.metadata.name);
    expect(e.basicAuth?.username).toEqual({ name: 'zego-exporter-1234567890-scrape-auth', key: 'username' });
    expect(e.basicAuth?.password).toEqual({ name: 'zego-exporter-1234567890-scrape-auth', key: 'password' });
  });

  it('every PodMonitor and ServiceMonitor labels its targets job="zego-stream-exporter", the job the alert rules select', () => {
    const rules = readFileSync(join(ROOT, 'alerts/zego-alerts.yaml'), 'utf8');
    expect(rules).toContain('up{job="zego-stream-exporter"}');
    const monitors = [...Object.values(built), build(join(DIR, 'fleet')), build(join(DIR, 'ha-pair'))]
      .flat()
      .filter((d) => d.kind === 'PodMonitor' || d.kind === 'ServiceMonitor');
    expect(monitors.length).toBeGreaterThanOrEqual(3);
    for (const m of monitors) {
      const spec = m['spec'] as { podMetricsEndpoints?: { relabelings?: unknown[] }[]; endpoints?: { relabelings?: unknown[] }[] };
      for (const e of spec.podMetricsEndpoints ?? spec.endpoints ?? []) {
        expect(e.relabelings, m.metadata.name).toContainEqual({ action: 'replace', targetLabel: 'job', replacement: 'zego-stream-exporter' });
      }
    }
  });

  describe('the manifests run: each ConfigMap config and probe, with the real exporter', () => {
    let sim: Simulator;
    const scratch = mkdtempSync(join(tmpdir(), 'zego-k8s-'));
    const SECRET = '00112233445566778899aabbccddeeff';
    beforeAll(async () => {
      sim = await startSimulator({ apps: [{ appId: 1234567890, secret: SECRET }] });
    });
    afterAll(async () => {
      await stopAll();
      await sim.close();
      rmSync(scratch, { recursive: true, force: true });
      removePkis();
    });

    it.each(VARIANTS)('%s', async (variant) => {
      const dep = of<Doc>(built[variant], 'Deployment')[0]!;
      const c = exporterOf(dep);
      const cm = of<{ data: Record<string, string> }>(built[variant], 'ConfigMap')[0]!;
      const text = cm.data['config.yaml']!;
      const secretPath = /server_secret_file: (\S+)/.exec(text)![1]!;
      // The container's secret path, re-rooted in a temp folder; the endpoint is the only other change.
      const secretFile = join(scratch, variant, secretPath);
      mkdirSync(dirname(secretFile), { recursive: true });
      writeFileSync(secretFile, `${SECRET}\n`);
      sim.setStream('live-main', { state: 'active', createTime: Math.floor(Date.now() / 1000) - 5 });
      // With --web.config.file: the shipped web.yml, its TLS Secret mount re-rooted to a certificate made here and its placeholder hash filled in.
      const webFlag = flag(c, 'web.config.file');
      const tls = webFlag === undefined ? undefined : { pki: makePki(), auth: ['prometheus', 'scrape-pw'] as [string, string] };
      const args: string[] = [];
      if (webFlag !== undefined && tls) {
        const server = tls.pki.issue('server', 'server');
        const tlsDir = join(scratch, variant, 'tls');
        mkdirSync(tlsDir, { recursive: true });
        writeFileSync(join(tlsDir, 'tls.crt'), server.certPem);
        writeFileSync(join(tlsDir, 'tls.key'), server.keyPem);
        const web = readFileSync(join(DIR, variant, posix.basename(webFlag)), 'utf8')
          .replaceAll(TLS_MOUNT, tlsDir)
          .replace(HASH_PLACEHOLDER, bcrypt.hashSync(tls.auth[1], 4));
        const webFile = join(scratch, variant, 'web.yml');
        writeFileSync(webFile, web);
        args.push(`--web.config.file=${webFile}`);
      }
      const run = await startExporter(text.replace(secretPath, secretFile).replace(/endpoint: \S+/, `endpoint: ${sim.url}`), { logLevel: 'info', args });
      for (const probe of [c.livenessProbe!, c.readinessProbe!]) {
        // The kubelet sends no credentials: the probes must pass with basic auth on.
        const get = async (): Promise<number> =>
          probe.httpGet!.scheme === 'HTTPS'
            ? (await httpsRequest(`${run.url}${probe.httpGet!.path!}`, { ca: tls!.pki.ca.pem })).status
            : (await fetch(`${run.url}${probe.httpGet!.path!}`)).status;
        expect(await eventually(get, (s) => s === 200, 5000)).toBe(200);
      }
      await eventually(
        async () => (tls ? parseMetrics((await httpsRequest(`${run.url}/metrics`, { ca: tls.pki.ca.pem, auth: tls.auth })).body) : scrape(run.url)),
        (m) => m.get('zego_stream_active{stream_id="live-main"}') === 1,
        5000,
      );
      if (tls) expect((await httpsRequest(`${run.url}/metrics`, { ca: tls.pki.ca.pem })).status).toBe(401);
      await run.stop();
    });
  });

  describe('ha-pair: 2 replicas in fleet mode, callbacks through an Ingress', () => {
    const docs = build(join(DIR, 'ha-pair'));
    const one = <T>(kind: string, name?: string): T => {
      const all = of<Doc>(docs, kind).filter((d) => name === undefined || d.metadata.name === name);
      expect(all, `${kind} ${name ?? ''}`).toHaveLength(1);
      return all[0] as unknown as T;
    };
    const dep = of<Doc>(docs, 'Deployment').find((d) => d.metadata.name.endsWith('-ha'))!;
    const c = exporterOf(dep);
    const podLabels = new Deployment(dep as never).spec!.template.metadata!.labels!;
    const selects = (sel: Record<string, string>): boolean => Object.entries(sel).every(([k, v]) => podLabels[k] === v);
    const cm = new ConfigMap(of<Doc>(docs, 'ConfigMap')[0] as never);
    const text = cm.data!['config.yaml']!;
    const loaded = parseConfig(text, {
      env: { REDIS_URL: 'redis://zego-exporter-redis:6379' },
      baseDir: '/etc/zego-stream-exporter',
      readFile: () => 'from-a-secret\n',
    });
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
    const config = loaded.config;

    it('runs 2 replicas in fleet mode with share_results and callbacks, the fleet budget under the API ceiling, and a PDB that keeps one up', () => {
      const d = new Deployment(dep as never);
      expect(d.spec!.replicas).toBe(2);
      expect(config.fleet?.shareResults).toBe(true);
      expect(config.callbacks).toBeDefined();
      // rate_limit is the fleet's, whatever the replica count.
      expect(config.zego.rateLimit).toBeLessThan(config.zego.isTest ? API_RATE_LIMIT_TEST : API_RATE_LIMIT);
      expect(c.env?.find((e) => e.name === 'REDIS_URL')?.value).toBe(`redis://${one<Doc>('Service', 'zego-exporter-redis').metadata.name}:6379`);
      const pdb = new PodDisruptionBudget(one<Doc>('PodDisruptionBudget') as never);
      expect(pdb.spec!.minAvailable).toBe(1);
      expect(selects(pdb.spec!.selector!.matchLabels!)).toBe(true);
      expect(d.spec!.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
    });

    it('reads the callback secret from a Secret volume, and serves callbacks on a port of their own that only the callback Service targets', () => {
      const file = config.callbacks!.secretFile!;
      expect(text).not.toMatch(/\bsecret:/);
      const mount = c.volumeMounts!.find((m) => m.mountPath === posix.dirname(file))!;
      expect(mount.readOnly).toBe(true);
      expect(mount.subPath).toBeUndefined();
      expect(podSpec(dep).volumes!.find((v) => v.name === mount.name)?.secret?.secretName).toMatch(/callback-secret$/);
      const listen = parseHostPort(config.callbacks!.listenAddress!);
      expect(listen.ok && c.ports!.find((p) => p.name === 'callbacks')?.containerPort).toBe(listen.ok ? listen.port : -1);
      const cbSvc = new Service(one<Doc>('Service', 'zego-exporter-1234567890-ha-callbacks') as never);
      expect(selects(cbSvc.spec!.selector!)).toBe(true);
      expect(cbSvc.spec!.ports!.map((p) => p.targetPort)).toEqual(['callbacks']);
      const metricsSvc = new Service(one<Doc>('Service', 'zego-exporter-1234567890-ha') as never);
      expect(metricsSvc.spec!.ports!.map((p) => p.targetPort)).toEqual(['metrics']);
      const sm = new ServiceMonitor(one<Doc>('ServiceMonitor') as never);
      const smSel = sm.spec.selector.matchLabels!;
      expect(Object.entries(smSel).every(([k, v]) => metricsSvc.metadata!.labels![k] === v)).toBe(true);
      expect(Object.entries(smSel).every(([k, v]) => cbSvc.metadata!.labels![k] === v)).toBe(false);
    });

    it('the Ingress routes exactly the callback path, over TLS, to the callback Service', () => {
      const ing = new Ingress(one<Doc>('Ingress') as never);
      expect(ing.spec!.tls?.[0]?.hosts).toEqual([ing.spec!.rules![0]!.host]);
      const paths = ing.spec!.rules!.flatMap((r) => r.http!.paths);
      expect(paths.map((p) => [p.path, p.pathType, p.backend.service?.name, p.backend.service?.port?.name])).toEqual([
        [config.callbacks!.path, 'Exact', 'zego-exporter-1234567890-ha-callbacks', 'callbacks'],
      ]);
      expect(ing.metadata!.annotations?.['cert-manager.io/cluster-issuer']).toBeDefined();
    });

    it('the NetworkPolicy lets anyone reach only the callback port, and the monitoring namespace only the metrics port', () => {
      const np = new NetworkPolicy(one<Doc>('NetworkPolicy') as never);
      expect(selects(np.spec!.podSelector.matchLabels!)).toBe(true);
      expect(np.spec!.policyTypes).toEqual(['Ingress']);
      const rules = np.spec!.ingress!;
      const open = rules.filter((r) => r.from === undefined || r.from.length === 0);
      expect(open.flatMap((r) => r.ports!.map((p) => p.port))).toEqual(['callbacks']);
      const scoped = rules.filter((r) => r.from && r.from.length > 0);
      expect(scoped.flatMap((r) => r.ports!.map((p) => p.port))).toEqual(['metrics']);
      expect(scoped[0]!.from![0]!.namespaceSelector?.matchLabels).toEqual({ 'kubernetes.io/metadata.name': 'monitoring' });
      // Every rule names its ports: no rule opens the whole pod.
      for (const r of rules) expect(r.ports?.length).toBeGreaterThan(0);
    });

    describe('the pair runs: the ConfigMap config, two real processes, a real Redis', () => {
      let sim: Simulator;
      let redis: RedisProcess;
      const scratch = mkdtempSync(join(tmpdir(), 'zego-k8s-ha-'));
      const SECRET = '00112233445566778899aabbccddeeff';
      const CB_SECRET = 'the-callback-secret';
      beforeAll(async () => {
        sim = await startSimulator({ apps: [{ appId: 1234567890, secret: SECRET }] });
        redis = await startRedis();
      });
      afterAll(async () => {
        await stopAll();
        await sim.close();
        await redis.stop();
        rmSync(scratch, { recursive: true, force: true });
      });

      it("a callback posted to one replica's callback listener (the Ingress path) shows on both; that listener serves nothing else", async () => {
        const serverFile = join(scratch, config.zego.serverSecretFile!);
        const cbFile = join(scratch, config.callbacks!.secretFile!);
        for (const [f, v] of [
          [serverFile, SECRET],
          [cbFile, CB_SECRET],
        ] as const) {
          mkdirSync(dirname(f), { recursive: true });
          writeFileSync(f, `${v}\n`);
        }
        sim.setStream('live-main', { state: 'closed', createTime: Math.floor(Date.now() / 1000) - 600, closeTime: Math.floor(Date.now() / 1000) - 300 });
        const runs: { p: ExporterProcess; cb: string }[] = [];
        for (let i = 0; i < 2; i++) {
          // Two pods on one machine: each its own callback port; everything else as the ConfigMap says.
          const port = await freePort();
          const yaml = text
            .replace(config.zego.serverSecretFile!, serverFile)
            .replace(config.callbacks!.secretFile!, cbFile)
            .replace(/endpoint: \S+/, `endpoint: ${sim.url}`)
            .replace(/listen_address: '\S+'/, `listen_address: '127.0.0.1:${port}'`);
          runs.push({ p: await startExporter(yaml, { env: { REDIS_URL: redis.url }, logLevel: 'info' }), cb: `http://127.0.0.1:${port}` });
        }
        for (const r of runs) {
          await eventually(
            () => scrape(r.p.url),
            (m) => m.get('zego_stream_active{stream_id="live-main"}') === 0 && m.get('zego_exporter_callbacks_fanout_connected') === 1,
            10_000,
          );
        }
        const path = new Ingress(one<Doc>('Ingress') as never).spec!.rules![0]!.http!.paths[0]!.path!;
        const ts = String(Math.floor(Date.now() / 1000));
        const body = {
          appid: '1234567890',
          event: 'stream_create',
          stream_id: 'live-main',
          stream_seq: '1',
          create_time_ms: String(Date.now()),
          timestamp: ts,
          nonce: '4242',
          signature: callbackSignature(CB_SECRET, ts, '4242'),
        };
        const res = await fetch(`${runs[0]!.cb}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
        expect(res.status).toBe(200);
        for (const r of runs) {
          await eventually(
            () => scrape(r.p.url),
            (m) => m.get('zego_stream_active{stream_id="live-main"}') === 1,
            1000,
            20,
          );
        }
        expect((await fetch(`${runs[1]!.cb}/metrics`)).status).toBe(404);
      }, 30_000);
    });
  });
});
