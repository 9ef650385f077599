import type { ConfigReader, YamlNode } from '../reader.js';
import type { ProbeConfig } from '../types.js';
import { DEFAULT_OUTPUT_PROBE, readOutputProbe } from './outputs-probe.js';

const DEFAULT_INTERVAL_MS = 15_000;
const DEFAULT_MAX_ROOM_STREAMS = 1000;
const MAX_ROOM_STREAMS_CEILING = 100_000;
const DEFAULT_ROOM_STREAMS_FORGET_AFTER_MS = 3_600_000;

/** `probe:` (optional) — the default refresh interval of every stream, and the cap and forget_after of streams found in rooms. */
export function readProbe(r: ConfigReader, node: YamlNode | null | undefined, present: boolean): ProbeConfig {
  const defaults = {
    intervalMs: DEFAULT_INTERVAL_MS,
    maxRoomStreams: DEFAULT_MAX_ROOM_STREAMS,
    roomStreamsForgetAfterMs: DEFAULT_ROOM_STREAMS_FORGET_AFTER_MS,
    outputs: { ...DEFAULT_OUTPUT_PROBE },
  };
  if (!present) return defaults;
  const f = r.fields(node, 'probe', ['interval', 'max_room_streams', 'room_streams_forget_after', 'outputs']);
  const intervalMs = (f && readInterval(r, f.get('interval'), 'probe.interval', DEFAULT_INTERVAL_MS)) ?? DEFAULT_INTERVAL_MS;
  let maxRoomStreams = DEFAULT_MAX_ROOM_STREAMS;
  if (f?.has('max_room_streams')) {
    const n = r.number(f.get('max_room_streams'), 'probe.max_room_streams');
    if (n !== undefined) {
      if (!Number.isInteger(n) || n < 0 || n > MAX_ROOM_STREAMS_CEILING) {
        r.err('probe.max_room_streams', f.get('max_room_streams'), `must be an integer from 0 to ${MAX_ROOM_STREAMS_CEILING}`);
      } else maxRoomStreams = n;
    }
  }
  let roomStreamsForgetAfterMs = DEFAULT_ROOM_STREAMS_FORGET_AFTER_MS;
  if (f?.has('room_streams_forget_after')) {
    const ms = r.duration(f.get('room_streams_forget_after'), 'probe.room_streams_forget_after');
    if (ms !== undefined) roomStreamsForgetAfterMs = ms;
  }
  const outputs = f?.has('outputs') ? readOutputProbe(r, f.get('outputs')) : { ...DEFAULT_OUTPUT_PROBE };
  return { intervalMs, maxRoomStreams, roomStreamsForgetAfterMs, outputs };
}

/** A probe interval: at least 1 s (the API's Sequence and budget make less meaningless), at most 24 h. */
export function readInterval(r: ConfigReader, node: YamlNode | null | undefined, path: string, fallback: number): number | undefined {
  if (node === undefined) return fallback;
  const d = r.duration(node, path);
  if (d === undefined) return undefined;
  if (d < 1000 || d > 86_400_000) {
    r.err(path, node, 'must be from 1s to 24h');
    return undefined;
  }
  return d;
}
