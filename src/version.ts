import { readFileSync } from 'node:fs';

/** Read from package.json next to the build (dist/src → ../..), so the image needs no rebuild step. */
function readVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export const VERSION = readVersion();
/** Set at image build time (`--build-arg REVISION=$(git rev-parse HEAD)`). */
export const REVISION = process.env['ZEGO_EXPORTER_REVISION'] ?? 'unknown';
