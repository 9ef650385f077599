import { pino, type Logger } from 'pino';
import { Discovered, type Labels } from '../../src/discovery/discovered.js';
import type { DiscoverySource, SourceSettings } from '../../src/discovery/sources.js';

/**
 * One kind's Discovered over a stand-in for the core: what is watched (with whose labels), and each
 * watched thing's end time, which the test sets (`end`, `revive`) as the store would on a close or
 * a come-back. Counts the hook calls, so a test can tell O(1) from a pass over everything.
 */
export interface Harness {
  d: Discovered;
  /** Discovered things watched and the labels and source they are watched with (listed ones are the config's, not here after a reload). */
  watching: Map<string, { labels: Labels; source: DiscoverySource }>;
  /** End time per watched thing (absent or null: active). */
  ended: Map<string, number | null>;
  calls: { watch: number; unwatch: number; endedAt: number };
  logs: { msg: string; [k: string]: unknown }[];
  settings: Record<DiscoverySource, SourceSettings | null>;
  listed: Set<string>;
  end(id: string, at: number): void;
  revive(id: string): void;
  /** Applies `settings` and `listed` as a reload would. */
  configure(): void;
}

export function harness(settings: Partial<Record<DiscoverySource, SourceSettings | null>>, listed: Iterable<string> = []): Harness {
  const logs: Harness['logs'] = [];
  const logger: Logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Harness['logs'][number]) });
  const watching: Harness['watching'] = new Map();
  const ended: Harness['ended'] = new Map();
  const calls = { watch: 0, unwatch: 0, endedAt: 0 };
  const d = new Discovered({
    hooks: {
      watch: (id, labels, source) => {
        calls.watch++;
        watching.set(id, { labels, source });
      },
      unwatch: (id) => {
        calls.unwatch++;
        watching.delete(id);
        // The store forgets what it no longer watches: found again, it starts unknown.
        ended.delete(id);
      },
      endedAt: (id) => {
        calls.endedAt++;
        return ended.get(id) ?? null;
      },
    },
    sources: [
      { name: 'room', capKey: 'probe.max_room_streams' },
      { name: 'callback', capKey: 'callbacks.discover.max_streams' },
    ],
    logger,
    idField: 'stream_id',
    noun: 'stream',
  });
  const h: Harness = {
    d,
    watching,
    ended,
    calls,
    logs,
    settings: { room: null, callback: null, mix_callback: null, output: null, ...settings },
    listed: new Set(listed),
    end: (id, at) => {
      ended.set(id, at);
      d.observe(id);
    },
    revive: (id) => {
      ended.set(id, null);
      d.observe(id);
    },
    configure: () => {
      d.configure(new Set(h.listed), (s) => h.settings[s]);
      // The Exporter's watched set afresh after a reload: what discovery holds (listed ids are the config's).
      watching.clear();
      for (const w of d.watched()) watching.set(w.id, { labels: w.labels, source: w.source });
      for (const id of ended.keys()) if (!watching.has(id) && !h.listed.has(id)) ended.delete(id);
    },
  };
  h.configure();
  return h;
}
