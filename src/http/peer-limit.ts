import type { Socket } from 'node:net';
import { addressKey } from './auth-failures.js';

/** Open connections one remote address may hold on one listener. */
export const DEFAULT_CONNECTIONS_PER_PEER = 512;

/**
 * Open connections per remote address. Each connection costs a file descriptor until its
 * deadlines cut it, so one peer opening connections faster than they expire could take them all
 * and starve Prometheus's scrape and the exporter's own API calls. A cap per address keeps such a
 * peer from starving the others; a global cap would not (the flood would take the whole cap).
 * Generous on purpose: a reverse proxy in front of the callback listener concentrates every
 * caller on one address, and Prometheus needs one or two.
 */
export class PeerLimit {
  readonly #max: number;
  readonly #open = new Map<string, number>();
  /** Connections refused since start. */
  refused = 0;
  /** Told of each refusal (the listener's metric). */
  onRefused: (() => void) | undefined;

  constructor(max: number = DEFAULT_CONNECTIONS_PER_PEER) {
    this.#max = max;
  }

  /** Counts the connection until it closes, or destroys it at once when its address is at the cap. */
  admit(socket: Socket): void {
    // IPv6 by /64: a host given a /64 could otherwise open 512 connections from each of its addresses.
    const peer = addressKey(socket.remoteAddress);
    const n = this.#open.get(peer) ?? 0;
    if (n >= this.#max) {
      this.refused++;
      this.onRefused?.();
      socket.destroy();
      return;
    }
    this.#open.set(peer, n + 1);
    socket.once('close', () => {
      const left = (this.#open.get(peer) ?? 1) - 1;
      if (left > 0) this.#open.set(peer, left);
      else this.#open.delete(peer);
    });
  }

  /** Open connections of one address (for tests). */
  openFrom(peer: string): number {
    return this.#open.get(addressKey(peer)) ?? 0;
  }
}
