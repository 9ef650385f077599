import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { clientKey, parseTrustedProxies, type TrustedProxies } from '../../src/http/client-key.js';

function req(peer: string, xff?: string | string[]): IncomingMessage {
  return { socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } } as unknown as IncomingMessage;
}

function proxies(...cidrs: string[]): TrustedProxies {
  const p = parseTrustedProxies(cidrs);
  if (!p.ok) throw new Error(p.message);
  return p.value;
}

describe('the client a callback body is charged to', () => {
  it('is the peer address when no proxy is trusted, whatever X-Forwarded-For says; IPv6 by its /64', () => {
    expect(clientKey(req('10.0.0.5', '1.2.3.4'), null)).toBe('10.0.0.5');
    expect(clientKey(req('::ffff:10.0.0.5'), null)).toBe('10.0.0.5');
    expect(clientKey(req('2001:db8:1:2:aaaa::1'), null)).toBe(clientKey(req('2001:db8:1:2:bbbb::9'), null));
    expect(clientKey(req('2001:db8:1:2::1'), null)).not.toBe(clientKey(req('2001:db8:1:3::1'), null));
  });

  it('behind a trusted proxy: the nearest untrusted X-Forwarded-For address from the right, so a client cannot pick its own key', () => {
    const p = proxies('10.0.0.0/8', 'fd00::/8');
    expect(clientKey(req('10.1.2.3', '203.0.113.7'), p)).toBe('203.0.113.7');
    // The client wrote "198.51.100.1" itself; the proxy appended what it saw.
    expect(clientKey(req('10.1.2.3', '198.51.100.1, 203.0.113.7'), p)).toBe('203.0.113.7');
    // Two proxies in a row (the load balancer, then the Ingress controller).
    expect(clientKey(req('10.1.2.3', '203.0.113.7, 10.9.9.9'), p)).toBe('203.0.113.7');
    expect(clientKey(req('10.1.2.3', ['203.0.113.7', '10.9.9.9']), p)).toBe('203.0.113.7');
    expect(clientKey(req('::ffff:10.1.2.3', '2001:db8::1'), p)).toBe('2001:db8:0:0::/64');
    // No header, or a hop that is not an address where a trusted proxy wrote: the proxy itself.
    expect(clientKey(req('10.1.2.3'), p)).toBe('10.1.2.3');
    expect(clientKey(req('10.1.2.3', 'junk'), p)).toBe('10.1.2.3');
    // Everything trusted: the left-most.
    expect(clientKey(req('10.1.2.3', '10.7.7.7, 10.8.8.8'), p)).toBe('10.7.7.7');
    // A peer outside the list is its own client even with the header.
    expect(clientKey(req('192.0.2.1', '203.0.113.7'), p)).toBe('192.0.2.1');
  });

  it('callbacks.trusted_proxies takes addresses and CIDRs and names a bad entry', () => {
    const base = 'zego:\n  app_id: 1\n  server_secret: x\nstreams: [a]\ncallbacks:\n  secret: s\n';
    const good = parseConfig(`${base}  trusted_proxies: ["10.0.0.0/8", "fd00::/8", "192.0.2.1"]\n`, { env: {}, baseDir: '/cfg' });
    if (!good.ok) throw new Error(JSON.stringify(good));
    expect(good.config.callbacks?.trustedProxies).toEqual(['10.0.0.0/8', 'fd00::/8', '192.0.2.1']);
    const none = parseConfig(base, { env: {}, baseDir: '/cfg' });
    expect(none.ok && none.config.callbacks?.trustedProxies).toBeUndefined();
    for (const bad of ['"10.0.0.0/33"', '"ingress-nginx"', '"10.0.0.0/8/1"']) {
      const r = parseConfig(`${base}  trusted_proxies: [${bad}]\n`, { env: {}, baseDir: '/cfg' });
      expect(r.ok).toBe(false);
      expect(JSON.stringify(r)).toContain('callbacks.trusted_proxies[0]');
    }
    const notList = parseConfig(`${base}  trusted_proxies: 10.0.0.0/8\n`, { env: {}, baseDir: '/cfg' });
    expect(JSON.stringify(notList)).toContain('must be a list');
  });
});
