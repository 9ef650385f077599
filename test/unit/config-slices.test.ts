import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig, type LoadResult } from '../../src/config/load.js';
import { streamsLayout } from '../../src/config/streams-layout.js';

/**
 * The loader reads a plain `streams:` list a slice of items at a time (load.ts) instead of as one
 * YAML document; it must give exactly what the whole-document parse gives, errors and their
 * line:column included, on every file.
 */
const DIR = fileURLToPath(new URL('../fixtures/config/', import.meta.url));
const ENV = { ZEGO_SERVER_SECRET: 's3cr3t-value-that-must-not-leak', ZEGO_CALLBACK_SECRET: '08712368712638712368712638712368', TEAM: 'broadcast' };
const HEAD = 'zego:\n  app_id: 4242\n  server_secret: "0123456789abcdef0123456789abcdef"\nstreams:\n';

function both(text: string, sliceItems?: number): { sliced: LoadResult; whole: LoadResult } {
  const opts = { env: ENV, baseDir: DIR };
  return { sliced: parseConfig(text, { ...opts, ...(sliceItems ? { sliceItems } : {}) }), whole: parseConfig(text, { ...opts, wholeDocument: true }) };
}

function items(n: number, item: (i: number) => string): string {
  return Array.from({ length: n }, (_, i) => item(i)).join('');
}

describe('the streams list read a slice at a time', () => {
  it('finds each item of a plain list, and where the list ends', () => {
    const text = `${HEAD}  - a\n  # a comment\n\n  - id: b\n    labels: { team: x }\n  - c\nprobe:\n  interval: 5s\n`;
    const l = streamsLayout(text);
    expect(l?.itemStarts.map((o) => text.slice(o, text.indexOf('\n', o)))).toEqual(['  - a', '  - id: b', '  - c']);
    expect(text.slice(l?.end)).toBe('probe:\n  interval: 5s\n');
    const flush = `${HEAD}- a\n- b\n`;
    expect(streamsLayout(flush)?.itemStarts).toHaveLength(2);
    expect(streamsLayout(flush)?.end).toBe(flush.length);
  });

  it('leaves any other shape to the whole-document parse', () => {
    expect(streamsLayout(`${HEAD.replace('streams:\n', 'streams: [a, b]\n')}`)).toBeNull();
    expect(streamsLayout(`${HEAD}  - a\nstreams:\n  - b\n`)).toBeNull();
    expect(streamsLayout(`${HEAD}  - a\n\t- b\n`)).toBeNull();
    expect(streamsLayout(`${HEAD}    - a\n  - b\n`)).toBeNull();
    expect(streamsLayout(`${HEAD}  a: b\n`)).toBeNull();
    expect(streamsLayout('zego:\n  app_id: 1\n')).toBeNull();
  });

  it('every config fixture gives the same result, errors and positions included', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThan(40);
    for (const f of files) {
      const { sliced, whole } = both(readFileSync(`${DIR}${f}`, 'utf8'));
      expect(sliced, f).toEqual(whole);
    }
  });

  it('a list of many slices: the same streams, errors after the first slice at their line:column, duplicates across slices', () => {
    const ok = `${HEAD}${items(2500, (i) => `  - id: s${i}\n    labels: { team: "\${TEAM}", n: "${i}" }\n`)}probe:\n  interval: 5s\n`;
    const r = both(ok);
    expect(r.sliced).toEqual(r.whole);
    expect(r.sliced.ok && r.sliced.config.streams.length).toBe(2500);
    expect(r.sliced.ok && r.sliced.config.streams[2499]).toEqual({ id: 's2499', intervalMs: 5000, labels: { team: 'broadcast', n: '2499' } });

    const bad = `${HEAD}${items(2500, (i) => (i === 1700 ? '  - bad.id\n' : i === 2200 ? '  - s3\n' : `  - s${i}\n`))}probe:\n  interval: 0s\n  nope: 1\n`;
    const b = both(bad);
    expect(b.sliced).toEqual(b.whole);
    expect(b.sliced.ok ? [] : b.sliced.errors.map((e) => `${e.line}:${e.col} ${e.path}`)).toEqual([
      '2507:3 probe.nope',
      '2506:13 probe.interval',
      '1705:5 streams[1700]',
      '2205:5 streams[2200]',
    ]);
    expect(b.sliced.ok ? '' : b.sliced.errors[3]!.message).toBe('duplicate stream id "s3" (first listed at line 8)');
  });

  it('any list of entries, in slices of 1 to 4 items: the same result as the whole document (property)', () => {
    // Entries of every shape the list can hold, good and bad: plain ids, objects, flow mappings,
    // comments and blank lines between, block scalars, nested lists, duplicates, env references,
    // quoted ids spanning lines, a dedented key, aliases and anchors.
    const entry = fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom('a', 'b', 'c-1', 'bad.id', '"quoted"', "'single'", '""', '~', '42', '{ id: fm, labels: { team: z } }') },
      {
        weight: 4,
        arbitrary: fc.constantFrom(
          'id: o1\n    interval: 5s',
          'id: o2\n    labels: { severity: Critical }',
          'id: o3\n    nope: 1',
          'id: "${TEAM}"',
          'id: o4\n    labels:\n      team: "${MISSING}"',
        ),
      },
      { weight: 1, arbitrary: fc.constantFrom('[x, y]', '&anc d', '*anc', '|\n    block', '- nested', '"multi\n  line"', 'id: o5\n   labels: { a: b }') },
    );
    const gap = fc.constantFrom('', '', '', '', '', '  # note\n', '\n', '# top comment\n');
    const tail = fc.constantFrom('', '', '', 'probe:\n  interval: 0s\n', 'probe:\n  interval: 5s\nfleet: {}\n', 'streams:\n  - dup\n', 'probe: [\n');
    const indent = fc.constantFrom('  ', '', '    ');
    fc.assert(
      fc.property(fc.array(fc.tuple(gap, entry), { minLength: 0, maxLength: 12 }), tail, indent, fc.integer({ min: 1, max: 4 }), (items, end, ind, per) => {
        const text = HEAD + items.map(([g, e]) => `${g}${ind}- ${e.replace(/\n {4}/g, `\n${ind}  `)}\n`).join('') + end;
        const r = both(text, per);
        expect(r.sliced).toEqual(r.whole);
      }),
      { numRuns: 400 },
    );
  });

  it('what a slice cannot read alone (an alias to an earlier slice, a YAML error, a key repeated) is read whole, with the same result', () => {
    const alias = `${HEAD}  - id: s0\n    labels: &l { team: a }\n${items(1500, (i) => `  - id: s${i + 1}\n    labels: *l\n`)}`;
    // The reader takes no aliases: the whole parse reads *l as no mapping; the slice holding it cannot even resolve it.
    for (const text of [alias, `${HEAD}${items(1500, (i) => `  - s${i}\n`)}  - [unclosed\n`, `${HEAD}${items(1200, (i) => `  - s${i}\n`)}zego: {}\n`]) {
      const r = both(text);
      expect(r.sliced.ok).toBe(false);
      expect(r.sliced).toEqual(r.whole);
    }
  });
});
