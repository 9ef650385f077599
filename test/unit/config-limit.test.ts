import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigIsolated } from '../../src/config/isolated.js';
import { parseConfig, streamsLimitText } from '../../src/config/load.js';

/**
 * How many streams a config file may list (load.ts's MAX_CONFIG_STREAMS), the same for
 * --config.check, a start and a reload: all three load through loadConfigIsolated, the worker
 * with its heap limit. The real limit, both ways, through the CLI and a start: the integration
 * tier's config-limit.test.ts (100 000 streams take seconds to parse).
 */
const HEAD = 'zego:\n  app_id: 4242\n  server_secret: "0123456789abcdef0123456789abcdef"\nstreams:\n';
const dir = mkdtempSync(join(tmpdir(), 'zego-limit-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** n streams as operators list many: objects with a label each. */
function configText(n: number): string {
  const items: string[] = [];
  for (let i = 0; i < n; i++) items.push(`  - id: stream-${String(i).padStart(6, '0')}\n    labels: { team: t${i % 7} }\n`);
  return HEAD + items.join('');
}

function file(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

describe('streams a config file may list', () => {
  it('the limit and the one over it, with the error at the streams list in the limit’s words', () => {
    const opts = { env: {}, baseDir: dir, maxStreams: 5 };
    const at = parseConfig(HEAD + '  - a\n  - b\n  - c\n  - d\n  - e\n', opts);
    expect(at.ok && at.config.streams.map((s) => s.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    const over = parseConfig(HEAD + '  - a\n  - b\n  - c\n  - d\n  - e\n  - f\n', opts);
    expect(over.ok).toBe(false);
    if (over.ok) return;
    expect(over.errors).toEqual([{ path: 'streams', line: 5, col: 3, message: `lists 6 streams: ${streamsLimitText(5)}` }]);
    expect(over.errors[0]!.message).toBe(
      'lists 6 streams: a config file may list at most 5 streams (docs/limits.md); watch more by discovery (callbacks.discover, rooms)',
    );
  });

  it('100 000 streams load in a 48 MB heap: the list is read a slice at a time (parsed whole it needs some 300 MB)', async () => {
    const items: string[] = [];
    for (let i = 0; i < 100_000; i++) items.push(`  - room-${String(i % 5000).padStart(5, '0')}-user-${String(i).padStart(7, '0')}-main\n`);
    const r = await loadConfigIsolated(file('100k.yaml', HEAD + items.join('')), {}, { maxHeapMb: 48, timeoutMs: 120_000 });
    expect(r.ok && r.config.streams.length).toBe(100_000);
    expect(r.ok && r.config.streams[99_999]).toEqual({ id: 'room-04999-user-0099999-main', intervalMs: 15_000, labels: {} });
  }, 120_000);

  it('a load that runs out of the worker’s heap says so, with the limit, and the process goes on', async () => {
    const r = await loadConfigIsolated(file('big.yaml', configText(5000)), {}, { maxHeapMb: 8, timeoutMs: 60_000 });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]!.message).toBe(
      `config loader failed: the file has too many entries to load: ${streamsLimitText()} (it ran out of the loader's 8 MB heap)`,
    );
  }, 60_000);
});
