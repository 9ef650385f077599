import { FaultsError, parseFaultsPatch, type Faults } from './faults.js';
import type { SimStats } from './stats.js';
import { isValidStreamId } from '../src/zego/protocol.js';
import { StreamStateError, type StreamState } from './streams.js';

/** What the control endpoints may do to a running simulator. */
export interface ControlTarget {
  stats(): SimStats;
  resetStats(): void;
  streams(): Record<string, StreamState>;
  transitionStream(id: string, target: 'active' | 'closed'): StreamState;
  removeStream(id: string): boolean;
  setFaults(patch: Partial<Faults>): Faults;
  faults(): Faults;
}

export interface ControlResponse {
  status: number;
  body: unknown;
}

const bad = (message: string, status = 400): ControlResponse => ({ status, body: { error: message } });

function parseJson(raw: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(raw) as unknown };
  } catch {
    return { ok: false };
  }
}

/**
 * `/_sim/*`: JSON in, JSON out. Every bad input is a 4xx with `{error}`; nothing here may throw
 * into the HTTP server, because a test poking the control surface must never take down the
 * simulator the rest of the suite is using.
 */
export function handleControl(method: string, path: string, rawBody: string, sim: ControlTarget): ControlResponse {
  const route = path.slice('/_sim/'.length);

  if (route === 'stats') return method === 'GET' ? { status: 200, body: sim.stats() } : bad('method not allowed', 405);
  if (route === 'stats/reset') {
    if (method !== 'POST') return bad('method not allowed', 405);
    sim.resetStats();
    return { status: 200, body: { ok: true } };
  }
  if (route === 'streams') return method === 'GET' ? { status: 200, body: sim.streams() } : bad('method not allowed', 405);
  if (route === 'faults') {
    if (method === 'GET') return { status: 200, body: sim.faults() };
    if (method !== 'PUT') return bad('method not allowed', 405);
    const parsed = parseJson(rawBody);
    if (!parsed.ok) return bad('body must be JSON');
    try {
      return { status: 200, body: sim.setFaults(parseFaultsPatch(parsed.value)) };
    } catch (err) {
      if (err instanceof FaultsError) return bad(err.message);
      throw err;
    }
  }
  if (route.startsWith('streams/')) {
    let id: string;
    try {
      id = decodeURIComponent(route.slice('streams/'.length));
    } catch {
      return bad('malformed stream id');
    }
    if (!isValidStreamId(id)) return bad('stream id must be 1..256 bytes of [A-Za-z0-9_-]');
    if (method === 'DELETE') {
      return sim.removeStream(id) ? { status: 200, body: { deleted: id } } : bad('no such stream', 404);
    }
    if (method !== 'PUT') return bad('method not allowed', 405);
    const parsed = parseJson(rawBody);
    if (!parsed.ok) return bad('body must be JSON');
    const v = parsed.value;
    const state = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>).state : undefined;
    if (state !== 'active' && state !== 'closed') return bad('body must be {"state":"active"|"closed"}');
    try {
      return { status: 200, body: { id, ...sim.transitionStream(id, state) } };
    } catch (err) {
      if (err instanceof StreamStateError) return bad(err.message);
      throw err;
    }
  }
  return bad('not found', 404);
}
