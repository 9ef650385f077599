import { pino } from 'pino';
import type { PartContext } from '../../src/parts/part.js';
import { StateStore } from '../../src/state/store.js';

/**
 * The one fake PartContext of the test suite: what the Exporter hands a part, each member a no-op
 * (room APIs refuse) unless the test gives its own. A part test builds its context here only, so
 * a change to PartContext is one edit in this file.
 */
export function fakePartContext(over: Partial<PartContext> = {}): PartContext {
  const logger = over.logger ?? pino({ level: 'silent' });
  const now = over.now ?? Date.now;
  return {
    logger,
    now,
    store: over.store ?? new StateStore({ logger, now }),
    recordCallback: () => undefined,
    recordApiCall: () => undefined,
    roomApi: {
      describeSimpleStreamList: () => Promise.reject(new Error('this part was given no room API')),
      describeUserNum: () => Promise.reject(new Error('this part was given no room API')),
    },
    watchAdded: () => undefined,
    watchRemoved: () => undefined,
    watchedChanged: () => undefined,
    rateChanged: () => undefined,
    ...over,
  };
}
