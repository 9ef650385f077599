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

/** Every scalar key of the config, so that each conversion (number, bool, duration, URL, id) is tried. */
const SCALAR_KEYS = fc.constantFrom<(string | number)[]>(
  ['zego', 'app_id'],
  ['zego', 'rate_limit'],
  ['zego', 'timeout'],
  ['zego', 'is_test'],
  ['zego', 'endpoint'],
  ['probe', 'interval'],
  ['streams', 0],
  ['streams', 1, 'id'],
  ['streams', 1, 'interval'],
  ['streams', 1, 'labels', 'severity'],
  ['fleet', 'redis_url'],
  ['fleet', 'fallback_rate_limit'],
  ['fleet', 'share_results'],
  ['callbacks', 'listen_address'],
  ['callbacks', 'path'],
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

  it('a secret from ${VAR} under any key never shows in an error, as written or as the number it converts to', () => {
    // Secrets of the shapes that convert: digits (with leading zeros), exponents, signs, spaces.
    const secret = fc
      .stringMatching(/^[ 0-9.eE+-]{8,40}$/)
      .filter((x) => x.trim().length >= 8)
      .chain((x) => fc.constantFrom(x, `0${x.replace(/\D/g, '')}1`));
    fc.assert(
      fc.property(
        fc.oneof(SCALAR_KEYS, fc.array(key, { minLength: 1, maxLength: 3 })),
        secret,
        fc.constantFrom('${V}', '${V}', 'x${V}', '${V}!'),
        (path, v, written) => {
          let text: string;
          try {
            text = stringify(mutate(VALID, path, written));
          } catch {
            return;
          }
          const r = parseConfig(text, { ...opts, env: { S: SECRET, V: v } });
          if (r.ok) return;
          const shown = JSON.stringify(r.errors);
          const n = Number(v.trim());
          for (const leak of [v, v.trim(), ...(Number.isFinite(n) && String(n).length >= 8 ? [String(n)] : [])]) expect(shown).not.toContain(leak);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('the unmodified config is accepted (the mutations above start from a valid one)', () => {
    expect(parseConfig(stringify(VALID), opts).ok).toBe(true);
  });
});
