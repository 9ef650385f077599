import type { Config } from '../config/types.js';
import type { Fleet } from '../fleet/fleet.js';
import { ROOM_HOLD_MS } from './list-scheduler.js';
import type { RoomsFleetLike } from './part.js';

/** A room taken before its budget slot waits a little in the queue: the hold's lease covers that too. */
const QUEUE_MARGIN_MS = 5000;

/**
 * Fleet mode for the room APIs, all of it from the process's one Redis module: each API's budget
 * shared under its own key, and the per-room rule held fleet-wide. While Redis is away each budget
 * runs on the fleet's fallback rule and rooms are held by this process's own rule alone.
 */
export function roomsFleet(config: Config, fleet: Fleet, onModeChange: () => void): RoomsFleetLike {
  const { zego } = config;
  const listGate = fleet.gate('DescribeSimpleStreamList', zego.streamListRateLimit);
  const countGate = fleet.gate('DescribeUserNum', zego.userNumRateLimit);
  fleet.onChange(onModeChange);
  return {
    listGate,
    countGate,
    roomLock: fleet.roomHold(zego.timeoutMs + ROOM_HOLD_MS + QUEUE_MARGIN_MS),
    rate: (_which, rate) => fleet.rate(rate),
    setRateLimits: (list, count) => {
      listGate.setRateLimit(list);
      countGate.setRateLimit(count);
    },
    close: async () => {
      listGate.close();
      countGate.close();
    },
  };
}
