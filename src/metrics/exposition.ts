/**
 * Writes metric families in the Prometheus text format 0.0.4 or OpenMetrics 1.0.0, chosen by the
 * scrape's Accept header. One writer serves the per-stream families (rendered straight from the
 * state snapshot) and prom-client's own metrics (from its JSON): prom-client's registry renames
 * counters in place when it renders OpenMetrics, so it cannot serve both formats from one registry.
 */
export type Format = 'text' | 'openmetrics';

export const CONTENT_TYPES: Record<Format, string> = {
  text: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

export type MetricType = 'gauge' | 'counter' | 'histogram' | 'summary' | 'untyped';

/** OpenMetrics only when the scraper asks for it, as Prometheus does when it can parse it. */
export function negotiate(accept: string | undefined): Format {
  return accept !== undefined && /application\/openmetrics-text/i.test(accept) ? 'openmetrics' : 'text';
}

function escapeLabelValue(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v;
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** `{a="x",b="y"}` in the given order, or '' for no labels. */
export function formatLabels(labels: Readonly<Record<string, string | number>>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(labels)) parts.push(`${k}="${escapeLabelValue(String(v))}"`);
  return parts.length > 0 ? `{${parts.join(',')}}` : '';
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

/** The family's HELP and TYPE lines; counters lose `_total` in OpenMetrics' family name. */
export function familyHeader(name: string, help: string, type: MetricType, format: Format): string {
  const family = format === 'openmetrics' && type === 'counter' ? name.replace(/_total$/, '') : name;
  const omType = format === 'openmetrics' && type === 'untyped' ? 'unknown' : type;
  return `# HELP ${family} ${escapeHelp(help)}\n# TYPE ${family} ${omType}\n`;
}

/** A counter sample's name: always `_total` in OpenMetrics, as named in the text format. */
export function sampleName(name: string, type: MetricType, format: Format): string {
  return format === 'openmetrics' && type === 'counter' && !name.endsWith('_total') ? `${name}_total` : name;
}

export function trailer(format: Format): string {
  return format === 'openmetrics' ? '# EOF\n' : '';
}
