import { pino } from 'pino';
import type { PartContext } from '../../src/parts/part.js';
import { StateStore } from '../../src/state/store.js';

/**
 * The one fake PartContext of the test suite: what the Exporter hands a part. Every member refuses
 * or does nothing unless the test gives its own (`api` throws: a part that calls an Action must be
 * given the real ApiService's `api`; discovery is off: give `discovering(…).ctx` for the real one).
 * A part test builds its context here only, so a change to PartContext is one edit in this file.
 */
export function fakePartContext(over: Partial<PartContext> = {}): PartContext {
  const logger = over.logger ?? pino({ level: 'silent' });
  const now = over.now ?? Date.now;
  return {
    logger,
    now,
    store: over.store ?? new StateStore({ logger, now }),
    api: (name: string) => {
      throw new Error(`this part was given no API service (it asked for ${name})`);
    },
    discover: () => 'off',
    forget: () => undefined,
    discovered: () => ({ size: 0, ids: () => [], has: () => false }),
    ...over,
  };
}
