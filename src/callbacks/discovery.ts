/** `*` matches any run of characters; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}

/**
 * The callbacks' own discovery rule: which unlisted ids a stream_create may start watching
 * (callbacks.discover.patterns). The cap, eviction and forget_after are the core's (discovery/).
 */
export class DiscoverPatterns {
  readonly patterns: readonly string[];
  readonly #res: RegExp[];

  constructor(patterns: readonly string[]) {
    this.patterns = patterns;
    this.#res = patterns.map(globToRegExp);
  }

  matches(id: string): boolean {
    return this.#res.some((p) => p.test(id));
  }
}
