import type { Logger } from 'pino';
import type { Config } from '../../src/config/types.js';
import { DiscoveryService } from '../../src/discovery/service.js';
import type { PartContext } from '../../src/parts/part.js';
import { StateStore, type WatchedStream } from '../../src/state/store.js';
import type { MixEvents } from '../../src/state/mix-events.js';

/** A store and the real discovery service, wired as the Exporter wires them (without probing). */
export interface Discovering {
  store: StateStore;
  discovery: DiscoveryService;
  /** The discovery members of a PartContext, plus the store. */
  ctx: Pick<PartContext, 'store' | 'discover' | 'forget' | 'discovered'>;
  /** What the Exporter does around a part's applyConfig: discovery first, the part (`apply`), then the watched set afresh. */
  reload(config: Config, apply: () => void): void;
  /** The watched set as the Exporter computes it: the config's streams, then what was discovered. */
  rewatch(): void;
  /** What is watched because of discovery, as the Exporter watches it. */
  watched(): WatchedStream[];
}

/** `mix`: the core's mix hand-off, whose watcher (a mix part) the mix_task kind's discoveries reach, as in the Exporter. */
export function discovering(config: Config, logger: Logger, now: () => number = Date.now, mix?: MixEvents): Discovering {
  let cfg = config;
  // Called back only once the service exists (as in the Exporter, no observation comes before).
  const store: StateStore = new StateStore({ logger, now, onChange: (s) => d.observe('stream', s.id) });
  const d: DiscoveryService = new DiscoveryService({
    config,
    logger,
    now,
    hooks: {
      ...(mix ? { mix_task: mix.hooks } : {}),
      stream: {
        watch: (id, labels, source) => store.add({ id, intervalMs: cfg.probe.intervalMs, labels, origin: source }),
        unwatch: (id) => store.remove(id),
        endedAt: (id) => {
          const s = store.get(id);
          return s?.active === false ? s.changedAtMs : null;
        },
      },
    },
  });
  const found = (): WatchedStream[] =>
    [...d.watched('stream')].map((w) => ({ id: w.id, intervalMs: cfg.probe.intervalMs, labels: w.labels, origin: w.source }));
  const rewatch = (): void => {
    const listed: WatchedStream[] = cfg.streams.map((s) => ({ id: s.id, intervalMs: s.intervalMs, labels: s.labels, origin: 'config' }));
    store.setStreams([...listed, ...found()]);
  };
  rewatch();
  return {
    store,
    discovery: d,
    ctx: {
      store,
      discover: (id, labels, source) => d.discover(id, labels, source),
      forget: (id, source) => d.forget(id, source),
      discovered: (source) => d.discovered(source),
    },
    reload: (next, apply) => {
      cfg = next;
      d.applyConfig(next);
      apply();
      rewatch();
    },
    rewatch,
    watched: found,
  };
}
