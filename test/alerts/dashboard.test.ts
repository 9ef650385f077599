import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { dashboardQueries, substituteVariables } from '../helpers/dashboard-queries.js';
import { checkExpressions, scratchDir } from '../helpers/promtool.js';

const root = join(import.meta.dirname, '..', '..');
const dashboardFile = join(root, 'grafana', 'dashboards', 'zego-streams.json');

interface Target {
  expr?: string;
  refId?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
  multi?: boolean;
  includeAll?: boolean;
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  templating: { list: Variable[] };
  panels: Panel[];
}

const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as Dashboard;

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}
const panels = allPanels(dashboard.panels);
const queryPanels = panels.filter((p) => p.type !== 'row');
const byTitle = (title: string): Panel => {
  const p = panels.find((x) => x.title === title);
  if (!p) throw new Error(`no panel "${title}"`);
  return p;
};
const exprs = (title: string): string[] => (byTitle(title).targets ?? []).map((t) => t.expr ?? '');

describe('grafana/dashboards/zego-streams.json', () => {
  it('has the stable uid, title and a current schema', () => {
    expect(dashboard.uid).toBe('zego-stream-exporter');
    expect(dashboard.title).toBe('ZEGOCLOUD streams');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
  });

  it('has the datasource, job, instance and stream_id variables', () => {
    const vars = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    expect([...vars.keys()]).toEqual(['datasource', 'job', 'instance', 'stream_id']);
    expect(vars.get('datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const stream = vars.get('stream_id');
    expect(stream).toMatchObject({ type: 'query', multi: true, includeAll: true });
    const q = stream?.query;
    expect(typeof q === 'string' ? q : q?.query).toBe('label_values(zego_stream_interval_seconds{job=~"$job",instance=~"$instance"}, stream_id)');
  });

  it('variable queries select with valid PromQL', () => {
    const selectors = dashboard.templating.list
      .filter((v) => v.type === 'query')
      .map((v) => {
        const q = typeof v.query === 'string' ? v.query : v.query.query;
        const m = /^label_values\((.+),\s*\w+\)$/.exec(q);
        if (!m?.[1]) throw new Error(`${v.name}: unexpected query ${q}`);
        return substituteVariables(m[1]);
      });
    const r = checkExpressions(selectors);
    expect(r.status, r.output).toBe(0);
  });

  it('has unique panel ids and every query panel on the ${datasource} variable', () => {
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of queryPanels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      for (const t of p.targets ?? []) expect(t.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
    }
  });

  it('has no overlapping panels', () => {
    const cells = new Map<string, string>();
    for (const p of panels) {
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          const key = `${x},${y}`;
          expect(cells.get(key), `${p.title} overlaps ${cells.get(key) ?? ''}`).toBeUndefined();
          cells.set(key, p.title);
        }
      }
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
    }
  });

  it('filters every query by the job and instance variables', () => {
    for (const p of queryPanels) {
      for (const t of p.targets ?? []) {
        const expr = t.expr ?? '';
        // Every metric selector carries the filters (vector(0) fallbacks have no selector).
        const selectors = expr.match(/\b[a-z_:][a-z0-9_:]*\{[^}]*\}/g) ?? [];
        expect(selectors.length, `${p.title}: ${expr}`).toBeGreaterThan(0);
        for (const s of selectors) {
          expect(s, p.title).toContain('job=~"$job"');
          expect(s, p.title).toContain('instance=~"$instance"');
          if (s.startsWith('zego_stream_')) expect(s, p.title).toContain('stream_id=~"$stream_id"');
        }
      }
    }
  });

  it('has the agreed panels', () => {
    expect(byTitle('Stream state').type).toBe('state-timeline');
    expect(exprs('Stream state').join()).toContain('zego_stream_active{');
    expect(byTitle('Streams up / watched').type).toBe('stat');
    expect(byTitle('Streams currently down').type).toBe('table');
    expect(exprs('Probe freshness (age of last successful probe)').join()).toContain('time() - zego_stream_last_success_timestamp_seconds{');
    expect(exprs('API calls by result').join()).toMatch(/sum by \(api, outcome, code\) \(rate\(zego_exporter_api_requests_total\{/);
    const budget = exprs('Rate budget use').join('\n');
    for (const m of ['zego_exporter_api_requests_total', 'zego_exporter_rate_limit{', 'zego_exporter_rate_limit_configured{']) {
      expect(budget).toContain(m);
    }
    const latency = exprs('Probe latency').join('\n');
    expect(latency).toContain('histogram_quantile(0.5,');
    expect(latency).toContain('histogram_quantile(0.99,');
    const queue = exprs('Queue and achievable refresh').join('\n');
    expect(queue).toContain('zego_exporter_queue_length{');
    expect(queue).toContain('zego_exporter_achievable_refresh_seconds{');
    const health = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? '')).join('\n');
    for (const m of [
      'zego_exporter_build_info{',
      'zego_exporter_config_last_reload_successful{',
      'nodejs_eventloop_lag_p99_seconds{',
      'process_resident_memory_bytes{',
      'zego_stream_uptime_seconds{',
      'zego_stream_probe_success{',
    ]) {
      expect(health).toContain(m);
    }
  });

  /** The row (by title) each panel sits in: rows are flat, a panel belongs to the last row above it. */
  const rowOf = (p: Panel): string => {
    const rows = dashboard.panels.filter((r) => r.type === 'row' && r.gridPos.y <= p.gridPos.y);
    return rows.sort((a, b) => b.gridPos.y - a.gridPos.y)[0]?.title ?? '';
  };
  const PER_REPLICA = 'without (instance, pod, node, container, endpoint, service)';

  it('shows one row per stream, whatever the number of exporters: per-replica views only under Exporter health', () => {
    const streamPanels = queryPanels.filter((p) => (p.targets ?? []).some((t) => /\bzego_stream_/.test(t.expr ?? '')));
    expect(streamPanels.length).toBeGreaterThan(6);
    for (const p of streamPanels) {
      if (rowOf(p) === 'Exporter health') continue;
      for (const t of p.targets ?? []) {
        const expr = t.expr ?? '';
        if (!/\bzego_stream_/.test(expr)) continue;
        // Either one number for all streams, or every per-stream aggregation drops exactly the per-replica labels.
        const aggregations = [...expr.matchAll(/\b(max|min|count|sum) (without|by) \(([^)]*)\)/g)];
        const wholeFleet = /^(count|sum|min|max)\(/.test(expr.trim());
        expect(aggregations.length > 0 || wholeFleet, `${p.title}: ${expr}`).toBe(true);
        for (const m of aggregations) expect(`${m[2]} (${m[3]})`, `${p.title}: ${expr}`).toBe(PER_REPLICA);
        expect((t as { legendFormat?: string }).legendFormat ?? '', p.title).not.toContain('instance');
      }
    }
    // The stream state the dashboard shows is the alert's rule of agreement.
    const rules = parse(readFileSync(join(root, 'alerts', 'zego-alerts.yaml'), 'utf8')) as { groups: { rules: { alert?: string; expr: string }[] }[] };
    const keyRule = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === 'ZegoKeyStreamDown')?.expr ?? '';
    const strip = (e: string): string =>
      e
        .replace(/\{[^}]*\}/g, '')
        .replace(/\s+/g, ' ')
        .trim();
    expect(strip(exprs('Key streams down')[0] ?? '')).toBe(`count(${strip(keyRule)}) or vector(0)`);
    // The exporter-health row keeps per-replica views, and one that shows the replicas disagreeing.
    expect(rowOf(byTitle('Streams the exporters disagree on'))).toBe('Exporter health');
  });

  it('keeps the APIs apart wherever it aggregates the per-API exporter metrics: each API has a budget of its own', () => {
    const perApi =
      /zego_exporter_(api_requests_total|api_request_duration_seconds_\w+|rate_limit|rate_limit_configured|queue_length|budget_slots_held|achievable_\w+|demand_probes_per_second)\{/;
    let seen = 0;
    for (const p of queryPanels) {
      for (const t of p.targets ?? []) {
        const expr = t.expr ?? '';
        if (!perApi.test(expr)) continue;
        seen++;
        for (const m of expr.matchAll(/\b(sum|max|min|avg|count)\s*(by \(([^)]*)\))?\s*\(/g)) {
          expect(m[3] ?? '', `${p.title}: ${expr}`).toMatch(/\bapi\b/);
        }
        expect((t as { legendFormat?: string }).legendFormat ?? '', p.title).toContain('{{api}}');
      }
    }
    expect(seen).toBeGreaterThanOrEqual(13);
  });

  it('has a rooms row: streams and users per room (one series per room across exporters), top rooms by users, calls and failures by API', () => {
    const rooms = ['Streams per room', 'Users per room', 'Top rooms by users', 'Room API calls and failures by API'];
    for (const t of rooms) expect(rowOf(byTitle(t)), t).toBe('Rooms');
    expect(exprs('Streams per room').join()).toContain(`max ${PER_REPLICA} (zego_room_streams{`);
    expect(exprs('Users per room').join()).toContain(`max ${PER_REPLICA} (zego_room_users{`);
    expect(exprs('Top rooms by users').join()).toMatch(/^topk\(10, max without \(instance, pod, node, container, endpoint, service\) \(zego_room_users\{/);
    const calls = exprs('Room API calls and failures by API').join();
    expect(calls).toContain('sum by (api, outcome) (rate(zego_exporter_api_requests_total{');
    expect(calls).toContain('api=~"DescribeSimpleStreamList|DescribeUserNum"');
  });

  it('has a mix tasks row: running tasks and their duration (one series per task across exporters), unannounced stops, GetMixTaskInfo calls by outcome', () => {
    const mix = ['Running mix tasks', 'Mix task duration', 'Unannounced mix task stops', 'GetMixTaskInfo calls by outcome'];
    for (const t of mix) expect(rowOf(byTitle(t)), t).toBe('Mix tasks');
    expect(exprs('Running mix tasks').join()).toContain(`max ${PER_REPLICA} (zego_mix_task_active{`);
    expect(exprs('Mix task duration').join()).toContain(`max ${PER_REPLICA} (zego_mix_task_duration_seconds{`);
    expect(exprs('Unannounced mix task stops').join()).toMatch(/increase\(zego_mix_task_stops_total\{[^}]*reason="unannounced"/);
    expect(exprs('GetMixTaskInfo calls by outcome').join()).toContain('api="GetMixTaskInfo"');
  });

  it('has an outputs row: key outputs down and their failing layer, outputs up, media age and bitrate, one series per output across exporters', () => {
    const outputs = ['Key outputs down', 'Key outputs: failing layer', 'Outputs up', 'Output media age', 'Output bitrate'];
    for (const t of outputs) expect(rowOf(byTitle(t)), t).toBe('Outputs');
    for (const t of outputs) {
      for (const e of exprs(t)) {
        const aggregations = [...e.matchAll(/\b(max|min|count|sum) (without|by) \(([^)]*)\)/g)];
        expect(aggregations.length, `${t}: ${e}`).toBeGreaterThan(0);
        for (const m of aggregations) expect(`${m[2]} (${m[3]})`, `${t}: ${e}`).toBe(PER_REPLICA);
      }
    }
    expect(exprs('Output media age').join()).toContain(`min ${PER_REPLICA} (zego_output_media_age_seconds{`);
    expect(exprs('Output bitrate').join()).toContain(`max ${PER_REPLICA} (zego_output_bitrate_bits_per_second{`);
    const diagnosis = exprs('Key outputs: failing layer').join();
    expect(diagnosis).toContain('zego_output_diagnosis{');
    expect(diagnosis).toContain('and on (job, namespace, output)');
    expect(diagnosis).toMatch(/zego_output_up\{[^}]*severity="critical"/);
    // Up/down and the key count read the alert's rule of agreement.
    const rules = parse(readFileSync(join(root, 'alerts', 'zego-alerts.yaml'), 'utf8')) as { groups: { rules: { alert?: string; expr: string }[] }[] };
    const keyRule = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === 'ZegoKeyOutputDown')?.expr ?? '';
    const strip = (e: string): string =>
      e
        .replace(/\{[^}]*\}/g, '')
        .replace(/\s+/g, ' ')
        .trim();
    expect(strip(exprs('Key outputs down')[0] ?? '')).toBe(`count(${strip(keyRule)}) or vector(0)`);
    expect(`${strip(exprs('Outputs up')[0] ?? '')} == 0`).toBe(strip(keyRule));
    for (const s of exprs('Key outputs down')
      .join()
      .match(/zego_output_up\{[^}]*\}/g) ?? [])
      expect(s).toContain('severity="critical"');
  });

  it('counts key streams only in "Key streams down"', () => {
    const key = exprs('Key streams down');
    expect(key).toHaveLength(1);
    for (const s of key.join().match(/zego_stream_active\{[^}]*\}/g) ?? []) expect(s).toContain('severity="critical"');
  });

  it('has panels for close reasons, callbacks by result, fleet status and what the budget yields', () => {
    expect(exprs('Last close reason').join()).toContain(`max ${PER_REPLICA} (zego_stream_last_close_reason{`);
    expect(exprs('Callbacks by result').join()).toMatch(/sum by \(event, result\) \(rate\(zego_exporter_callbacks_total\{/);
    const fleet = exprs('Fleet (Redis) status').join();
    expect(fleet).toContain('zego_exporter_fleet_connected{');
    expect(fleet).toContain('-1 * zego_exporter_build_info{'); // "off" rather than no data outside fleet mode
    expect(rowOf(byTitle('Fleet (Redis) status'))).toBe('Exporter health');
    expect(exprs('Rate budget use').join()).toContain('zego_exporter_achievable_probes_per_second{');
  });

  it('lists the key streams first in "Streams currently down" and marks it empty when healthy', () => {
    const p = byTitle('Streams currently down');
    expect(p.description).toContain('(empty when healthy)');
    expect(exprs('Streams currently down').join()).toContain('severity="critical"');
  });

  describe('dashboardQueries()', () => {
    const queries = dashboardQueries(dashboardFile);

    it('returns every target with all variables substituted', () => {
      const targetCount = queryPanels.reduce((n, p) => n + (p.targets?.length ?? 0), 0);
      expect(queries).toHaveLength(targetCount);
      for (const q of queries) {
        expect(q.expr, q.panel).not.toMatch(/\$|\[\[/);
      }
      expect(queries.find((q) => q.panel.startsWith('API calls by result'))?.expr).toBe(
        'sum by (api, outcome, code) (rate(zego_exporter_api_requests_total{job=~".*",instance=~".*"}[1m]))',
      );
    });

    it('marks only the "(empty when healthy)" panels allowEmpty', () => {
      const empty = [...new Set(queries.filter((q) => q.allowEmpty).map((q) => q.panel.replace(/ \[\w+\]$/, '')))];
      expect(empty).toEqual(['Streams currently down', 'Streams the exporters disagree on']);
    });

    it('walks collapsed rows and substitutes every variable syntax', () => {
      expect(substituteVariables('a{job=~"${job}",instance=~"[[instance]]",s=~"${stream_id:regex}"}[$__rate_interval] $__interval_ms')).toBe(
        'a{job=~".*",instance=~".*",s=~".*"}[1m] 15000',
      );
      expect(() => substituteVariables('x{a="$nope"}')).toThrow(/unknown template variable/);
      const { dir, cleanup } = scratchDir();
      try {
        const file = join(dir, 'd.json');
        const nested = {
          panels: [
            {
              type: 'row',
              title: 'R',
              collapsed: true,
              panels: [
                {
                  title: 'P',
                  description: 'x (empty when healthy)',
                  targets: [
                    { refId: 'A', expr: 'up{job=~"$job"}' },
                    { refId: 'B', expr: 'y', hide: true },
                  ],
                },
              ],
            },
          ],
        };
        writeFileSync(file, JSON.stringify(nested));
        expect(dashboardQueries(file)).toEqual([{ panel: 'R / P [A]', expr: 'up{job=~".*"}', allowEmpty: true }]);
      } finally {
        cleanup();
      }
    });

    it('yields expressions that parse (promtool check rules)', () => {
      expect(queries.length).toBeGreaterThan(15);
      const r = checkExpressions(queries.map((q) => q.expr));
      expect(r.output).toContain('SUCCESS');
      expect(r.status, r.output).toBe(0);
    });

    it('fails the parse check on a broken expression', () => {
      const r = checkExpressions(['sum(rate(zego_exporter_api_requests_total[1m])']);
      expect(r.status).not.toBe(0);
    });
  });
});

describe('grafana/provisioning', () => {
  const read = (p: string): unknown => parse(readFileSync(join(root, 'grafana', 'provisioning', p), 'utf8'));

  it('provides a file dashboard provider', () => {
    const doc = read('dashboards/zego.yaml') as { apiVersion: number; providers: { type: string; options: { path: string } }[] };
    expect(doc.apiVersion).toBe(1);
    expect(doc.providers[0]?.type).toBe('file');
    expect(doc.providers[0]?.options.path).toBe('/var/lib/grafana/dashboards/zego');
  });

  it('provides the Prometheus data source with uid prometheus', () => {
    const doc = read('datasources/prometheus.yaml') as { datasources: { uid: string; type: string; url: string }[] };
    expect(doc.datasources[0]).toMatchObject({ uid: 'prometheus', type: 'prometheus', url: 'http://prometheus:9090' });
  });

  it('provides the key-stream-down Grafana alert rule with a valid query', () => {
    interface Query {
      refId: string;
      datasourceUid: string;
      model: { expr?: string; type?: string; expression?: string };
    }
    interface Rule {
      title: string;
      condition: string;
      for: string;
      data: Query[];
      labels: Record<string, string>;
      annotations: Record<string, string>;
    }
    const doc = read('alerting/zego-alerts.yaml') as { apiVersion: number; groups: { name: string; rules: Rule[] }[] };
    expect(doc.apiVersion).toBe(1);
    const rule = doc.groups.flatMap((g) => g.rules).find((r) => r.title === 'ZegoKeyStreamDown');
    if (!rule) throw new Error('no ZegoKeyStreamDown rule');
    expect(rule.for).toBe('1m');
    expect(rule.labels.severity).toBe('critical');
    expect(Object.keys(rule.annotations).sort()).toEqual(['description', 'runbook_url', 'summary']);
    expect(rule.annotations.runbook_url).toMatch(/\/docs\/runbook\.md#zegokeystreamdown$/);
    expect(readFileSync(join(root, 'docs', 'runbook.md'), 'utf8')).toMatch(/^## ZegoKeyStreamDown$/m);
    const refs = new Map(rule.data.map((d) => [d.refId, d]));
    expect(refs.has(rule.condition)).toBe(true);
    const prom = rule.data.filter((d) => d.datasourceUid !== '__expr__');
    expect(prom.length).toBeGreaterThan(0);
    for (const d of prom) expect(d.datasourceUid).toBe('prometheus');
    // Each expression step refers to an existing step.
    for (const d of rule.data.filter((x) => x.datasourceUid === '__expr__')) {
      expect(refs.has(d.model.expression ?? ''), d.refId).toBe(true);
    }
    const exprs = prom.map((d) => d.model.expr ?? '');
    expect(exprs.join()).toContain('severity="critical"');
    // The same agreement across replicas as the Prometheus rule: its expression, less the `== 0`
    // that the threshold step C does here.
    const rules = parse(readFileSync(join(root, 'alerts', 'zego-alerts.yaml'), 'utf8')) as { groups: { rules: { alert?: string; expr: string }[] }[] };
    const promRule = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === 'ZegoKeyStreamDown');
    const norm = (e: string): string => e.replace(/\s+/g, ' ').trim();
    expect(exprs).toHaveLength(1);
    expect(`${norm(exprs[0] ?? '')} == 0`).toBe(norm(promRule?.expr ?? ''));
    expect(JSON.stringify(rule.annotations)).not.toContain('$labels.instance');
    const r = checkExpressions(exprs);
    expect(r.status, r.output).toBe(0);
  });
});
