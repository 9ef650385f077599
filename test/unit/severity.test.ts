import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runConfigCheck } from '../../src/cli.js';
import { parseConfig } from '../../src/config/load.js';
import { KNOWN_SEVERITIES } from '../../src/config/sections/streams.js';
import { writeTemp } from '../helpers/exporter-process.js';

interface Rule {
  alert?: string;
  expr: string;
  labels?: Record<string, string>;
}

const RULES = parse(readFileSync(new URL('../../alerts/zego-alerts.yaml', import.meta.url), 'utf8')) as { groups: { rules: Rule[] }[] };
const MATCHER = /\bseverity\s*(=~|!~|!=|=)\s*"([^"]*)"/g;

/**
 * The stream severities the shipped rules know: every value their expressions match the stream's
 * `severity` label against, plus the severity a rule that matches "anything else" (a negative
 * matcher) gives its alert, since that is what every other value means.
 */
function severitiesTheRulesSelectOn(): Set<string> {
  const out = new Set<string>();
  for (const rule of RULES.groups.flatMap((g) => g.rules)) {
    let negative = false;
    for (const [, op, value] of rule.expr.matchAll(MATCHER)) {
      for (const v of value!.split('|')) out.add(v);
      if (op!.startsWith('!')) negative = true;
    }
    if (negative && rule.labels?.['severity']) out.add(rule.labels['severity']);
  }
  return out;
}

const BASE = `zego:\n  app_id: 1234567890\n  server_secret: \${ZEGO_SERVER_SECRET}\n`;
const ENV = { ZEGO_SERVER_SECRET: 's3cr3t', SEV: 'pager' };
const parseText = (text: string) => parseConfig(text, { env: ENV, baseDir: '/nonexistent' });

describe('stream severity', () => {
  it('knows exactly the severities alerts/zego-alerts.yaml selects on', () => {
    const fromRules = severitiesTheRulesSelectOn();
    expect(fromRules.size).toBeGreaterThan(0);
    expect([...KNOWN_SEVERITIES].sort()).toEqual([...fromRules].sort());
  });

  it('accepts every known value without a warning', () => {
    const r = parseText(`${BASE}streams:\n${KNOWN_SEVERITIES.map((s) => `  - id: s-${s}\n    labels: { severity: ${s} }`).join('\n')}\n`);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.warnings).toEqual([]);
  });

  it('warns about an unknown value, naming the stream and line:col, and keeps the config valid', () => {
    const r = parseText(
      `${BASE}streams:\n  - live-a\n  - id: live-b\n    labels: { team: x, severity: page }\n  - id: live-c\n    labels: { severity: '\${SEV}' }\n`,
    );
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.config.streams.map((s) => s.labels['severity'])).toEqual([undefined, 'page', 'pager']);
    expect(r.warnings).toEqual([
      {
        path: 'streams[1].labels.severity',
        line: 7,
        col: 34,
        message:
          'stream "live-b": severity "page" is not one the shipped alert rules know (critical, warning, none); this stream alerts like "warning" (docs/configuration.md#streams)',
      },
      {
        path: 'streams[2].labels.severity',
        line: 9,
        col: 25,
        // A value from the environment is shown as written.
        message:
          'stream "live-c": severity "${SEV}" is not one the shipped alert rules know (critical, warning, none); this stream alerts like "warning" (docs/configuration.md#streams)',
      },
    ]);
  });

  it('--config.check prints the warning with file:line:col and still says OK', async () => {
    const file = writeTemp('config.yaml', `${BASE}streams:\n  - id: live-b\n    labels: { severity: Page }\n`);
    const out: string[] = [];
    expect(await runConfigCheck(file, ENV, (l) => out.push(l))).toBe(0);
    expect(out[0]).toBe(
      `${file}:6:25: streams[0].labels.severity: warning: stream "live-b": severity "Page" is not one the shipped alert rules know (critical, warning, none); this stream alerts like "warning" (docs/configuration.md#streams)`,
    );
    expect(out[1]).toBe(`${file}: OK (1 warning)`);
  });
});

describe('streams_severity: the severity of discovered streams', () => {
  const CB = `callbacks:\n  secret: cb\n  discover:\n    patterns: ['live-*']\n`;

  it('defaults to none on every room and on callback discovery, and takes every known value', () => {
    const r = parseText(`${BASE}rooms:\n  - lobby\n  - id: show\n    labels: { severity: critical }\n${CB}`);
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.config.rooms?.map((x) => x.streamsSeverity)).toEqual(['none', 'none']);
    expect(r.config.callbacks?.discover?.streamsSeverity).toBe('none');
    for (const sev of KNOWN_SEVERITIES) {
      const t = parseText(`${BASE}rooms:\n  - id: show\n    streams_severity: ${sev}\n${CB}    streams_severity: ${sev}\n`);
      if (!t.ok) throw new Error(JSON.stringify(t.errors));
      expect(t.warnings).toEqual([]);
      expect(t.config.rooms?.[0]?.streamsSeverity).toBe(sev);
      expect(t.config.callbacks?.discover?.streamsSeverity).toBe(sev);
    }
  });

  it('--config.check warns about an unknown value with file:line:col and still says OK', async () => {
    const file = writeTemp('config.yaml', `${BASE}rooms:\n  - id: show\n    streams_severity: page\n`);
    const out: string[] = [];
    expect(await runConfigCheck(file, ENV, (l) => out.push(l))).toBe(0);
    expect(out[0]).toBe(
      `${file}:6:23: rooms[0].streams_severity: warning: streams found in room "show": severity "page" is not one the shipped alert rules know (critical, warning, none); those streams alert like "warning" (docs/configuration.md#streams)`,
    );
    expect(out).toContain(`${file}: OK (1 warning)`);
  });
});
