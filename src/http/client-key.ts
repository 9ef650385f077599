import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { addressKey } from './auth-failures.js';

/** A parsed `callbacks.trusted_proxies` list; null or empty: no proxy is trusted. */
export type TrustedProxies = BlockList | null;

/**
 * A CIDR list (`10.0.0.0/8`, `fd00::/8`, or a bare address) as a BlockList; the first entry that
 * is not one is returned as the error, so the config can name it.
 */
export function parseTrustedProxies(entries: readonly string[]): { ok: true; value: BlockList } | { ok: false; index: number; message: string } {
  const list = new BlockList();
  for (const [i, raw] of entries.entries()) {
    const [addr = '', bits, extra] = raw.trim().split('/');
    const family = isIP(addr);
    const max = family === 6 ? 128 : 32;
    const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
    if (family === 0 || extra !== undefined || !(prefix >= 0 && prefix <= max))
      return { ok: false, index: i, message: 'must be an IP address or CIDR such as 10.0.0.0/8 or fd00::/8' };
    list.addSubnet(addr, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return { ok: true, value: list };
}

function trusted(list: TrustedProxies, address: string): boolean {
  if (!list) return false;
  const bare = address.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  const a = mapped ? mapped[1]! : bare;
  const family = isIP(a);
  return family !== 0 && list.check(a, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * Who a request's limits are charged to: its peer address (IPv6 by /64), or, when the peer is a
 * trusted proxy, the nearest untrusted address in X-Forwarded-For, read from the right. The
 * right, because each proxy appends the address it saw: everything left of the last trusted hop
 * was written by the client and can be anything, so taking the left-most entry would let one
 * client pick a fresh key per request. Every address being trusted falls back to the left-most
 * one; a header that is missing leaves the proxy itself as the client.
 */
export function clientKey(req: IncomingMessage, proxies: TrustedProxies): string {
  const peer = req.socket.remoteAddress ?? '';
  if (!trusted(proxies, peer)) return addressKey(peer);
  const header = req.headers['x-forwarded-for'];
  const joined = Array.isArray(header) ? header.join(',') : (header ?? '');
  const hops = joined
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (trusted(proxies, hop)) continue;
    // Right of the first untrusted entry everything was written by trusted proxies; a hop that is
    // not an address there means a proxy that writes something else: charge the proxy.
    return isIP(hop.replace(/%.*$/, '')) === 0 ? addressKey(peer) : addressKey(hop);
  }
  return hops.length > 0 ? addressKey(hops[0]) : addressKey(peer);
}
