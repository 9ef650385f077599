import type { OutputKind } from '../outputs/types.js';
import type { Secret } from './secret.js';

/** The validated, typed configuration. Durations are milliseconds; names are camelCase here. */
export interface Config {
  zego: ZegoConfig;
  probe: ProbeConfig;
  streams: StreamConfig[];
  callbacks?: CallbacksConfig;
  /** Absent: this process spends its own rate_limit alone (single-process behaviour). */
  fleet?: FleetConfig;
  /** Rooms whose streams and audience are watched (DescribeSimpleStreamList, DescribeUserNum); absent: none. */
  rooms?: RoomConfig[];
  /** Stream mixing tasks watched with GetMixTaskInfo (docs/mix-tasks.md); absent: none. */
  mixTasks?: MixTaskConfig[];
  /** HLS / HTTP-FLV outputs probed as a viewer plays them (docs/outputs.md); absent: none. */
  outputs?: OutputConfig[];
  /** Outputs taken from stream_create / mix_start play URLs (docs/outputs.md); absent: off. */
  outputDiscovery?: OutputDiscoveryConfig;
}

/** One output viewers play from a CDN (issue 24). */
export interface OutputConfig {
  /** The full URL, `${VAR}` expanded: its query string often carries CDN tokens, so it is never logged, exported or shown. */
  url: string;
  /** The URL without its query string: the `output` label, and how logs and pages name it. */
  name: string;
  kind: OutputKind;
  /** How often it is probed; at least OUTPUT_MIN_INTERVAL_MS. */
  intervalMs: number;
  /** Extra labels for its series (`severity` included, when set). */
  labels: Record<string, string>;
  /** The stream that feeds it (ZEGO's relay to the CDN): its state is the publisher layer. */
  streamId?: string;
  /** The mix task whose output it is: the task is the mixer layer, its room's streams the publisher layer. */
  mixTask?: string;
}

/** The shortest interval an output may be probed at (a probe reads a playlist and a segment, or 3 s of FLV). */
export const OUTPUT_MIN_INTERVAL_MS = 5_000;
/** The interval of an output listed without one. */
export const OUTPUT_DEFAULT_INTERVAL_MS = 15_000;

/** `probe.outputs`: the bounds of output probing (docs/configuration.md#probeoutputs). */
export interface OutputProbeSettings {
  /** Probes running at once, over every output. */
  concurrency: number;
  /** Time for one whole probe. */
  timeoutMs: number;
  /** Bytes an HLS probe reads (the playlists and the newest segment's ranged read together). */
  maxBytes: number;
  /** Bytes an HTTP-FLV probe reads within its window. */
  flvMaxBytes: number;
  /** Redirects followed per request (at most 3). */
  maxRedirects: number;
  /** How long an HTTP-FLV probe reads the stream. */
  flvWindowMs: number;
  /** Kept-alive connections to one CDN host for playlists and segments. Needs a restart to change. */
  connectionsPerHost: number;
  /** Connections to one CDN host for HTTP-FLV windows (each holds one for its whole window). Needs a restart to change. */
  flvConnectionsPerHost: number;
}

/** `output_discovery:`: play URLs of callbacks become outputs (docs/outputs.md#discovery). */
export interface OutputDiscoveryConfig {
  /** Hosts (exact, lower case) a discovered URL, and any redirect of it, may be on. */
  allowedHosts: string[];
  /** At most this many discovered outputs are probed. */
  maxOutputs: number;
  /** Outputs of a stream or task that ended are forgotten after this long. */
  forgetAfterMs: number;
  /** How often a discovered output is probed. */
  intervalMs: number;
}

/** One watched mix task. */
export interface MixTaskConfig {
  /** The TaskId as the customer's backend gave it to StartMix (without the AppID prefix callbacks add). */
  id: string;
  /** How often GetMixTaskInfo is asked about it; at least MIX_TASK_MIN_INTERVAL_MS. */
  intervalMs: number;
  /** Extra labels for its series; `severity: critical` marks a key task (ZegoKeyMixTaskDown). */
  labels: Record<string, string>;
}

/** The shortest interval a task may be polled at. */
export const MIX_TASK_MIN_INTERVAL_MS = 1_000;
/** The interval of a task listed without one. */
export const MIX_TASK_DEFAULT_INTERVAL_MS = 15_000;

/** One watched room. */
export interface RoomConfig {
  id: string;
  /** How often its stream list and user count are refreshed; at least ROOM_LIST_HOLD_MS (api/actions.ts). */
  intervalMs: number;
  /** Extra labels for the room's series, and (all but `severity`) for the streams found in it that the config does not list. */
  labels: Record<string, string>;
  /**
   * The `severity` label of the streams found in it that the config does not list (default
   * `none`): never the room's own, since a guest who stops publishing has ended, not gone down.
   */
  streamsSeverity: string;
}

/** Many exporters on one AppID share its budget (and optionally their results) through Redis. */
export interface FleetConfig {
  /** redis:// or rediss:// URL; may carry a password, hence a Secret. */
  redisUrl: Secret;
  keyPrefix: string;
  /** Calls/s this process may spend alone while Redis is unreachable. */
  fallbackRateLimit: number;
  shareResults: boolean;
}

export interface ZegoConfig {
  /** uint32 AppID. */
  appId: number;
  serverSecret: Secret;
  /** Set when the secret came from `server_secret_file` (re-read on reload). */
  serverSecretFile?: string;
  /** Base URL, e.g. https://rtc-api.zego.im (no trailing slash). */
  endpoint: string;
  isTest: boolean;
  /** Probes per second this exporter may spend (at most DescribeRTCStreamState's limit: api/actions.ts). */
  rateLimit: number;
  /** DescribeSimpleStreamList calls per second, a budget of its own (at most its limit). */
  streamListRateLimit: number;
  /** DescribeUserNum calls per second, a budget of its own (at most its limit). */
  userNumRateLimit: number;
  /** GetMixTaskInfo calls per second, a budget of its own (at most its limit). */
  mixTaskInfoRateLimit: number;
  timeoutMs: number;
}

export interface ProbeConfig {
  /** Default refresh interval per stream. */
  intervalMs: number;
  /** At most this many streams found in room lists are watched beyond the listed ones. */
  maxRoomStreams: number;
  /** Streams found in room lists are forgotten once ended for this long (the rooms' own forget_after). */
  roomStreamsForgetAfterMs: number;
  /** The bounds of output probing (`probe.outputs`); the loader fills the defaults, absent reads as them (DEFAULT_OUTPUT_PROBE). */
  outputs?: OutputProbeSettings;
}

export interface StreamConfig {
  /** The id as the user wrote it (without the test-environment prefix). */
  id: string;
  intervalMs: number;
  /** Extra labels for this stream's series (validated Prometheus label names). */
  labels: Record<string, string>;
}

/** ZEGO stream_create / stream_close callbacks. Absent (off) when no secret is configured. */
export interface CallbacksConfig {
  /** The callback secret from ZEGO's console (not the ServerSecret). */
  secret: Secret;
  /** Set when the secret came from `secret_file` (re-read on reload). */
  secretFile?: string;
  /** Path the receiver answers on; default /zego/callback. */
  path: string;
  /**
   * The previous callback secret while rotating: ZEGO's signatures made with it still pass, and
   * fan-out entries are signed with it too and verified against it (docs/callbacks.md).
   */
  previousSecret?: Secret;
  previousSecretFile?: string;
  /** host:port of the listener that serves the receiver and nothing else (default :9793). Needs a restart to change. */
  listenAddress: string;
  /** The config did not set listen_address: the start-up line carries the migration note (the default moved off the main port). */
  listenAddressDefault: boolean;
  /** The callback listener's TLS, chosen apart from the main listener's. Needs a restart to change. */
  tls: CallbackTls;
  /**
   * CIDRs of reverse proxies in front of the callback listener (default none): from them the client a
   * request's body budget is charged to is read from X-Forwarded-For (src/http/client-key.ts).
   */
  trustedProxies?: string[];
  /** Fleet mode: apply fan-out entries without a MAC (an unsigned fleet being upgraded); refused by default. */
  fanoutAcceptUnsigned: boolean;
  discover?: DiscoverConfig;
}

/** `off`: plain HTTP (behind a TLS-terminating Ingress or proxy); `web_config`: --web.config.file's TLS, never its basic auth. */
export type CallbackTls = 'off' | 'web_config';

export interface DiscoverConfig {
  /** Globs (`*` any run of characters) over the bare stream id. */
  patterns: string[];
  maxStreams: number;
  /** Closed discovered streams are forgotten after this long. */
  forgetAfterMs: number;
  /** The `severity` label of the streams it discovers (default `none`: they raise no stream-down alert). */
  streamsSeverity: string;
  /** Globs over a mix_start's task_id (as sent, or without ZEGO's AppID prefix); empty: mix tasks are not discovered. */
  mixTaskPatterns?: string[];
  /** Mix tasks discovered by mix_start watched at most (default 100; their own cap, forget_after is the streams'). */
  maxMixTasks?: number;
}
