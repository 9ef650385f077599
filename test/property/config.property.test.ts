import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig, type LoadResult } from '../../src/config/load.js';

const SECRET = '9193cc662a4c0ec135ec71fb57194b38';
const opts = {
  env: { S: SECRET },
  baseDir: '/nonexistent',
  readFile: (): string => {
    throw new Error('no such file');
  },
};

const VALID = {
  zego: { app_id: 1234567890, server_secret: SECRET, endpoint: 'http://127.0.0.1:9', rate_limit: 20, timeout: '2s' },
  probe: { interval: '15s' },
  streams: ['a', { id: 'b', interval: '5s', labels: { team: 'x' } }],
};

/** Never throws; a rejection lists at least one error, each with a message and a place to look. */
function checkResult(r: LoadResult): void {
  if (r.ok) return;
  expect(r.errors.length).toBeGreaterThan(0);
  for (const e of r.errors) {
    expect(e.message.length).toBeGreaterThan(0);
    // A place: the key path, or for a YAML syntax error / empty file, the line (or the whole file).
    expect(e.path !== '' || e.line !== undefined || /empty|YAML|mapping|object/i.test(e.message)).toBe(true);
    expect(JSON.stringify(e)).not.toContain(SECRET);
  }
}

/** Sets `value` at a random path inside a copy of the valid config (adding keys on the way). */
function mutate(base: unknown, path: (string | number)[], value: unknown): unknown {
  const copy = structuredClone(base) as Record<string | number, unknown>;
  let node: Record<string | number, unknown> = copy;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i]!;
    const next = node[k];
    if (typeof next !== 'object' || next === null) node[k] = {};
    node = node[k] as Record<string | number, unknown>;
  }
  node[path[path.length - 1]!] = value;
  return copy;
}

const key = fc.constantFrom(
  'zego',
  'probe',
  'streams',
  'fleet',
  'app_id',
  'server_secret',
  'server_secret_file',
  'endpoint',
  'is_test',
  'rate_limit',
  'timeout',
  'interval',
  'id',
  'labels',
  'redis',
  0,
  1,
  'bogus',
  '',
);
const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, -1, 0, 1e308, 'NaN', '1h', '${S}', '${MISSING}', 'zegotest-1-x', '../x', 'http://', 'ftp://x'),
);

describe('config loader (property)', () => {
  it('any text: classified, never throws', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => checkResult(parseConfig(text, opts))),
      { numRuns: 1000 },
    );
  });

  it('any YAML document: classified, never throws', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (doc) => checkResult(parseConfig(stringify(doc), opts))),
      { numRuns: 500 },
    );
  });

  it('a valid config with one random change: accepted, or every error names the key it is about', () => {
    fc.assert(
      fc.property(fc.array(key, { minLength: 1, maxLength: 4 }), anyValue, (path, value) => {
        let text: string;
        try {
          text = stringify(mutate(VALID, path, value));
        } catch {
          return; // not representable as YAML (e.g. a key on an array); nothing to test
        }
        const r = parseConfig(text, opts);
        checkResult(r);
        // The key: its path, or for an unknown top-level key (whose parent path is the root), quoted.
        if (!r.ok) for (const e of r.errors) expect(e.path !== '' || /unknown key ".*"/.test(e.message), JSON.stringify(e)).toBe(true);
      }),
      { numRuns: 1500 },
    );
  });

  it('the unmodified config is accepted (the mutations above start from a valid one)', () => {
    expect(parseConfig(stringify(VALID), opts).ok).toBe(true);
  });
});
