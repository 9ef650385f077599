import { familyHeader, formatLabels, formatValue, sampleName, type Format } from '../metrics/exposition.js';
import type { CallbackEventLabel, CallbackResultLabel } from './labels.js';

/**
 * A counter the callbacks part keeps itself (the part renders its own families: see
 * parts/part.ts `metrics`), with at most one label from a small fixed set.
 */
export function renderCounter(name: string, help: string, samples: readonly (readonly [Readonly<Record<string, string>>, number])[], format: Format): string {
  let out = familyHeader(name, help, 'counter', format);
  const sample = sampleName(name, 'counter', format);
  for (const [labels, value] of samples) out += `${sample}${formatLabels(labels)} ${formatValue(value)}\n`;
  return out;
}

const CALLBACKS_TOTAL = 'zego_exporter_callbacks_total';
const CALLBACKS_TOTAL_HELP =
  "ZEGO stream callbacks received, by event and what became of them: accepted (state changed), duplicate, stale (older than what is known), unwatched, ignored (other events), bad_signature, expired (timestamp outside the window), replayed (nonce reused with another body), wrong_app, malformed, too_large, too_slow (408: the body arrived slower than the minimum upload rate), overloaded (refused with 503: request bodies in flight over the process budget or one client's share of it, or the replay memory full).";

/**
 * zego_exporter_callbacks_total: every callback the receiver answered, by event and result. At
 * most 5 × 13 series; a series appears with its first callback, in that order.
 */
export class CallbackCounts {
  readonly #series = new Map<string, { labels: { event: CallbackEventLabel; result: CallbackResultLabel }; value: number }>();

  constructor() {
    // Series that dashboards and alerts divide by or compare against exist from the start at 0,
    // rather than appearing with the first such callback.
    for (const event of ['stream_create', 'stream_close'] as const) {
      for (const result of ['accepted', 'stale', 'bad_signature'] as const) this.#entry(event, result);
    }
  }

  inc(event: CallbackEventLabel, result: CallbackResultLabel): void {
    this.#entry(event, result).value++;
  }

  render(format: Format): string {
    return renderCounter(
      CALLBACKS_TOTAL,
      CALLBACKS_TOTAL_HELP,
      [...this.#series.values()].map((s) => [s.labels, s.value] as const),
      format,
    );
  }

  #entry(event: CallbackEventLabel, result: CallbackResultLabel): { value: number } {
    const key = `${event}/${result}`;
    let s = this.#series.get(key);
    if (!s) {
      s = { labels: { event, result }, value: 0 };
      this.#series.set(key, s);
    }
    return s;
  }
}
