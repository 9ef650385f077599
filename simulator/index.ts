export { startSimulator, type Simulator, type SimulatorOptions } from './server.js';
export type { AppConfig, Envelope, RoomAppLimitCode, SimAction } from './api.js';
export { CODES } from './codes.js';
export type { SimClock } from './clock.js';
export { DEFAULT_FAULTS, FaultsError, type Faults, type RandomSource } from './faults.js';
export type { SimStats, WindowPeaks } from './stats.js';
export { demoIsUp, startDemoScript, type DemoScript, type DemoScriptOptions, type StreamState } from './streams.js';
export {
  CallbackSender,
  withCallbacks,
  ZEGO_RETRY_GAPS_MS,
  type CallbackSenderOptions,
  type OnDemandEvent,
  type SenderStats,
  type SenderTimers,
  type StreamRoom,
} from './callbacks.js';
export {
  CALLBACK_ENCODINGS,
  encodeCallback,
  signCallback,
  streamCallbackFields,
  type CallbackEncoding,
  type CallbackFields,
  type StreamCallbackEvent,
  type StreamCallbackInput,
} from './callback-body.js';
export { defaultRoomId, RoomSessions, type SessionStamp } from './sessions.js';
export { DEMO_ROOM_ID, DEMO_ROOM_STREAMS, demoRoomAt, startRoomDemoScript, RoomStateError, type RoomState, type RoomDemoOptions } from './rooms.js';
export { ROOM_RULE_MS } from './api.js';
export { MixTable, MixTaskError, MAX_MIX_INPUTS, MAX_MIX_OUTPUTS, type MixTaskSpec, type MixTaskView, type MixEndReason } from './mix.js';
export { DEFAULT_MIX_TASK_ID_SEPARATOR, MIX_CALLBACK_EVENTS, mixCallbackFields, type MixCallbackEvent, type MixCallbackInput } from './mix-callback-body.js';
export type { MixCallbackRequest } from './server.js';
export {
  DEFAULT_HLS_TARGET_DURATION_S,
  DEFAULT_SLOW_FIRST_BYTE_MS,
  DEMO_OUTPUT_ID,
  demoOutputStalled,
  OUTPUT_FAULTS,
  OutputFaultError,
  startOutputDemoScript,
  type OutputFault,
  type OutputPatch,
  type OutputView,
} from './cdn.js';
export { HLS_VARIANTS, HLS_WINDOW_SEGMENTS, liveEdge } from './hls.js';
