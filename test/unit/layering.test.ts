import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The core knows no feature: data flows config → ZEGO client → budget → state → metrics, and the
 * optional features (parts) plug into it, never the other way round. Read from the sources, so an
 * import that reaches into a feature folder fails here before it spreads.
 */
const SRC = join(import.meta.dirname, '../../src');
const FEATURES = ['callbacks', 'rooms', 'fleet', 'discovery', 'parts'];

function importsOf(folder: string): { file: string; from: string }[] {
  const out: { file: string; from: string }[] = [];
  for (const file of readdirSync(join(SRC, folder)).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(SRC, folder, file), 'utf8');
    for (const m of text.matchAll(/^(?:import|export)[^'"]*from\s+'([^']+)'/gm)) out.push({ file: `${folder}/${file}`, from: m[1]! });
  }
  return out;
}

describe('layering', () => {
  it.each(['state', 'zego'])('%s/ imports nothing from a feature folder', (folder) => {
    const imports = importsOf(folder);
    expect(imports.length).toBeGreaterThan(0);
    const reaching = imports.filter(({ from }) => FEATURES.some((f) => from.startsWith(`../${f}/`)));
    expect(reaching).toEqual([]);
  });
});
