import { callbacksPart } from '../callbacks/part.js';
import type { Config } from '../config/types.js';
import { fleetPart } from '../fleet/part.js';
import type { Part, PartContext, PartFactory } from './part.js';

/**
 * Every optional feature, in start order (stopped in reverse): adding one is its folder plus one
 * line here. Fleet comes first: its gate is what the budget asks before every send.
 */
export const PARTS: readonly PartFactory[] = [fleetPart, callbacksPart];

/** The parts this config turns on. */
export function buildParts(config: Config, ctx: PartContext, factories: readonly PartFactory[] = PARTS): Part[] {
  return factories.map((f) => f(config, ctx)).filter((p): p is Part => p !== null);
}
