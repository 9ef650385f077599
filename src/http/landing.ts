import type { StreamOrigin, StreamRecord } from '../state/store.js';

/** The landing page: what a person checking the exporter by hand wants, and nothing secret. */
export interface LandingView {
  version: string;
  startedAt: Date;
  endpoint: string;
  appId: number;
  isTest: boolean;
  rateLimit: number;
  achievableRefreshSec: number;
  /** The first streams (landingRows()); all of them are on /metrics. */
  rows: LandingRow[];
  totalStreams: number;
  /** One line per optional feature that has something to say (plain text). */
  notes?: readonly string[];
  /** Tables the parts contribute (the watched rooms), after the streams'; bounded like it. */
  tables?: readonly LandingTable[];
}

/** A part's table on the landing page: plain-text cells, escaped and cut there. */
export interface LandingTable {
  title: string;
  columns: readonly string[];
  /** At most LANDING_ROWS, each as many cells as columns. */
  rows: readonly (readonly string[])[];
  /** How many there are in all (the title's count, and "showing n of total"). */
  total: number;
}

/** A page a browser still renders at once; every stream is on /metrics anyway. */
export const LANDING_ROWS = 1000;

export interface LandingRow {
  id: string;
  state: 'active' | 'closed' | 'not found' | 'unknown';
  uptimeSec: number | null;
  probe: 'ok' | 'failing' | 'pending';
  lastProbeAgoSec: number | null;
  labels: Readonly<Record<string, string>>;
  lastError: string | null;
  /** Why it is watched: config, room or callback. */
  source: StreamOrigin;
}

export function landingRows(streams: Iterable<Readonly<StreamRecord>>, nowMs: number, limit = LANDING_ROWS): LandingRow[] {
  const rows: LandingRow[] = [];
  for (const s of streams) {
    if (rows.length >= limit) break;
    rows.push({
      id: s.id,
      state: s.active === null ? 'unknown' : s.active ? 'active' : s.notFound ? 'not found' : 'closed',
      uptimeSec: s.active && s.createTimeSec !== null ? Math.max(0, nowMs / 1000 - s.createTimeSec) : null,
      probe: s.probeSuccess === null ? 'pending' : s.probeSuccess ? 'ok' : 'failing',
      lastProbeAgoSec: s.lastProbeMs === null ? null : (nowMs - s.lastProbeMs) / 1000,
      labels: s.labels,
      lastError: s.lastError,
      source: s.origin,
    });
  }
  return rows;
}

// Bounded whatever the rows hold: an API Message can be 64 KB and label values come from config,
// so each cell is cut and each table stops at a row count and a byte size (all is in /metrics).
const MAX_ROWS = 1000;
const MAX_ERROR_CHARS = 256;
const MAX_LABELS_CHARS = 512;
const MAX_CELL_CHARS = 256;
const MAX_TABLE_BYTES = 1024 * 1024;

const cut = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max)}…` : s);

/** `k=v, …`, cut: how the landing page shows a set of labels. */
export function labelText(labels: Readonly<Record<string, string>>): string {
  return cut(
    Object.entries(labels)
      .map(([k, val]) => `${k}=${val}`)
      .join(', '),
    MAX_LABELS_CHARS,
  );
}

/** Rows (already rendered) until the row or byte cap. */
function bounded(rows: Iterable<string>): string[] {
  const out: string[] = [];
  let bytes = 0;
  for (const row of rows) {
    if (out.length >= MAX_ROWS) break;
    bytes += Buffer.byteLength(row) + 1;
    if (bytes > MAX_TABLE_BYTES) break;
    out.push(row);
  }
  return out;
}

function* streamRows(rows: readonly LandingRow[]): Generator<string> {
  for (const r of rows) {
    yield (
      `<tr class="${r.state.replace(' ', '-')}"><td>${esc(r.id)}</td><td>${r.state}</td><td>${r.uptimeSec === null ? '' : fmtSec(r.uptimeSec)}</td>` +
      `<td>${r.probe}${r.lastError ? ` <small>${esc(cut(r.lastError, MAX_ERROR_CHARS))}</small>` : ''}</td><td>${r.lastProbeAgoSec === null ? 'never' : `${fmtSec(r.lastProbeAgoSec)} ago`}</td>` +
      `<td>${r.source}</td><td>${esc(labelText(r.labels))}</td></tr>`
    );
  }
}

function* tableRows(t: LandingTable): Generator<string> {
  for (const r of t.rows) yield `<tr>${t.columns.map((_, i) => `<td>${esc(cut(r[i] ?? '', MAX_CELL_CHARS))}</td>`).join('')}</tr>`;
}

function renderTable(t: LandingTable): string {
  const rendered = bounded(tableRows(t));
  const more = t.total > rendered.length ? `<p>Showing ${rendered.length} of ${t.total}; all are in <a href="metrics">/metrics</a>.</p>` : '';
  return (
    `<h2>${esc(t.title)} (${t.total})</h2>\n<table><thead><tr>${t.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead>\n<tbody>\n` +
    `${rendered.join('\n')}\n</tbody></table>${more}\n`
  );
}

export function renderLanding(v: LandingView): string {
  const rendered = bounded(streamRows(v.rows));
  const rows = rendered.join('\n');
  const shown = rendered.length;
  const notes = (v.notes ?? []).map((n) => `<p>${esc(n)}</p>\n`).join('');
  const more = v.totalStreams > shown ? `<p>Showing ${shown} of ${v.totalStreams} streams; all are in <a href="metrics">/metrics</a>.</p>` : '';
  const tables = (v.tables ?? []).map(renderTable).join('');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>ZEGOCLOUD Stream Exporter</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}
tr.active td:nth-child(2){color:#070}tr.closed td:nth-child(2),tr.not-found td:nth-child(2){color:#b00}small{color:#777}</style></head>
<body><h1>ZEGOCLOUD Stream Exporter</h1>
<p>Version ${esc(v.version)}, up since ${v.startedAt.toISOString()}. AppID ${v.appId}${v.isTest ? ' (test environment)' : ''} at ${esc(v.endpoint)};
budget ${v.rateLimit} calls/s; slowest refresh ${fmtSec(v.achievableRefreshSec)}.</p>
${notes}<p><a href="metrics">Metrics</a> · <a href="-/healthy">Health</a> · <a href="-/ready">Readiness</a></p>
<h2>Streams (${v.totalStreams})</h2>
<table><thead><tr><th>Stream</th><th>State</th><th>Uptime</th><th>Last probe</th><th>Age</th><th>Source</th><th>Labels</th></tr></thead>
<tbody>
${rows}
</tbody></table>${more}
${tables}</body></html>
`;
}

function fmtSec(s: number): string {
  if (!Number.isFinite(s)) return '∞';
  if (s < 60) return `${Math.round(s * 10) / 10}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${Math.round(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
