import { readFileSync } from 'node:fs';

/** One PromQL query of a Grafana dashboard, with its template variables replaced. */
export interface DashboardQuery {
  /** Panel title (nested rows: "Row title / Panel title"), plus the target's refId. */
  panel: string;
  /** The expression, ready to send to a test Prometheus. */
  expr: string;
  /** True when the panel's description says "(empty when healthy)": no data is a valid answer. */
  allowEmpty: boolean;
}

/** Marker a panel's description carries when its queries legitimately return nothing. */
const ALLOW_EMPTY_MARKER = '(empty when healthy)';

/**
 * Values for the dashboard's variables and Grafana's built-ins, chosen for a short-lived test
 * Prometheus: every label regex matches everything, windows are short enough to hold data soon
 * after start but cover ≥ 2 scrapes at a 15 s scrape interval.
 */
const TEST_VARIABLES: Readonly<Record<string, string>> = {
  job: '.*',
  instance: '.*',
  stream_id: '.*',
  datasource: 'prometheus',
  __rate_interval: '1m',
  __interval: '15s',
  __interval_ms: '15000',
  __range: '5m',
  __range_s: '300',
  __range_ms: '300000',
};

interface Target {
  expr?: unknown;
  refId?: unknown;
  hide?: unknown;
}

interface Panel {
  title?: unknown;
  description?: unknown;
  targets?: Target[];
  panels?: Panel[];
}

/**
 * Replaces `$var`, `${var}`, `${var:format}` and `[[var]]` with values from `vars`. Throws on a
 * variable it does not know, so a new variable cannot slip through unsubstituted.
 */
export function substituteVariables(expr: string, vars: Readonly<Record<string, string>> = TEST_VARIABLES): string {
  return expr.replace(/\$\{(\w+)(?::[\w-]+)?\}|\[\[(\w+)(?::[\w-]+)?\]\]|\$(\w+)/g, (match, a?: string, b?: string, c?: string) => {
    const name = a ?? b ?? c ?? '';
    const value = vars[name];
    if (value === undefined) throw new Error(`unknown template variable ${match} in: ${expr}`);
    return value;
  });
}

function walk(panels: Panel[], prefix: string, out: DashboardQuery[], vars: Readonly<Record<string, string>>): void {
  for (const p of panels) {
    const title = typeof p.title === 'string' && p.title !== '' ? p.title : '(untitled)';
    const allowEmpty = typeof p.description === 'string' && p.description.includes(ALLOW_EMPTY_MARKER);
    for (const t of p.targets ?? []) {
      if (t.hide === true || typeof t.expr !== 'string' || t.expr.trim() === '') continue;
      const ref = typeof t.refId === 'string' ? ` [${t.refId}]` : '';
      out.push({ panel: `${prefix}${title}${ref}`, expr: substituteVariables(t.expr, vars), allowEmpty });
    }
    // Collapsed rows keep their panels inside the row.
    if (Array.isArray(p.panels) && p.panels.length > 0) walk(p.panels, `${prefix}${title} / `, out, vars);
  }
}

/** Every query of the dashboard at `file`, variables substituted for a test Prometheus. */
export function dashboardQueries(file: string, vars: Readonly<Record<string, string>> = TEST_VARIABLES): DashboardQuery[] {
  const dashboard = JSON.parse(readFileSync(file, 'utf8')) as { panels?: Panel[] };
  const out: DashboardQuery[] = [];
  walk(dashboard.panels ?? [], '', out, vars);
  return out;
}
