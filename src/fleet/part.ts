import type { Config } from '../config/types.js';
import type { Part, PartContext, PartGauge } from '../parts/part.js';
import type { Fleet, FleetApiGate } from './fleet.js';
import type { ResultShare } from './share.js';

/**
 * Fleet mode's contributions to probing: DescribeRTCStreamState's gate and the result share,
 * the rate cap while Redis is away, the one `zego_exporter_fleet_connected` gauge and the landing
 * line. The Redis module itself (fleet.ts) is the core's, handed to every part as `ctx.fleet`.
 */
export class FleetPart implements Part {
  readonly name = 'fleet';
  readonly gate: FleetApiGate;
  readonly share: ResultShare | undefined;
  readonly gauges: readonly PartGauge[];
  readonly #fleet: Fleet;

  constructor(config: Config, fleet: Fleet, ctx: PartContext) {
    this.#fleet = fleet;
    this.gate = fleet.gate('DescribeRTCStreamState', config.zego.rateLimit);
    this.share = fleet.share;
    fleet.onChange(() => ctx.rateChanged());
    this.gauges = [
      {
        name: 'zego_exporter_fleet_connected',
        help: 'Fleet mode: 1 while the AppID budgets are shared through Redis, 0 while this process runs every API on its share of fallback_rate_limit.',
        read: () => (fleet.connected ? 1 : 0),
      },
    ];
  }

  /** The link connects by itself from construction on (the Budget holds the gate from the first send). */
  async start(): Promise<void> {}

  /** The Exporter hands the Redis module the new config first. */
  applyConfig(config: Config): void {
    this.gate.setRateLimit(config.zego.rateLimit);
  }

  /** The Exporter closes the Redis module after every part stopped. */
  async stop(): Promise<void> {
    this.gate.close();
  }

  /**
   * The whole rate_limit while Redis keeps the fleet under it, the fallback alone otherwise.
   * Raising it back releases no backlog at once: the budget still paces 1/rate.
   */
  rateLimit(rate: number): number {
    return this.#fleet.rate(rate);
  }

  landing(): string {
    return this.#fleet.connected
      ? `Fleet: sharing the AppID budgets through Redis (key prefix ${this.#fleet.keyPrefix}).`
      : `Fleet: Redis unreachable, on fallback_rate_limit ${this.#fleet.fallbackRateLimit}/s.`;
  }
}

export function fleetPart(config: Config, ctx: PartContext): Part | null {
  return ctx.fleet ? new FleetPart(config, ctx.fleet, ctx) : null;
}
