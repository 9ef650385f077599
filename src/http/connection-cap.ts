import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { ServerResponse } from 'node:http';

/** Used when the soft limit cannot be read (not Linux): the usual default soft limit. */
export const DEFAULT_FD_LIMIT = 1024;
/**
 * Each listener may hold this share of the process's file descriptors: two listeners take 80% at
 * most, and the other 20% stay for what the exporter opens itself (API calls, Redis, the files it
 * reads). With 99 × 400 idle connections and no such cap, accept() and every probe failed with
 * EMFILE and 13 of 16 scrapes failed.
 */
export const LISTENER_FD_SHARE = 0.4;
/**
 * TLS handshakes in progress per listener. Each costs about 53 KB of native memory that the
 * allocator keeps after it ends (RSS 1.7 GB after 18.6k half-open handshakes); 64 is about 3.4 MB,
 * and a real handshake takes a round trip or two.
 */
export const DEFAULT_MAX_HANDSHAKES = 64;

let fdLimitMemo: number | undefined;

/**
 * The soft RLIMIT_NOFILE of this process (Node raises it to the hard limit at start), read once
 * from /proc: a kernel-generated file that cannot block or be large, so the file guard's worker is
 * not needed for it. Anything unreadable gives DEFAULT_FD_LIMIT.
 */
export function fdSoftLimit(): number {
  if (fdLimitMemo !== undefined) return fdLimitMemo;
  fdLimitMemo = DEFAULT_FD_LIMIT;
  try {
    const line = /^Max open files\s+(\d+|unlimited)\s/m.exec(readFileSync('/proc/self/limits', 'latin1'));
    if (line) fdLimitMemo = line[1] === 'unlimited' ? 1_048_576 : Number(line[1]);
  } catch {
    // not Linux, or no /proc: the default
  }
  return fdLimitMemo;
}

/** Open connections one listener may hold by default: its share of the fd soft limit. */
export function defaultListenerConnections(): number {
  return Math.max(16, Math.floor(fdSoftLimit() * LISTENER_FD_SHARE));
}

/** Which listener a count is for (the `listener` label). */
export type ListenerName = 'main' | 'callbacks';
/** Why a connection was closed by a bound rather than by its client (the `reason` label). */
export type ShedReason = 'per_address' | 'idle_at_cap' | 'refused_at_cap' | 'handshake_at_cap';
export const SHED_REASONS: readonly ShedReason[] = ['per_address', 'idle_at_cap', 'refused_at_cap', 'handshake_at_cap'];

/**
 * Connections closed by the bounds since start, by listener and reason, for every listener of the
 * process (zego_exporter_http_connections_shed_total). Process-wide like the body budget, so a
 * listener restarted by a reload keeps counting on.
 */
export const connectionsShed = new Map<`${ListenerName}/${ShedReason}`, number>();

export function countShed(listener: ListenerName, reason: ShedReason): void {
  const k = `${listener}/${reason}` as const;
  connectionsShed.set(k, (connectionsShed.get(k) ?? 0) + 1);
}

interface Conn {
  socket: Socket;
  /** Requests being answered on it. */
  busy: number;
}

/**
 * Open connections of one listener, kept under `max` by closing the connection that has been idle
 * longest (a keep-alive between requests, one still sending its headers, a TLS handshake) to make
 * room for a new one; only when every connection is in the middle of a request is the newcomer
 * closed instead. So a flood of idle connections from any number of addresses costs at most
 * `max` descriptors, and a scrape that arrives during it still gets in: it displaces the oldest
 * idle one. Requests in progress are left to their own deadlines (headers, request, minimum
 * upload rate). TLS handshakes in progress are bounded apart, the oldest giving way the same way.
 */
export class ConnectionCap {
  readonly max: number;
  readonly maxHandshakes: number;
  /** Not in a request, oldest idle first (a Map keeps insertion order). */
  readonly #idle = new Map<string, Conn>();
  readonly #busy = new Map<string, Conn>();
  readonly #handshaking = new Map<string, Conn>();
  /** Connections closed to make room, and newcomers closed for want of it, since start. */
  evicted = 0;
  refused = 0;
  /** Called whenever the cap closes a connection, with why (for the metric and a rate-limited log line). */
  onShed: ((reason: ShedReason) => void) | undefined;

  constructor(max: number = defaultListenerConnections(), maxHandshakes: number = DEFAULT_MAX_HANDSHAKES) {
    this.max = max;
    this.maxHandshakes = maxHandshakes;
  }

  get open(): number {
    return this.#idle.size + this.#busy.size;
  }

  get handshakes(): number {
    return this.#handshaking.size;
  }

  /** A new connection (before any TLS handshake; `tls`: it will have one). */
  admit(socket: Socket, tls: boolean): void {
    if (socket.destroyed) return;
    const key = keyOf(socket);
    if (key === null) {
      socket.destroy();
      return;
    }
    if (this.open >= this.max) {
      const victim = first(this.#idle);
      if (!victim) {
        this.refused++;
        this.onShed?.('refused_at_cap');
        socket.destroy();
        return;
      }
      this.#drop(victim[0], victim[1]);
      this.evicted++;
      this.onShed?.('idle_at_cap');
      victim[1].socket.destroy();
    }
    if (tls && this.#handshaking.size >= this.maxHandshakes) {
      const victim = first(this.#handshaking)!;
      this.#drop(victim[0], victim[1]);
      this.evicted++;
      this.onShed?.('handshake_at_cap');
      victim[1].socket.destroy();
    }
    const c: Conn = { socket, busy: 0 };
    this.#idle.set(key, c);
    if (tls) this.#handshaking.set(key, c);
    socket.once('close', () => this.#drop(key, c));
  }

  /** The TLS handshake of a connection finished: from now on it is its TLS socket that is closed. */
  secured(tlsSocket: Socket): void {
    const key = keyOf(tlsSocket);
    const c = key === null ? undefined : this.#handshaking.get(key);
    if (key === null || !c) return;
    this.#handshaking.delete(key);
    c.socket = tlsSocket;
    tlsSocket.once('close', () => this.#drop(key, c));
  }

  /** A request began on `socket`; it is busy until its response closes, then the newest idle. */
  request(socket: Socket, res: ServerResponse): void {
    const key = keyOf(socket);
    if (key === null) return;
    const c = this.#idle.get(key) ?? this.#busy.get(key);
    if (!c) return;
    this.#idle.delete(key);
    c.busy++;
    this.#busy.set(key, c);
    res.once('close', () => {
      c.busy--;
      if (c.busy > 0 || this.#busy.get(key) !== c) return;
      this.#busy.delete(key);
      if (!c.socket.destroyed) this.#idle.set(key, c);
    });
  }

  #drop(key: string, c: Conn): void {
    if (this.#idle.get(key) === c) this.#idle.delete(key);
    if (this.#busy.get(key) === c) this.#busy.delete(key);
    if (this.#handshaking.get(key) === c) this.#handshaking.delete(key);
  }
}

/** One connection per (address, port) pair on a listener; the raw and the TLS socket share it. */
function keyOf(s: Socket): string | null {
  return s.remoteAddress === undefined || s.remotePort === undefined ? null : `${s.remoteAddress}|${s.remotePort}`;
}

function first<V>(m: Map<string, V>): [string, V] | undefined {
  for (const e of m) return e;
  return undefined;
}
