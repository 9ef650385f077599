export { startSimulator, type Simulator, type SimulatorOptions } from './server.js';
export type { AppConfig, Envelope } from './api.js';
export { CODES } from './api.js';
export type { SimClock } from './clock.js';
export { DEFAULT_FAULTS, FaultsError, type Faults, type RandomSource } from './faults.js';
export type { SimStats, WindowPeaks } from './stats.js';
export { demoIsUp, startDemoScript, type DemoScript, type DemoScriptOptions, type StreamState } from './streams.js';
export { CallbackSender, withCallbacks, ZEGO_RETRY_GAPS_MS, type CallbackSenderOptions, type SenderStats, type SenderTimers } from './callbacks.js';
