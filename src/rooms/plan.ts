import { MAX_ROOMS_PER_USER_NUM } from '../zego/protocol.js';
import { ROOM_HOLD_MS } from './list-scheduler.js';

export interface ApiPlan {
  /** Calls/s the rooms' intervals ask for. */
  demandPerSec: number;
  /** The API's budget (calls/s). */
  budgetPerSec: number;
  /** The refresh every room gets when the budget is short (all rooms share it evenly), s. */
  worstRefreshSec: number;
}

export interface RoomPlan {
  rooms: number;
  /** DescribeSimpleStreamList: one call per room per interval. */
  list: ApiPlan;
  /** DescribeUserNum: one call per ten rooms per interval. */
  count: ApiPlan;
}

/**
 * The budget math of the room APIs. Lists: Σ 1/interval calls/s against the list budget; a room is
 * refreshed at its interval while that fits, else every room alike at N / budget (the scheduler
 * serves due rooms in the order they fell due). Never faster than the 10 s per-room rule plus
 * the call itself. Counts: the same with ten rooms a call.
 */
export function roomPlan(intervalsMs: readonly number[], listRate: number, countRate: number): RoomPlan {
  const n = intervalsMs.length;
  // Rounded: 400 rooms at 10 s must read 40/s, not a hair above a 40/s budget.
  const demand = Math.round(intervalsMs.reduce((s, ms) => s + 1000 / ms, 0) * 1e6) / 1e6;
  const slowest = n === 0 ? 0 : Math.max(...intervalsMs) / 1000;
  const plan = (demandPerSec: number, budgetPerSec: number, perCall: number): ApiPlan => {
    const fits = demandPerSec <= budgetPerSec;
    const shared = budgetPerSec > 0 ? n / perCall / budgetPerSec : Number.POSITIVE_INFINITY;
    return { demandPerSec, budgetPerSec, worstRefreshSec: n === 0 ? 0 : fits ? slowest : Math.max(slowest, shared, ROOM_HOLD_MS / 1000) };
  };
  return { rooms: n, list: plan(demand, listRate, 1), count: plan(demand / MAX_ROOMS_PER_USER_NUM, countRate, MAX_ROOMS_PER_USER_NUM) };
}

/** One line per API for --config.check and the start-up log. */
export function roomPlanLines(p: RoomPlan): string[] {
  if (p.rooms === 0) return [];
  const r = (x: number): number => Math.round(x * 100) / 100;
  const line = (api: string, a: ApiPlan, what: string): string =>
    `${api}: ${p.rooms} rooms ${what} = ${r(a.demandPerSec)} calls/s against ${r(a.budgetPerSec)}/s; ` +
    (a.demandPerSec <= a.budgetPerSec
      ? `every room refreshed at its interval (slowest ${r(a.worstRefreshSec)}s)`
      : `budget-limited: every room refreshed every ${r(a.worstRefreshSec)}s`);
  return [line('DescribeSimpleStreamList', p.list, '÷ interval'), line('DescribeUserNum', p.count, '÷ 10 ÷ interval')];
}
