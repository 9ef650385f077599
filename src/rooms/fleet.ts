import type { Config } from '../config/types.js';
import type { Fleet } from '../fleet/fleet.js';
import { ROOM_HOLD_MS, type RoomLock } from './list-scheduler.js';

/** A room taken before its budget slot waits a little in the queue: the hold's lease covers that too. */
const QUEUE_MARGIN_MS = 5000;

/**
 * Fleet mode's per-room rule, held fleet-wide through the process's one Redis module: a lease that
 * outlives a call, its timeout and its 10 s hold. The room APIs' budgets are the API service's,
 * shared through the same module like every other Action's. While Redis is away rooms are held by
 * this process's own rule alone (docs/fleet.md).
 */
export function roomHold(config: Config, fleet: Fleet): RoomLock {
  return fleet.roomHold(config.zego.timeoutMs + ROOM_HOLD_MS + QUEUE_MARGIN_MS);
}
