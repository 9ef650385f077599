import type { CallbackTls } from '../config/types.js';
import type { ListenOptions } from '../http/server.js';
import type { WebSecurity } from '../http/web-security.js';

/**
 * The callback listener's TLS, decided apart from the main listener's. `off` is plain HTTP even
 * when --web.config.file puts TLS on the main listener: the shipped Ingress (and most reverse
 * proxies) forward plain HTTP, and a TLS listener behind them closes every connection, so ZEGO's
 * posts and retries fail while polling hides it. `web_config` takes the web config's certificates,
 * versions and client-certificate checks, but never its basic auth: ZEGO cannot send credentials,
 * and the signature is the authentication.
 */
export function callbackListenerSecurity(tls: CallbackTls, web: WebSecurity | undefined): Pick<ListenOptions, 'web' | 'authExempt'> {
  return tls === 'web_config' && web ? { web, authExempt: () => true } : {};
}

/** Why `callbacks.tls` cannot be honoured with this web config (`undefined`: no --web.config.file), or null. */
export function callbackTlsProblem(tls: CallbackTls, web: { tls?: unknown } | undefined): string | null {
  if (tls !== 'web_config') return null;
  if (web === undefined)
    return 'callbacks.tls is web_config, but no --web.config.file is given: set callbacks.tls: off, or give a web config with tls_server_config';
  if (web.tls === undefined)
    return 'callbacks.tls is web_config, but --web.config.file has no tls_server_config: set callbacks.tls: off, or add tls_server_config';
  return null;
}
