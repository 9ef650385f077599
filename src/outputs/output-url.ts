import type { OutputKind } from './types.js';

/**
 * An output URL's public name: scheme, host and path, without the query string (CDN auth tokens
 * live there), the fragment or user info. The `output` label, every log line and page use it; the
 * full URL goes only to the prober.
 */
export function outputName(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** The kind a URL's path names: `.m3u8` → HLS, `.flv` → HTTP-FLV; null when it names neither. */
export function kindOfPath(url: URL): OutputKind | null {
  const path = url.pathname.toLowerCase();
  if (path.endsWith('.m3u8')) return 'hls';
  if (path.endsWith('.flv')) return 'flv';
  return null;
}

/** A URL an output may have: http or https, no user info (a password in it would be a secret in the config's errors). */
export function parseOutputUrl(text: string): { ok: true; url: URL } | { ok: false; message: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, message: 'not a URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, message: 'must be an http or https URL' };
  if (url.username !== '' || url.password !== '') return { ok: false, message: 'must not carry user info (put a token in the query string, from ${VAR})' };
  return { ok: true, url };
}
