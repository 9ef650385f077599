import { OUTPUT_FAILURE_REASONS, type HlsMemory, type OutputFailureReason, type OutputProbeOutcome } from './types.js';

/**
 * What the exporter knows of one output, from its probes. Pure: every probe says when it ended.
 * A probe that did not reach the CDN (reached: false) marks the probe failed and keeps the last
 * state, as a failed API call keeps a stream's: an unreachable CDN from here is not proof that
 * viewers cannot play. HTTP answers and stalled media are the output's state.
 */
export class OutputState {
  /** null until a probe first reached the CDN. */
  up: boolean | null = null;
  /** Why it is down (the last reached probe's reason); null while up or unknown. */
  reason: OutputFailureReason | null = null;
  detail = '';
  probeSuccess: boolean | null = null;
  lastProbeMs: number | null = null;
  lastSuccessMs: number | null = null;
  firstByteSeconds: number | null = null;
  bitrateBps: number | null = null;
  targetDurationSeconds: number | null = null;
  /** Wall ms the media last advanced, kept across probes that saw it not advance. */
  mediaAdvancedAtMs: number | null = null;
  tlsNotAfterMs: number | null = null;
  /** Whether the output was ever seen up: a stream ZEGO never saw active behind an output that played is one published straight to the CDN. */
  everUp = false;
  /** Since when `up` holds its value (ms); null until known. */
  changedAtMs: number | null = null;
  readonly failures: Record<OutputFailureReason, number> = Object.fromEntries(OUTPUT_FAILURE_REASONS.map((r) => [r, 0])) as Record<OutputFailureReason, number>;
  /** Handed back to the prober on the next probe (HLS freshness). */
  memory: HlsMemory | null = null;
  /** Bumped on every probe (cached renderings compare it). */
  version = 0;

  /** One probe's outcome, ended at `atMs`: returns whether `up` changed. */
  apply(o: OutputProbeOutcome, atMs: number): boolean {
    const r = o.result;
    this.version++;
    this.lastProbeMs = atMs;
    this.detail = r.detail;
    if (!r.reached) {
      this.probeSuccess = false;
      this.failures[r.reason ?? 'unreachable']++;
      return false;
    }
    this.probeSuccess = true;
    this.lastSuccessMs = atMs;
    const was = this.up;
    this.up = r.up;
    this.reason = r.up ? null : r.reason;
    if (!r.up && r.reason !== null) this.failures[r.reason]++;
    if (r.up) this.everUp = true;
    this.firstByteSeconds = r.firstByteSeconds;
    this.bitrateBps = r.bitrateBps;
    this.targetDurationSeconds = r.targetDurationSeconds ?? this.targetDurationSeconds;
    this.mediaAdvancedAtMs = r.mediaAdvancedAtMs ?? this.mediaAdvancedAtMs;
    this.tlsNotAfterMs = r.tlsNotAfterMs ?? this.tlsNotAfterMs;
    this.memory = o.memory;
    if (was !== this.up) this.changedAtMs = atMs;
    return was !== this.up;
  }
}
