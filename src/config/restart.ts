import type { Config } from './types.js';

/**
 * Settings a reload cannot apply to a running process, because they shaped something built once
 * at start: the callback listener (its address and TLS), and in fleet mode the Redis connection, its keys and the
 * AppID they are counted under. Returns the key paths that differ, so a reload can say that they
 * wait for a restart instead of silently keeping the old values.
 */
export function restartOnlyChanges(running: Config, next: Config): string[] {
  const changed: string[] = [];
  const ca = running.callbacks;
  const cb = next.callbacks;
  // The callback listener is opened at start when callbacks are on then, and built for its address and TLS.
  if (ca === undefined && cb !== undefined) changed.push('callbacks (the callback listener opens at start)');
  if (ca && cb && ca.listenAddress !== cb.listenAddress) changed.push('callbacks.listen_address');
  if (ca && cb && ca.tls !== cb.tls) changed.push('callbacks.tls');
  const a = running.fleet;
  const b = next.fleet;
  if ((a === undefined) !== (b === undefined)) changed.push('fleet');
  else if (a && b) {
    if (!a.redisUrl.equals(b.redisUrl)) changed.push('fleet.redis_url');
    if (a.keyPrefix !== b.keyPrefix) changed.push('fleet.key_prefix');
    if (a.shareResults !== b.shareResults) changed.push('fleet.share_results');
    if (running.zego.appId !== next.zego.appId) changed.push('zego.app_id (fleet budget key)');
    // The fan-out and the fleet-wide replay check are built at start, when callbacks are on then.
    if (running.callbacks === undefined && next.callbacks !== undefined) changed.push('callbacks (fleet fan-out and replay check)');
    // The room APIs' fleet budgets and room holds are set up at start, when rooms were listed.
    if ((running.rooms?.length ?? 0) === 0 && (next.rooms?.length ?? 0) > 0) changed.push('rooms (fleet mode for the room APIs)');
  }
  // The output prober and its connection pools are built once, at start, from these bounds (concurrency applies on reload).
  const oa = running.probe.outputs;
  const ob = next.probe.outputs;
  if (oa && ob) {
    for (const [key, a, b] of [
      ['timeout', oa.timeoutMs, ob.timeoutMs],
      ['max_bytes', oa.maxBytes, ob.maxBytes],
      ['flv_max_bytes', oa.flvMaxBytes, ob.flvMaxBytes],
      ['max_redirects', oa.maxRedirects, ob.maxRedirects],
      ['flv_window', oa.flvWindowMs, ob.flvWindowMs],
      ['connections_per_host', oa.connectionsPerHost, ob.connectionsPerHost],
      ['flv_connections_per_host', oa.flvConnectionsPerHost, ob.flvConnectionsPerHost],
    ] as const) {
      if (a !== b) changed.push(`probe.outputs.${key}`);
    }
  }
  return changed;
}
