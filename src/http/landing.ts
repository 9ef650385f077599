import type { StreamState } from '../state/store.js';

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
}

export function landingRows(streams: Iterable<Readonly<StreamState>>, nowMs: number, limit = LANDING_ROWS): LandingRow[] {
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
    });
  }
  return rows;
}

export function renderLanding(v: LandingView): string {
  const rows = v.rows
    .map(
      (r) =>
        `<tr class="${r.state.replace(' ', '-')}"><td>${esc(r.id)}</td><td>${r.state}</td><td>${r.uptimeSec === null ? '' : fmtSec(r.uptimeSec)}</td>` +
        `<td>${r.probe}${r.lastError ? ` <small>${esc(r.lastError)}</small>` : ''}</td><td>${r.lastProbeAgoSec === null ? 'never' : `${fmtSec(r.lastProbeAgoSec)} ago`}</td>` +
        `<td>${esc(Object.entries(r.labels).map(([k, val]) => `${k}=${val}`).join(', '))}</td></tr>`,
    )
    .join('\n');
  const notes = (v.notes ?? []).map((n) => `<p>${esc(n)}</p>\n`).join('');
  const more = v.totalStreams > v.rows.length ? `<p>Showing ${v.rows.length} of ${v.totalStreams} streams; all are in <a href="metrics">/metrics</a>.</p>` : '';
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>ZEGOCLOUD Stream Exporter</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}
tr.active td:nth-child(2){color:#070}tr.closed td:nth-child(2),tr.not-found td:nth-child(2){color:#b00}small{color:#777}</style></head>
<body><h1>ZEGOCLOUD Stream Exporter</h1>
<p>Version ${esc(v.version)}, up since ${v.startedAt.toISOString()}. AppID ${v.appId}${v.isTest ? ' (test environment)' : ''} at ${esc(v.endpoint)};
budget ${v.rateLimit} calls/s; slowest refresh ${fmtSec(v.achievableRefreshSec)}.</p>
${notes}<p><a href="metrics">Metrics</a> · <a href="-/healthy">Health</a> · <a href="-/ready">Readiness</a></p>
<h2>Streams (${v.totalStreams})</h2>
<table><thead><tr><th>Stream</th><th>State</th><th>Uptime</th><th>Last probe</th><th>Age</th><th>Labels</th></tr></thead>
<tbody>
${rows}
</tbody></table>${more}
</body></html>
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
