/**
 * The main listener's own paths. The HTTP router serves them; the config reader refuses them as a
 * `callbacks.path`, which the router would otherwise shadow or be shadowed by.
 */
export const PATHS = {
  landing: '/',
  metrics: '/metrics',
  healthy: '/-/healthy',
  ready: '/-/ready',
  reload: '/-/reload',
} as const;

export const RESERVED_PATHS: readonly string[] = Object.values(PATHS);
