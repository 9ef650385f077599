import { familyHeader, formatLabels, formatValue, sampleName, type Format } from '../metrics/exposition.js';

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
