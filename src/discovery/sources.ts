import type { Config } from '../config/types.js';
import { DEFAULT_MAX_MIX_TASKS } from '../config/sections/callbacks.js';

/**
 * What is discovered: streams and stream mixing tasks (the CDN outputs viewers play are next): a
 * kind is a row here, its sources rows in SOURCES, and the hooks the core gives it (discovered.ts).
 */
export type DiscoveryKind = 'stream' | 'mix_task';

export interface KindRow {
  /** The ids the config lists: never discovered, never counted against a cap, never forgotten. */
  listed(config: Config): Iterable<string>;
  /** The log field naming one of them, and what one is called in log lines. */
  idField: string;
  noun: string;
}

export const KINDS: Readonly<Record<DiscoveryKind, KindRow>> = {
  stream: { listed: (c) => c.streams.map((s) => s.id), idField: 'stream_id', noun: 'stream' },
  mix_task: { listed: (c) => (c.mixTasks ?? []).map((m) => m.id), idField: 'task_id', noun: 'mix task' },
};

/**
 * Where discovered things come from, each of one kind: a watched room's stream list, a
 * `stream_create` callback matching callbacks.discover.patterns, a `mix_start` callback matching
 * callbacks.discover.mix_task_patterns, an output fed by a stream nothing else watches. For streams the source is also the stream's origin
 * (zego_stream_source_info).
 */
export type StreamSource = 'room' | 'callback' | 'output';
export type DiscoverySource = StreamSource | 'mix_callback';
/** The sources of one kind (what its hooks and watched() name as the owner). */
export type SourceOf<K extends DiscoveryKind> = K extends 'stream' ? StreamSource : Exclude<DiscoverySource, StreamSource>;

/** A source's cap and forget_after, from the config. */
export interface SourceSettings {
  cap: number;
  forgetAfterMs: number;
}

export interface SourceRow {
  kind: DiscoveryKind;
  /** The config key of its cap, named in the log line when the cap is reached. */
  capKey: string;
  /** Its settings; null: the source is off (what it found is forgotten, nothing new is taken). */
  settings(config: Config): SourceSettings | null;
}

export const SOURCES: Readonly<Record<DiscoverySource, SourceRow>> = {
  room: {
    kind: 'stream',
    capKey: 'probe.max_room_streams',
    settings: (c) => ({ cap: c.probe.maxRoomStreams, forgetAfterMs: c.probe.roomStreamsForgetAfterMs }),
  },
  callback: {
    kind: 'stream',
    capKey: 'callbacks.discover.max_streams',
    settings: (c) => {
      const d = c.callbacks?.discover;
      return d ? { cap: d.maxStreams, forgetAfterMs: d.forgetAfterMs } : null;
    },
  },
  // Its own cap; a stopped task is forgotten after the streams' forget_after (one rule for what ended).
  mix_callback: {
    kind: 'mix_task',
    capKey: 'callbacks.discover.max_mix_tasks',
    settings: (c) => {
      const d = c.callbacks?.discover;
      return d && (d.mixTaskPatterns ?? []).length > 0 ? { cap: d.maxMixTasks ?? DEFAULT_MAX_MIX_TASKS, forgetAfterMs: d.forgetAfterMs } : null;
    },
  },
  // The streams that feed outputs (docs/outputs.md): one per listed output at most, plus the discovered outputs' cap.
  output: {
    kind: 'stream',
    capKey: 'output_discovery.max_outputs',
    settings: (c) =>
      (c.outputs?.length ?? 0) > 0 || c.outputDiscovery
        ? { cap: (c.outputs?.length ?? 0) + (c.outputDiscovery?.maxOutputs ?? 0), forgetAfterMs: c.outputDiscovery?.forgetAfterMs ?? 3_600_000 }
        : null,
  },
};

export const SOURCE_NAMES = Object.keys(SOURCES) as DiscoverySource[];
