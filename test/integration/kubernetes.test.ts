import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { dirname, join, posix, relative } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseDocument, stringify, isMap } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { ACTIONS, limitOf } from '../../src/api/actions.js';
import { parseWebConfig } from '../../src/http/web-config.js';
import { parseHostPort } from '../../src/zego/protocol.js';
import { callbackSignature } from '../../src/callbacks/verify.js';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { makePki, removePkis, type Pki } from '../helpers/certs.js';
import { ROOT, eventually, parseMetrics, stopAll, startExporter, type ExporterProcess } from '../helpers/exporter-process.js';
import { httpsRequest } from '../helpers/https.js';
import {
  allContainers,
  containerEnv,
  flagValue,
  kustomize,
  kustomizeAsync,
  podFiles,
  podLabels,
  podSpec,
  requireKubectl,
  secretStore,
  selects,
  validate,
  type Doc,
  type SecretStore,
} from '../helpers/kubernetes.js';
import { freePort } from '../helpers/ports.js';
import { startRedis, stopAllRedis, type RedisProcess } from '../helpers/redis.js';

const DIR = join(ROOT, 'deploy/kubernetes');
const HASH_PLACEHOLDER = 'REPLACE-WITH-BCRYPT-HASH';
const SCRAPE = ['prometheus', 'scrape-password'] as const;
const SERVER_SECRET = '00112233445566778899aabbccddeeff';
const CALLBACK_SECRET = 'the-callback-secret';
const EXPORTER_POD_LABEL = 'zego-stream-exporter/exporter';
/** Overlays per kubectl call. */
const BATCH = 48;

/** fn over items, at most `limit` at once, results in order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// ---- The table: every shape × every set of components -------------------------------------------

type Feature = 'tls' | 'cert-manager' | 'basic-auth' | 'fleet' | 'callbacks' | 'rooms' | 'rules' | 'dashboards' | 'monitor';
const FEATURES: readonly Feature[] = ['tls', 'cert-manager', 'basic-auth', 'fleet', 'callbacks', 'rooms', 'rules', 'dashboards', 'monitor'];
interface Shape {
  /** The monitor component of the shape. */
  monitor: 'podmonitor' | 'servicemonitor';
  /** Fleet mode is part of the shape (its base includes components/fleet). */
  fleetInBase: boolean;
  /** Pods that run the exporter, as the shape ships them. */
  replicas: number;
}
const SHAPES: Record<string, Shape> = {
  sidecar: { monitor: 'podmonitor', fleetInBase: false, replicas: 3 },
  'sidecar-native': { monitor: 'podmonitor', fleetInBase: false, replicas: 3 },
  standalone: { monitor: 'servicemonitor', fleetInBase: false, replicas: 1 },
  'ha-pair': { monitor: 'servicemonitor', fleetInBase: true, replicas: 2 },
};
interface Combo {
  id: string;
  shape: string;
  on: ReadonlySet<Feature>;
}

function combos(): Combo[] {
  const out: Combo[] = [];
  for (const shape of Object.keys(SHAPES)) {
    for (let mask = 0; mask < 1 << FEATURES.length; mask++) {
      const on = new Set(FEATURES.filter((_, i) => mask & (1 << i)));
      if (on.has('cert-manager') && !on.has('tls')) continue; // it issues the tls component's certificate
      if (SHAPES[shape]!.fleetInBase && !on.has('fleet')) continue; // the ha-pair base always has it
      out.push({ id: `c${String(out.length).padStart(4, '0')}`, shape, on });
    }
  }
  return out;
}

/** The components a combination lists, in the documented order: the monitor before tls and basic-auth, which patch it. */
function componentsOf(c: Combo): string[] {
  const shape = SHAPES[c.shape]!;
  const list: string[] = [];
  if (c.on.has('monitor')) list.push(shape.monitor);
  if (c.on.has('fleet') && !shape.fleetInBase) list.push('fleet');
  for (const f of ['callbacks', 'tls', 'basic-auth', 'cert-manager', 'rules', 'dashboards'] as const) if (c.on.has(f)) list.push(f);
  return list;
}

/** Merges snippets into a base YAML text (top-level keys added; comments of the base kept). */
function mergeYaml(base: string, ...snippets: string[]): string {
  const doc = parseDocument(base);
  for (const s of snippets) {
    const add = parseDocument(s);
    if (!isMap(add.contents)) throw new Error('a snippet is not a map');
    for (const item of add.contents.items) doc.set(item.key, item.value);
  }
  return doc.toString({ lineWidth: 0 });
}
const snippet = (name: string): string => readFileSync(join(DIR, 'snippets', name), 'utf8');

/** config.yaml for a combination: the shape's base config plus the snippets of its components. */
function configFor(c: Combo): string {
  const parts: string[] = [];
  if (c.on.has('fleet') && !SHAPES[c.shape]!.fleetInBase) parts.push(snippet('fleet.yaml'));
  if (c.on.has('callbacks')) parts.push(snippet('callbacks.yaml'));
  if (c.on.has('rooms')) parts.push(snippet('rooms.yaml'));
  return mergeYaml(readFileSync(join(DIR, 'bases', c.shape, 'config.yaml'), 'utf8'), ...parts);
}

/** web.yml for a combination with tls and/or basic-auth, its placeholder hash filled in. */
function webFor(on: ReadonlySet<Feature>): string | undefined {
  const parts = [...(on.has('tls') ? [snippet('web-tls.yaml')] : []), ...(on.has('basic-auth') ? [snippet('web-basic-auth.yaml')] : [])];
  if (parts.length === 0) return undefined;
  return fillHash(mergeYaml('{}', ...parts));
}
const fillHash = (web: string): string => web.replace(HASH_PLACEHOLDER, bcrypt.hashSync(SCRAPE[1], 4));

// ---- The Secrets: made by the walk-through's own commands ---------------------------------------

/** The walk-through's `printf` and `kubectl -n zego create secret` lines, from docs/deploying.md. */
function walkThroughSecretCommands(): string[] {
  const md = readFileSync(join(ROOT, 'docs/deploying.md'), 'utf8');
  const start = md.indexOf('## Walk-through: HA pair + TLS + callbacks + rooms');
  expect(start, 'docs/deploying.md has the walk-through').toBeGreaterThan(0);
  const section = md.slice(start, md.indexOf('\n## ', start + 10));
  return section.split('\n').filter((l) => /^(printf %s|kubectl -n zego create secret )/.test(l));
}

/**
 * Runs the documented commands with --dry-run=client -o yaml (no cluster needed) in a folder holding
 * the files they read, and returns the Secrets they would create.
 */
function createSecrets(kubectl: string, work: string, pki: Pki, web: string): Doc[] {
  const server = pki.issue('zego-exporter', 'server');
  writeFileSync(join(work, 'tls.crt'), server.certPem);
  writeFileSync(join(work, 'tls.key'), server.keyPem);
  writeFileSync(join(work, 'ca.crt'), pki.ca.pem);
  writeFileSync(join(work, 'web.yml'), web);
  const docs: Doc[] = [];
  const lines = walkThroughSecretCommands();
  expect(lines.filter((l) => l.startsWith('kubectl')).length).toBeGreaterThanOrEqual(6);
  for (const line of lines) {
    const cmd = line.startsWith('kubectl') ? `${line.replace(/^kubectl/, `"${kubectl}"`)} --dry-run=client -o yaml` : line;
    const out = execFileSync('bash', ['--norc', '--noprofile', '-euo', 'pipefail', '-c', cmd], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: work,
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] ?? '', ZEGO_SERVER_SECRET: SERVER_SECRET, ZEGO_CALLBACK_SECRET: CALLBACK_SECRET, SCRAPE_PASSWORD: SCRAPE[1] },
    });
    if (line.startsWith('kubectl')) docs.push(parse(out) as Doc);
  }
  return docs;
}

// ---- What every render must satisfy ------------------------------------------------------------

interface Checked {
  exporter: { dep: Doc; spec: IPodSpec; c: IContainer; env: Record<string, string> };
  configText: string;
  webFile: string | undefined;
}

/** Every cross-reference of one rendered combination, and its config through the real loader. */
function checkRender(docs: Doc[], on: ReadonlySet<Feature>, secrets: SecretStore, issued: Record<string, Buffer>, where: string): Checked {
  const of = (kind: string): Doc[] => docs.filter((d) => d.kind === kind);
  for (const d of docs) validate(d);

  // Restricted containers everywhere.
  for (const d of of('Deployment')) {
    const spec = podSpec(d);
    expect(spec.securityContext?.runAsNonRoot, `${where} ${d.metadata.name}`).toBe(true);
    expect(spec.securityContext?.seccompProfile?.type, where).toBe('RuntimeDefault');
    expect(spec.automountServiceAccountToken, where).toBe(false);
    for (const c of allContainers(spec)) {
      const sc = c.securityContext;
      const w = `${where} ${d.metadata.name}/${c.name}`;
      expect(sc?.runAsNonRoot ?? spec.securityContext?.runAsNonRoot, w).toBe(true);
      expect(sc?.runAsUser ?? spec.securityContext?.runAsUser, w).not.toBe(0);
      expect(sc?.allowPrivilegeEscalation, w).toBe(false);
      expect(sc?.readOnlyRootFilesystem, w).toBe(true);
      expect(sc?.capabilities?.drop, w).toEqual(['ALL']);
      expect(c.resources?.requests?.['memory'], w).toBeDefined();
      expect(c.resources?.limits?.['memory'], w).toBeDefined();
    }
  }

  // The exporter: one Deployment, its container where the annotation says.
  const exporterDeps = of('Deployment').filter((d) => d.metadata.annotations?.['zego-stream-exporter/exporter-in'] !== undefined);
  expect(exporterDeps, where).toHaveLength(1);
  const dep = exporterDeps[0]!;
  const spec = podSpec(dep);
  const where_ = dep.metadata.annotations!['zego-stream-exporter/exporter-in'] as 'containers' | 'initContainers';
  const c = (spec[where_] ?? []).find((x) => x.name === 'zego-exporter')!;
  expect(c, `${where}: zego-exporter in ${where_}`).toBeDefined();
  expect(
    allContainers(spec).filter((x) => (x.image ?? '').includes('zego-stream-exporter')),
    where,
  ).toHaveLength(1);
  if (where_ === 'initContainers') expect(c.restartPolicy, where).toBe('Always');
  const labels = podLabels(dep);
  expect(labels[EXPORTER_POD_LABEL], where).toBe('true');
  const env = containerEnv(c, secrets);
  const files = podFiles(spec, c, docs, secrets, issued);
  const args = c.args ?? [];

  // The config: from the rendered ConfigMap, mounted as a directory, through the real loader.
  const configFile = flagValue(args, 'config.file', env)!;
  const cfgMount = files.mountOf(configFile);
  expect(cfgMount.subPath, `${where}: a subPath mount never sees ConfigMap updates`).toBeUndefined();
  expect(cfgMount.configMap, where).toBeDefined();
  const configText = files.read(configFile).toString('utf8');
  const read: string[] = [];
  const loaded = parseConfig(configText, {
    env,
    baseDir: posix.dirname(configFile),
    readFile: (p) => {
      read.push(p);
      return files.read(p).toString('utf8');
    },
  });
  if (!loaded.ok) throw new Error(`${where}: the rendered config does not load: ${JSON.stringify(loaded.errors)}`);
  const config = loaded.config;
  for (const p of read) {
    const m = files.mountOf(p);
    expect(m.secret, `${where}: ${p} comes from a Secret`).toBeDefined();
    expect(m.subPath, where).toBeUndefined();
  }
  expect(config.zego.serverSecretFile, where).toBeDefined();
  expect(configText, where).not.toMatch(/^\s*(server_)?secret:/m);
  expect(Boolean(config.fleet), `${where}: fleet`).toBe(on.has('fleet'));
  expect(Boolean(config.callbacks), `${where}: callbacks`).toBe(on.has('callbacks'));
  expect((config.rooms ?? []).length > 0, `${where}: rooms`).toBe(on.has('rooms'));

  // The budget rule: without fleet mode every pod spends rate_limit on the same AppID.
  const replicas = new Deployment(dep as never).spec!.replicas ?? 1;
  const ceiling = limitOf(ACTIONS.DescribeRTCStreamState, config.zego.isTest);
  expect(on.has('fleet') ? config.zego.rateLimit : replicas * config.zego.rateLimit, `${where}: budget`).toBeLessThan(ceiling);
  if (replicas > 1 && !on.has('fleet')) expect(dep.metadata.name, where).not.toBe('zego-exporter'); // only sidecars multiply without fleet

  // Ports and probes.
  const ports = new Map((c.ports ?? []).map((p) => [p.name!, p.containerPort]));
  const listen = parseHostPort(flagValue(args, 'web.listen-address', env)!);
  expect(listen.ok && ports.get('metrics'), where).toBe(listen.ok ? listen.port : -1);
  if (config.callbacks) {
    const cb = parseHostPort(config.callbacks.listenAddress!);
    expect(cb.ok && ports.get('callbacks'), `${where}: callbacks.listen_address is the callbacks port`).toBe(cb.ok ? cb.port : -1);
  } else {
    expect(ports.has('callbacks'), where).toBe(false);
  }
  for (const [probe, path] of [
    [c.livenessProbe, '/-/healthy'],
    [c.readinessProbe, '/-/ready'],
  ] as const) {
    expect(probe?.httpGet?.path, where).toBe(path);
    expect(probe?.httpGet?.port, where).toBe('metrics');
    expect(probe?.httpGet?.scheme ?? 'HTTP', `${where}: probe scheme`).toBe(on.has('tls') ? 'HTTPS' : 'HTTP');
  }

  // --web.config.file: empty (plain HTTP) unless tls or basic-auth; its files on Secret mounts.
  const webFile = flagValue(args, 'web.config.file', env);
  expect(webFile, where).toBeDefined();
  const webOn = on.has('tls') || on.has('basic-auth');
  expect(webFile !== '', `${where}: --web.config.file set`).toBe(webOn);
  if (webOn) {
    expect(files.mountOf(webFile!).secret, where).toBe('zego-exporter-web-config');
    const web = parseWebConfig(files.read(webFile!).toString('utf8'), { baseDir: posix.dirname(webFile!), readFile: (p) => files.read(p) });
    if (!web.ok) throw new Error(`${where}: web.yml does not load: ${JSON.stringify(web.errors)}`);
    expect(Boolean(web.config.tls), `${where}: TLS`).toBe(on.has('tls'));
    expect(web.config.users.size > 0, `${where}: users`).toBe(on.has('basic-auth'));
    for (const f of web.config.files) {
      expect(files.mountOf(f).secret, `${where}: ${f}`).toBe('zego-exporter-tls');
      expect(files.mountOf(f).subPath, where).toBeUndefined();
    }
  }

  // Every Secret a pod or monitor names is created by the documented commands or by a Certificate.
  const certs = of('Certificate').map((d) => d['spec'] as { secretName: string; dnsNames: string[] });
  const secretKnown = (name: string, key?: string): boolean =>
    secrets.has(name) ? key === undefined || secrets.get(name)![key] !== undefined : certs.some((x) => x.secretName === name);
  for (const d of of('Deployment')) {
    for (const v of podSpec(d).volumes ?? []) {
      if (v.secret) expect(secretKnown(v.secret.secretName!), `${where}: Secret ${v.secret.secretName}`).toBe(true);
      if (v.configMap)
        expect(
          of('ConfigMap').some((m) => m.metadata.name === v.configMap!.name),
          `${where}: ConfigMap ${v.configMap.name}`,
        ).toBe(true);
    }
  }
  if (on.has('cert-manager')) {
    expect(
      certs.map((x) => x.secretName),
      where,
    ).toEqual([files.mountOf('/run/secrets/zego-stream-exporter-tls/tls.crt').secret]);
  } else {
    expect(certs, where).toEqual([]);
  }

  // Services select the pods they serve and name ports those pods have.
  const deps = of('Deployment');
  const podPorts = (d: Doc): Set<string> => new Set(allContainers(podSpec(d)).flatMap((x) => (x.ports ?? []).map((p) => p.name!)));
  const servicesOf = (d: Doc): Doc[] => of('Service').filter((s) => selects((s['spec'] as { selector: Record<string, string> }).selector, podLabels(d)));
  for (const s of of('Service')) {
    const sel = (s['spec'] as { selector: Record<string, string> }).selector;
    const targets = deps.filter((d) => selects(sel, podLabels(d)));
    expect(
      targets.map((d) => d.metadata.name),
      `${where}: Service ${s.metadata.name}`,
    ).toHaveLength(1);
    for (const p of (s['spec'] as { ports: { targetPort: string }[] }).ports)
      expect(podPorts(targets[0]!).has(p.targetPort), `${where}: ${s.metadata.name}`).toBe(true);
  }
  const exporterServices = servicesOf(dep).map((s) => s.metadata.name);
  expect(exporterServices.includes('zego-exporter-callbacks'), where).toBe(on.has('callbacks'));

  // The Ingress routes exactly the callback path to the callback Service's port.
  const ingresses = of('Ingress');
  expect(ingresses.length, where).toBe(on.has('callbacks') ? 1 : 0);
  for (const ing of ingresses) {
    const ispec = ing['spec'] as {
      rules: { host: string; http: { paths: { path: string; pathType: string; backend: { service: { name: string; port: { name: string } } } }[] } }[];
      tls: { hosts: string[] }[];
    };
    expect(ispec.tls[0]!.hosts, where).toEqual([ispec.rules[0]!.host]);
    const paths = ispec.rules.flatMap((r) => r.http.paths);
    expect(
      paths.map((p) => [p.path, p.pathType]),
      where,
    ).toEqual([[config.callbacks!.path, 'Exact']]);
    const svc = of('Service').find((s) => s.metadata.name === paths[0]!.backend.service.name)!;
    expect(
      (svc['spec'] as { ports: { name: string }[] }).ports.map((p) => p.name),
      where,
    ).toContain(paths[0]!.backend.service.port.name);
    expect(
      (svc['spec'] as { ports: { name: string }[] }).ports.map((p) => p.name),
      `${where}: nothing routed to /metrics`,
    ).not.toContain('metrics');
  }

  // NetworkPolicies: each selects pods and names ports they have; together they admit every port
  // of the pods they select (nothing silently blocked) and the metrics port only from Prometheus.
  type Np = {
    podSelector: { matchLabels: Record<string, string> };
    policyTypes: string[];
    ingress: {
      from?: { namespaceSelector?: { matchLabels: Record<string, string> }; podSelector?: { matchLabels: Record<string, string> } }[];
      ports: { port: string }[];
    }[];
  };
  const nps = of('NetworkPolicy').map((n) => ({ name: n.metadata.name, spec: n['spec'] as Np }));
  for (const d of deps) {
    const mine = nps.filter((n) => selects(n.spec.podSelector.matchLabels, podLabels(d)));
    expect(mine.length, `${where}: a NetworkPolicy guards ${d.metadata.name}`).toBeGreaterThan(0);
    const admitted = new Set(mine.flatMap((n) => n.spec.ingress.flatMap((r) => r.ports.map((p) => p.port))));
    expect([...admitted].sort(), `${where}: ${d.metadata.name} admitted ports`).toEqual([...podPorts(d)].sort());
    for (const n of mine) for (const r of n.spec.ingress) expect(r.ports.length, where).toBeGreaterThan(0);
  }
  const rulesFor = (port: string): Np['ingress'] =>
    nps.filter((n) => selects(n.spec.podSelector.matchLabels, labels)).flatMap((n) => n.spec.ingress.filter((r) => r.ports.some((p) => p.port === port)));
  for (const r of rulesFor('metrics')) {
    expect(r.from?.[0]?.namespaceSelector?.matchLabels, where).toEqual({ 'kubernetes.io/metadata.name': 'monitoring' });
    expect(r.from?.[0]?.podSelector?.matchLabels, where).toEqual({ 'app.kubernetes.io/name': 'prometheus' });
  }
  for (const r of rulesFor('callbacks')) {
    expect(r.from?.[0]?.namespaceSelector?.matchLabels, where).toEqual({ 'kubernetes.io/metadata.name': 'ingress-nginx' });
  }

  // Fleet: Redis with the password of the Secret, reachable from exporter pods only; the exporter's
  // redis_url carries the same password to the same Service.
  const redis = deps.find((d) => d.metadata.name === 'zego-exporter-redis');
  expect(Boolean(redis), `${where}: Redis`).toBe(on.has('fleet'));
  if (redis && config.fleet) {
    const rc = podSpec(redis).containers[0]!;
    const renv = containerEnv(rc, secrets);
    const rargs = (rc.args ?? []).map((a) => a.replace(/\$\(([A-Za-z_]\w*)\)/g, (all, n: string) => renv[n] ?? all));
    const pass = rargs[rargs.indexOf('--requirepass') + 1];
    expect(pass, where).toBe(secrets.get('zego-exporter-redis-auth')!['password']!.toString('utf8'));
    expect(renv['REDISCLI_AUTH'], `${where}: the readiness probe's redis-cli authenticates`).toBe(pass);
    const url = new URL(config.fleet.redisUrl.reveal());
    expect(decodeURIComponent(url.password), `${where}: the exporter's Redis password`).toBe(pass);
    const redisSvc = servicesOf(redis)[0]!;
    expect(url.hostname, where).toBe(redisSvc.metadata.name);
    expect(Number(url.port), where).toBe((redisSvc['spec'] as { ports: { port: number }[] }).ports[0]!.port);
    const guard = nps.filter((n) => selects(n.spec.podSelector.matchLabels, podLabels(redis)));
    expect(
      guard.map((n) => n.name),
      where,
    ).toEqual(['zego-exporter-redis']);
    for (const r of guard[0]!.spec.ingress) {
      expect(r.from?.length, where).toBe(1);
      expect(r.from![0]!.namespaceSelector, where).toBeUndefined();
      const from = r.from![0]!.podSelector!.matchLabels;
      expect(selects(from, labels), `${where}: exporter pods reach Redis`).toBe(true);
      expect(selects(from, podLabels(redis)), where).toBe(false);
      for (const other of deps.filter((d) => !selects(from, podLabels(d)))) expect(other.metadata.name, where).toBe('zego-exporter-redis');
    }
  }

  // Monitors: present with the monitor component, on the metrics port, scheme and credentials as the web config says.
  const monitors = [...of('ServiceMonitor'), ...of('PodMonitor')];
  expect(monitors.length, where).toBe(on.has('monitor') ? 1 : 0);
  for (const m of monitors) {
    type Ep = {
      port: string;
      scheme?: string;
      tlsConfig?: { ca?: { secret?: { name: string; key: string } }; serverName?: string };
      basicAuth?: { username: { name: string; key: string }; password: { name: string; key: string } };
      relabelings: unknown[];
    };
    const mspec = m['spec'] as { selector: { matchLabels: Record<string, string> }; endpoints?: Ep[]; podMetricsEndpoints?: Ep[] };
    const eps = mspec.endpoints ?? mspec.podMetricsEndpoints ?? [];
    expect(eps, where).toHaveLength(1);
    const e = eps[0]!;
    expect(m.metadata.labels?.['release'], `${where}: kube-prometheus-stack's selector label`).toBeDefined();
    if (m.kind === 'ServiceMonitor') {
      const svcs = of('Service').filter((s) => selects(mspec.selector.matchLabels, s.metadata.labels ?? {}));
      expect(
        svcs.map((s) => s.metadata.name),
        where,
      ).toEqual(['zego-exporter']);
      expect(
        (svcs[0]!['spec'] as { ports: { name: string }[] }).ports.map((p) => p.name),
        where,
      ).toContain(e.port);
    } else {
      expect(selects(mspec.selector.matchLabels, labels), where).toBe(true);
      expect(podPorts(dep).has(e.port), where).toBe(true);
    }
    expect(e.port, where).toBe('metrics');
    expect(e.relabelings, where).toContainEqual({ action: 'replace', targetLabel: 'job', replacement: 'zego-stream-exporter' });
    expect(e.scheme ?? 'http', `${where}: scrape scheme`).toBe(on.has('tls') ? 'https' : 'http');
    if (on.has('tls')) {
      const ca = e.tlsConfig!.ca!.secret!;
      expect(ca.name, where).toBe(files.mountOf('/run/secrets/zego-stream-exporter-tls/tls.crt').secret);
      expect(secretKnown(ca.name, on.has('cert-manager') ? undefined : ca.key), where).toBe(true);
      expect(e.tlsConfig!.serverName, where).toBe('zego-exporter');
      for (const x of certs) expect(x.dnsNames, where).toContain(e.tlsConfig!.serverName);
    }
    expect(Boolean(e.basicAuth), `${where}: basicAuth`).toBe(on.has('basic-auth'));
    if (e.basicAuth) {
      for (const ref of [e.basicAuth.username, e.basicAuth.password]) expect(secretKnown(ref.name, ref.key), `${where}: ${ref.name}/${ref.key}`).toBe(true);
      const user = secrets.get(e.basicAuth.username.name)![e.basicAuth.username.key]!.toString();
      const web = parse(files.read(webFile!).toString('utf8')) as { basic_auth_users: Record<string, string> };
      expect(
        bcrypt.compareSync(secrets.get(e.basicAuth.password.name)![e.basicAuth.password.key]!.toString(), web.basic_auth_users[user]!),
        `${where}: the scrape password matches web.yml`,
      ).toBe(true);
    }
  }

  // PDB (ha-pair), rules, dashboards.
  for (const p of of('PodDisruptionBudget'))
    expect(selects((p['spec'] as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels, labels), where).toBe(true);
  expect(of('PrometheusRule').length, where).toBe(on.has('rules') ? 1 : 0);
  const dash = of('ConfigMap').filter((m) => m.metadata.labels?.['grafana_dashboard'] === '1');
  expect(dash.length, where).toBe(on.has('dashboards') ? 1 : 0);

  return { exporter: { dep, spec, c, env }, configText, webFile: webOn ? webFile : undefined };
}

// ---- The tests ---------------------------------------------------------------------------------

describe('deploy/kubernetes: bases × components', () => {
  const kubectl = requireKubectl();
  const work = mkdtempSync(join(tmpdir(), 'zego-k8s-'));
  const pki = makePki();
  const fullWeb = fillHash(readFileSync(join(DIR, 'examples/ha-tls-callbacks/web.yml'), 'utf8'));
  const secretDocs = createSecrets(kubectl, work, pki, fullWeb);
  const secrets = secretStore(secretDocs);
  // What cert-manager would write into the Certificate's Secret (kubernetes.io/tls with ca.crt).
  const issued = { 'tls.crt': readFileSync(join(work, 'tls.crt')), 'tls.key': readFileSync(join(work, 'tls.key')), 'ca.crt': pki.ca.pem };
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
    removePkis();
  });

  it('the documented Secret commands create valid Secrets, none of them holding a placeholder', () => {
    for (const d of secretDocs) validate(d);
    expect(secretDocs.map((d) => d.metadata.name).sort()).toEqual([
      'zego-exporter-callback-secret',
      'zego-exporter-redis-auth',
      'zego-exporter-scrape-auth',
      'zego-exporter-server-secret',
      'zego-exporter-tls',
      'zego-exporter-web-config',
    ]);
    expect(secretDocs.every((d) => d.metadata.namespace === 'zego')).toBe(true);
    expect(secrets.get('zego-exporter-redis-auth')!['password']!.toString()).toMatch(/^[0-9a-f]{64}$/);
    expect(secrets.get('zego-exporter-server-secret')!['server_secret']!.toString()).toBe(SERVER_SECRET);
  });

  it('every combination of shape and components renders with kubectl kustomize, validates by schema, loads its config with the real loader and holds together', async () => {
    const all = combos();
    expect(all.length).toBe(3 * 384 + 192);
    // One overlay per combination, each in its own namespace, rendered by one kubectl call.
    const root = join(work, 'combos');
    for (const c of all) {
      const dir = join(root, c.id);
      mkdirSync(dir, { recursive: true });
      const rel = (p: string): string => relative(dir, join(DIR, p));
      writeFileSync(join(dir, 'config.yaml'), configFor(c));
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        stringify({
          apiVersion: 'kustomize.config.k8s.io/v1beta1',
          kind: 'Kustomization',
          namespace: c.id,
          resources: [rel(`bases/${c.shape}`)],
          components: componentsOf(c).map((x) => rel(`components/${x}`)),
          configMapGenerator: [{ name: 'zego-exporter-config', behavior: 'replace', files: ['config.yaml'] }],
        }),
      );
    }
    // Batches of overlays (one kubectl call each: ~70 ms an overlay, most of it kustomize's own
    // work per overlay), two calls at a time on this 2-core machine.
    const batches: string[][] = [];
    for (let i = 0; i < all.length; i += BATCH) batches.push(all.slice(i, i + BATCH).map((c) => c.id));
    const rendered = (
      await mapLimit(batches, 2, async (ids, i) => {
        const dir = join(root, `batch-${i}`);
        mkdirSync(dir);
        writeFileSync(
          join(dir, 'kustomization.yaml'),
          stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: ids.map((id) => `../${id}`) }),
        );
        return kustomizeAsync(kubectl, dir);
      })
    ).flat();
    const byNs = new Map<string, Doc[]>();
    for (const d of rendered) byNs.set(d.metadata.namespace!, [...(byNs.get(d.metadata.namespace!) ?? []), d]);
    expect(byNs.size).toBe(all.length);
    for (const c of all) {
      const docs = byNs.get(c.id)!;
      const where = `${c.shape} + [${[...c.on].join(', ')}]`;
      // The web.yml Secret holds what this combination's web config would be.
      const web = webFor(c.on);
      const store: SecretStore = new Map(secrets);
      if (web !== undefined) store.set('zego-exporter-web-config', { 'web.yml': Buffer.from(web) });
      checkRender(docs, c.on, store, issued, where);
    }
  }, 480_000); // ~60 s alone, ~100 s beside other test files on 2 cores

  it('the sidecar-native patch of each component equals its container patch (they only differ in where the exporter is)', () => {
    for (const comp of readdirSync(join(DIR, 'components'))) {
      const files = readdirSync(join(DIR, 'components', comp));
      if (!files.includes('exporter-containers.yaml')) continue;
      const a = readFileSync(join(DIR, 'components', comp, 'exporter-containers.yaml'), 'utf8');
      const b = readFileSync(join(DIR, 'components', comp, 'exporter-init-containers.yaml'), 'utf8');
      expect(b, comp).toBe(a.replace(/^ {6}containers:$/m, '      initContainers:'));
    }
  });

  it('a component listed before the monitor it patches would leave the monitor plain: the examples list monitors first', () => {
    for (const ex of readdirSync(join(DIR, 'examples'))) {
      const k = parse(readFileSync(join(DIR, 'examples', ex, 'kustomization.yaml'), 'utf8')) as { components?: string[] };
      const names = (k.components ?? []).map((p) => posix.basename(p));
      const monitor = names.findIndex((n) => n === 'servicemonitor' || n === 'podmonitor');
      for (const patcher of ['tls', 'basic-auth']) if (names.includes(patcher)) expect(monitor, ex).toBeLessThan(names.indexOf(patcher));
    }
    // The order matters (so the documented rule is needed): tls before the ServiceMonitor leaves it on http.
    const dir = join(work, 'wrong-order');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      stringify({
        resources: [relative(dir, join(DIR, 'bases/standalone'))],
        components: ['tls', 'servicemonitor'].map((x) => relative(dir, join(DIR, 'components', x))),
      }),
    );
    const sm = kustomize(kubectl, dir).find((d) => d.kind === 'ServiceMonitor')!;
    expect((sm['spec'] as { endpoints: { scheme?: string }[] }).endpoints[0]!.scheme).toBeUndefined();
  });

  const EXAMPLES: Record<string, Feature[]> = {
    sidecar: ['monitor', 'rules'],
    'sidecar-native': ['monitor', 'rules'],
    fleet: ['fleet', 'monitor', 'rules'],
    standalone: ['monitor', 'rules', 'dashboards'],
    'standalone-tls': ['monitor', 'tls', 'basic-auth', 'cert-manager', 'rules'],
    'ha-tls-callbacks': ['fleet', 'monitor', 'tls', 'basic-auth', 'callbacks', 'rooms', 'rules', 'dashboards'],
  };

  it.each(Object.keys(EXAMPLES))('examples/%s renders and holds together with its own config.yaml and web.yml', (ex) => {
    expect(readdirSync(join(DIR, 'examples')).sort()).toEqual(Object.keys(EXAMPLES).sort());
    const docs = kustomize(kubectl, join(DIR, 'examples', ex));
    const store: SecretStore = new Map(secrets);
    const webPath = join(DIR, 'examples', ex, 'web.yml');
    const on = new Set(EXAMPLES[ex]!);
    if (on.has('tls') || on.has('basic-auth')) {
      const shipped = readFileSync(webPath, 'utf8');
      // As shipped, the placeholder hash is refused: nobody runs it with a password from the repository.
      const refused = parseWebConfig(shipped, { baseDir: '/', readFile: () => issued['tls.crt'] });
      expect(refused.ok).toBe(false);
      store.set('zego-exporter-web-config', { 'web.yml': Buffer.from(fillHash(shipped)) });
    }
    const checked = checkRender(docs, on, store, issued, `examples/${ex}`);
    expect(checked.configText).toBe(readFileSync(join(DIR, 'examples', ex, 'config.yaml'), 'utf8'));
  });

  it('kubectl kustomize deploy/kubernetes (the default) builds examples/sidecar', () => {
    expect(kustomize(kubectl, DIR)).toEqual(kustomize(kubectl, join(DIR, 'examples/sidecar')));
  });

  it('the walk-through kustomization (HA + TLS + callbacks + rooms) is under 30 lines, and it and its config.yaml are what docs/deploying.md shows', () => {
    const file = readFileSync(join(DIR, 'examples/ha-tls-callbacks/kustomization.yaml'), 'utf8');
    expect(file.trimEnd().split('\n').length).toBeLessThan(30);
    const md = readFileSync(join(ROOT, 'docs/deploying.md'), 'utf8');
    expect(md).toContain(`\`\`\`yaml\n${file}\`\`\``);
    // Its config.yaml too, as shipped: the page shows what the test runs.
    expect(md).toContain(`\`\`\`yaml\n${readFileSync(join(DIR, 'examples/ha-tls-callbacks/config.yaml'), 'utf8')}\`\`\``);
  });

  it('examples/standalone runs as rendered: the empty --web.config.file=$(…) means plain HTTP, and the probes and /metrics answer', async () => {
    const docs = kustomize(kubectl, join(DIR, 'examples/standalone'));
    const checked = checkRender(docs, new Set(EXAMPLES['standalone']!), secrets, issued, 'examples/standalone');
    const { c, env, spec } = checked.exporter;
    const webFlag = flagValue(c.args!, 'web.config.file', env);
    expect(webFlag).toBe('');
    const sim = await startSimulator({ apps: [{ appId: 1234567890, secret: SERVER_SECRET }] });
    try {
      sim.setStream('live-main', { state: 'active', createTime: Math.floor(Date.now() / 1000) - 5 });
      const secretFile = join(work, 'standalone', 'server_secret');
      mkdirSync(dirname(secretFile), { recursive: true });
      writeFileSync(secretFile, podFiles(spec, c, docs, secrets).read('/run/secrets/zego-stream-exporter/server_secret'));
      const yaml = checked.configText.replace('/run/secrets/zego-stream-exporter/server_secret', secretFile).replace(/endpoint: \S+/, `endpoint: ${sim.url}`);
      const run = await startExporter(yaml, { logLevel: 'info', args: [`--web.config.file=${webFlag}`] });
      for (const probe of [c.livenessProbe!, c.readinessProbe!])
        expect(
          await eventually(
            async () => (await fetch(`${run.url}${probe.httpGet!.path!}`)).status,
            (x) => x === 200,
            5000,
          ),
        ).toBe(200);
      await eventually(
        async () => parseMetrics(await (await fetch(`${run.url}/metrics`)).text()),
        (m) => m.get('zego_stream_active{stream_id="live-main"}') === 1,
        5000,
      );
      await run.stop();
    } finally {
      await stopAll();
      await sim.close();
    }
  }, 30_000);

  describe('the HA + TLS + callbacks (+ rooms) example runs: two exporters and a Redis with the rendered config, web.yml and Secrets', () => {
    let sim: Simulator;
    let redis: RedisProcess;
    const docs = kustomize(kubectl, join(DIR, 'examples/ha-tls-callbacks'));
    const store: SecretStore = new Map(secrets);
    store.set('zego-exporter-web-config', { 'web.yml': Buffer.from(fullWeb) });
    const checked = checkRender(docs, new Set(EXAMPLES['ha-tls-callbacks']!), store, issued, 'run');
    const { c, env } = checked.exporter;
    const password = secrets.get('zego-exporter-redis-auth')!['password']!.toString();
    const scratch = join(work, 'run');

    beforeAll(async () => {
      sim = await startSimulator({ apps: [{ appId: 1234567890, secret: SERVER_SECRET }] });
      // The Redis Deployment's own arguments, $(REDIS_PASSWORD) from the Secret: a real redis-server that refuses anyone without it.
      const redisDep = docs.find((d) => d.kind === 'Deployment' && d.metadata.name === 'zego-exporter-redis')!;
      const rc = podSpec(redisDep).containers[0]!;
      const renv = containerEnv(rc, secrets);
      const i = rc.args!.indexOf('--requirepass');
      redis = await startRedis(['--requirepass', rc.args![i + 1]!.replace('$(REDIS_PASSWORD)', renv['REDIS_PASSWORD']!)]);
    });
    afterAll(async () => {
      await stopAll();
      await stopAllRedis();
      await sim?.close();
    });

    it('both replicas are scraped over TLS with basic auth, the probes pass without a password, and a signed callback posted to one is applied on both', async () => {
      // The pod's files, re-rooted under a temp folder: config, secrets, web.yml, certificate.
      const { read } = podFiles(checked.exporter.spec, c, docs, store, issued);
      const files = [
        flagValue(c.args!, 'config.file', env)!,
        flagValue(c.args!, 'web.config.file', env)!,
        '/run/secrets/zego-stream-exporter/server_secret',
        '/run/secrets/zego-stream-exporter-callbacks/callback_secret',
        '/run/secrets/zego-stream-exporter-tls/tls.crt',
        '/run/secrets/zego-stream-exporter-tls/tls.key',
      ];
      // One pass, so a path already moved under scratch is never moved again.
      const reroot = (text: string): string =>
        text.replace(/(?<![\w./-])(\/run\/secrets\/[\w.-]+\/|\/etc\/zego-stream-exporter\/)/g, (dir) => `${scratch}${dir}`);
      for (const f of files) {
        mkdirSync(join(scratch, posix.dirname(f)), { recursive: true });
        writeFileSync(join(scratch, f), read(f));
      }
      const webFile = join(scratch, flagValue(c.args!, 'web.config.file', env)!);
      writeFileSync(webFile, reroot(read(flagValue(c.args!, 'web.config.file', env)!).toString()));
      // Without the Secret's password Redis answers nobody.
      expect(await pingWithoutPassword(redis.port)).toMatch(/^-NOAUTH/);

      sim.setStream('live-main', { state: 'closed', createTime: Math.floor(Date.now() / 1000) - 600, closeTime: Math.floor(Date.now() / 1000) - 300 });
      const runs: { p: ExporterProcess; cb: string }[] = [];
      for (let i = 0; i < 2; i++) {
        // Two pods on one machine: each its own callback port and Redis on loopback; everything else as rendered.
        const port = await freePort();
        const yaml = reroot(checked.configText)
          .replace(/endpoint: \S+/, `endpoint: ${sim.url}`)
          .replace(/listen_address: '\S+'/, `listen_address: '127.0.0.1:${port}'`);
        const podEnv = { ...env, REDIS_URL: env['REDIS_URL']!.replace('@zego-exporter-redis:6379', `@127.0.0.1:${redis.port}`) };
        expect(podEnv['REDIS_URL']).toBe(`redis://:${password}@127.0.0.1:${redis.port}`);
        const p = await startExporter(yaml, { env: { REDIS_URL: podEnv['REDIS_URL'] }, logLevel: 'info', args: [`--web.config.file=${webFile}`] });
        // callbacks.tls defaults to off: plain HTTP, what the shipped Ingress forwards, whatever the main listener's TLS.
        runs.push({ p, cb: `http://127.0.0.1:${port}` });
      }
      const ca = pki.ca.pem;
      const scrapeTls = async (url: string): Promise<Map<string, number>> =>
        parseMetrics((await httpsRequest(`${url}/metrics`, { ca, auth: [...SCRAPE] })).body);
      for (const r of runs) {
        for (const probe of [c.livenessProbe!, c.readinessProbe!]) {
          expect(probe.httpGet!.scheme).toBe('HTTPS');
          expect((await httpsRequest(`${r.p.url}${probe.httpGet!.path!}`, { ca })).status).toBe(200); // the kubelet sends no credentials
        }
        expect((await httpsRequest(`${r.p.url}/metrics`, { ca })).status).toBe(401);
        await eventually(
          () => scrapeTls(r.p.url),
          (m) =>
            m.get('zego_stream_active{stream_id="live-main"}') === 0 &&
            m.get('zego_exporter_fleet_connected') === 1 &&
            m.get('zego_exporter_callbacks_fanout_connected') === 1,
          15_000,
        );
      }
      const ing = docs.find((d) => d.kind === 'Ingress')!;
      const path = (ing['spec'] as { rules: { http: { paths: { path: string }[] } }[] }).rules[0]!.http.paths[0]!.path;
      const ts = String(Math.floor(Date.now() / 1000));
      const body = JSON.stringify({
        appid: '1234567890',
        event: 'stream_create',
        stream_id: 'live-main',
        stream_seq: '1',
        create_time_ms: String(Date.now()),
        timestamp: ts,
        nonce: '4242',
        signature: callbackSignature(CALLBACK_SECRET, ts, '4242'),
      });
      const post = await httpsOrHttp(`${runs[0]!.cb}${path}`, ca, body);
      expect(post).toBe(200);
      for (const r of runs)
        await eventually(
          () => scrapeTls(r.p.url),
          (m) => m.get('zego_stream_active{stream_id="live-main"}') === 1,
          2000,
          20,
        );
      // The callback listener serves the callback path only: /metrics is not there, even with the password.
      expect(await httpsOrHttp(`${runs[1]!.cb}/metrics`, ca, undefined, [...SCRAPE])).toBe(404);
    }, 60_000);
  });
});

/** One request to the callback listener, over https or http as its URL says. */
async function httpsOrHttp(url: string, ca: Buffer, body?: string, auth?: [string, string]): Promise<number> {
  const opts = body === undefined ? {} : { method: 'POST', body, headers: { 'Content-Type': 'application/json' } };
  if (url.startsWith('https:')) return (await httpsRequest(url, { ca, ...opts, ...(auth ? { auth } : {}) })).status;
  const headers = { ...opts.headers, ...(auth ? { Authorization: `Basic ${Buffer.from(auth.join(':')).toString('base64')}` } : {}) };
  return (await fetch(url, { ...opts, headers })).status;
}

/** Redis' answer to a PING sent without authenticating. */
function pingWithoutPassword(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write('PING\r\n'));
    s.setEncoding('utf8').once('data', (d: string) => {
      s.destroy();
      resolve(d);
    });
    s.once('error', reject);
  });
}
