import { isValidRoomId, isValidStreamId } from '../src/zego/protocol.js';
import { isValidMixTaskId } from '../src/zego/mix.js';

/**
 * Stream mixing tasks as ZEGO runs them (../shared notes, "Stream mixing"): started (or updated:
 * StartMix with a TaskId already running changes its inputs, not its age) and stopped by the
 * customer's backend, or dead by themselves. A task ends by itself 90 s after all its input
 * streams are gone; a crashed task just stops existing. Which of these send a `mix_stop` is the
 * caller's business (server.ts): this table only keeps the state and says why a task ended.
 */

/** ZEGO ends a task by itself this long after the last of its input streams left. */
export const MIX_INPUTS_GONE_END_MS = 90_000;
/** StartMix's documented default limits: 9 input streams, 4 output streams. */
export const MAX_MIX_INPUTS = 9;
export const MAX_MIX_OUTPUTS = 4;

export type MixEndReason = 'stop' | 'crash' | 'inputs_gone';

export interface MixTaskSpec {
  /** Input stream ids as the API knows them (1 to 9). */
  inputs: string[];
  /** The room the task mixes (channel_id in its callbacks). */
  roomId?: string;
  /** Output stream ids (1 to 4); default one, `<task id>-mix` when that is a valid stream id, else `mix-output`. */
  outputs?: string[];
  /** The user id that started the task (publish_id in its callbacks). */
  userId?: string;
  /**
   * Whether ZEGO's own end of the task (its inputs gone for 90 s) sends a `mix_stop`: the docs name
   * only a failed stop and an abnormal end as silent, but do not say. Default true.
   */
  inputsGoneCallback?: boolean;
}

/** A task as the control API shows it. Times are Unix seconds of the simulator's wall clock. */
export interface MixTaskView {
  state: 'running' | 'stopped';
  inputs: string[];
  outputs: string[];
  roomId: string | null;
  userId: string;
  inputsGoneCallback: boolean;
  startedAt: number;
  /** What GetMixTaskInfo's MixDuration says now (0 once stopped). */
  mixDuration: number;
  /** Since when every input is gone (the 90 s count runs), null while one is up. */
  inputsGoneSince: number | null;
  endedAt: number | null;
  endReason: MixEndReason | null;
  /** The `seq` of the task's last start or stop: ZEGO's callbacks carry the request's sequence. */
  seq: number;
}

export class MixTaskError extends Error {
  override name = 'MixTaskError';
}

interface Task {
  spec: Required<Omit<MixTaskSpec, 'roomId'>> & { roomId: string | null };
  startMono: number;
  startWallMs: number;
  goneSinceMono: number | null;
  goneSinceWallMs: number | null;
  ended: { atWallMs: number; reason: MixEndReason } | null;
  seq: number;
}

/** A task that just ended, and why (for the caller to send, or not send, its mix_stop). */
export interface MixEnded {
  taskId: string;
  reason: MixEndReason;
  view: MixTaskView;
}

export interface MixClock {
  monoMs(): number;
  /** Simulator wall clock (offset applied): the times the control API and callbacks show. */
  wallMs(): number;
}

function defaultOutput(taskId: string): string {
  const id = `${taskId}-mix`;
  return isValidStreamId(id) ? id : 'mix-output';
}

/** Validates a start request field by field; every message names the field. */
export function validateMixSpec(taskId: string, spec: MixTaskSpec): Task['spec'] {
  if (!isValidMixTaskId(taskId)) throw new MixTaskError('task id must be 1..256 bytes of printable ASCII without spaces');
  const inputs = spec.inputs;
  if (!Array.isArray(inputs) || inputs.length < 1 || inputs.length > MAX_MIX_INPUTS)
    throw new MixTaskError(`inputs must list 1 to ${MAX_MIX_INPUTS} stream ids`);
  for (const s of inputs) if (typeof s !== 'string' || !isValidStreamId(s)) throw new MixTaskError('inputs must be stream ids: 1..256 bytes of [A-Za-z0-9_-]');
  if (new Set(inputs).size !== inputs.length) throw new MixTaskError('inputs must not repeat a stream');
  const outputs = spec.outputs ?? [defaultOutput(taskId)];
  if (!Array.isArray(outputs) || outputs.length < 1 || outputs.length > MAX_MIX_OUTPUTS)
    throw new MixTaskError(`outputs must list 1 to ${MAX_MIX_OUTPUTS} stream ids`);
  for (const s of outputs)
    if (typeof s !== 'string' || !isValidStreamId(s)) throw new MixTaskError('outputs must be stream ids: 1..256 bytes of [A-Za-z0-9_-]');
  if (new Set(outputs).size !== outputs.length) throw new MixTaskError('outputs must not repeat a stream');
  if (spec.roomId !== undefined && (typeof spec.roomId !== 'string' || !isValidRoomId(spec.roomId))) throw new MixTaskError('roomId breaks the room id rule');
  const userId = spec.userId ?? 'mix-user';
  if (typeof userId !== 'string' || !/^[\x21-\x7e]{1,64}$/.test(userId)) throw new MixTaskError('userId must be 1..64 printable ASCII characters');
  const inputsGoneCallback = spec.inputsGoneCallback ?? true;
  if (typeof inputsGoneCallback !== 'boolean') throw new MixTaskError('inputsGoneCallback must be true or false');
  return { inputs: [...inputs], outputs: [...outputs], roomId: spec.roomId ?? null, userId, inputsGoneCallback };
}

/**
 * The mixing service's tasks. `isUp(streamId)` is the stream model's answer (active or not), so an
 * input stopped anywhere (control API, room, script) counts as gone. Time only moves through
 * `settle()`: whoever reads the table (the API, the control API, the server's sweep) settles first,
 * so a fake clock needs no timers.
 */
export class MixTable {
  readonly #tasks = new Map<string, Task>();
  readonly #clock: MixClock;
  readonly #isUp: (streamId: string) => boolean;
  #seq = 0;

  constructor(clock: MixClock, isUp: (streamId: string) => boolean) {
    this.#clock = clock;
    this.#isUp = isUp;
  }

  /**
   * StartMix: a task not running starts (age 0, a new `seq`: the caller sends mix_start); a running
   * one is updated in place, keeping its age, as ZEGO documents for a repeated TaskId.
   */
  start(taskId: string, spec: MixTaskSpec): { started: boolean; view: MixTaskView } {
    const valid = validateMixSpec(taskId, spec);
    const now = this.#clock.monoMs();
    const prev = this.#tasks.get(taskId);
    if (prev !== undefined && prev.ended === null) {
      prev.spec = valid;
      this.#track(prev, now);
      return { started: false, view: this.#view(prev) };
    }
    const task: Task = {
      spec: valid,
      startMono: now,
      startWallMs: this.#clock.wallMs(),
      goneSinceMono: null,
      goneSinceWallMs: null,
      ended: null,
      seq: ++this.#seq,
    };
    this.#tasks.set(taskId, task);
    this.#track(task, now);
    return { started: true, view: this.#view(task) };
  }

  /** StopMix (`stop`, a mix_stop follows) or a dead mixer (`crash`, nothing follows). Undefined when not running. */
  end(taskId: string, reason: 'stop' | 'crash'): MixEnded | undefined {
    this.settle();
    const task = this.#tasks.get(taskId);
    if (task === undefined || task.ended !== null) return undefined;
    return this.#end(taskId, task, reason);
  }

  /** What GetMixTaskInfo reads: the running task's age in whole seconds, or undefined. */
  info(taskId: string): { mixDuration: number } | undefined {
    const task = this.#tasks.get(taskId);
    if (task === undefined || task.ended !== null) return undefined;
    return { mixDuration: this.#age(task) };
  }

  /** A stream changed state: tasks mixing it start or stop their 90 s count. */
  streamChanged(streamId: string): void {
    const now = this.#clock.monoMs();
    for (const task of this.#tasks.values()) if (task.ended === null && task.spec.inputs.includes(streamId)) this.#track(task, now);
  }

  /** Ends the tasks whose inputs have been gone for 90 s; returns them (oldest count first). */
  settle(): MixEnded[] {
    const now = this.#clock.monoMs();
    const due: [string, Task][] = [];
    for (const [id, task] of this.#tasks) {
      if (task.ended === null && task.goneSinceMono !== null && now - task.goneSinceMono >= MIX_INPUTS_GONE_END_MS) due.push([id, task]);
    }
    due.sort((a, b) => (a[1].goneSinceMono ?? 0) - (b[1].goneSinceMono ?? 0));
    return due.map(([id, task]) => this.#end(id, task, 'inputs_gone', (task.goneSinceWallMs ?? 0) + MIX_INPUTS_GONE_END_MS));
  }

  /** Whether a running task outputs the stream: its mixed stream has a feed for the CDN. */
  outputsStream(streamId: string): boolean {
    for (const task of this.#tasks.values()) if (task.ended === null && task.spec.outputs.includes(streamId)) return true;
    return false;
  }

  /** Forgets a task whatever its state (no callback): the control API's DELETE of a stopped task. */
  remove(taskId: string): boolean {
    return this.#tasks.delete(taskId);
  }

  view(taskId: string): MixTaskView | undefined {
    const task = this.#tasks.get(taskId);
    return task === undefined ? undefined : this.#view(task);
  }

  snapshot(): Record<string, MixTaskView> {
    const out: Record<string, MixTaskView> = {};
    for (const [id, task] of this.#tasks) out[id] = this.#view(task);
    return out;
  }

  #end(taskId: string, task: Task, reason: MixEndReason, atWallMs = this.#clock.wallMs()): MixEnded {
    task.ended = { atWallMs, reason };
    task.seq = ++this.#seq;
    return { taskId, reason, view: this.#view(task) };
  }

  #track(task: Task, nowMono: number): void {
    const anyUp = task.spec.inputs.some((id) => this.#isUp(id));
    if (anyUp) {
      task.goneSinceMono = null;
      task.goneSinceWallMs = null;
    } else if (task.goneSinceMono === null) {
      task.goneSinceMono = nowMono;
      task.goneSinceWallMs = this.#clock.wallMs();
    }
  }

  #age(task: Task): number {
    return Math.max(0, Math.floor((this.#clock.monoMs() - task.startMono) / 1000));
  }

  #view(task: Task): MixTaskView {
    return {
      state: task.ended === null ? 'running' : 'stopped',
      inputs: [...task.spec.inputs],
      outputs: [...task.spec.outputs],
      roomId: task.spec.roomId,
      userId: task.spec.userId,
      inputsGoneCallback: task.spec.inputsGoneCallback,
      startedAt: Math.floor(task.startWallMs / 1000),
      mixDuration: task.ended === null ? this.#age(task) : 0,
      inputsGoneSince: task.goneSinceWallMs === null ? null : Math.floor(task.goneSinceWallMs / 1000),
      endedAt: task.ended === null ? null : Math.floor(task.ended.atWallMs / 1000),
      endReason: task.ended?.reason ?? null,
      seq: task.seq,
    };
  }
}

// ---- scripted demo mix task ----------------------------------------------------------------

/** The demo's mix task: it mixes the demo room's host, and its mixer crashes now and then. */
export const DEMO_MIX_TASK_ID = 'demo-mix';
/** The demo mix task's cycle: it runs 4 minutes, its mixer dies (no callback), it is restarted a minute later. */
export const DEMO_MIX_PERIOD_SEC = 300;
export const DEMO_MIX_UP_SEC = 240;

/** Whether the demo mix task runs `elapsedSec` into the demo: a pure function of time, like the other demo schedules. */
export function demoMixRunning(elapsedSec: number): boolean {
  return elapsedSec % DEMO_MIX_PERIOD_SEC < DEMO_MIX_UP_SEC;
}

export interface MixDemoTarget {
  startMix(taskId: string, spec: MixTaskSpec): unknown;
  crashMix(taskId: string): unknown;
}

/** Plays demoMixRunning: started with `spec`, crashed (no mix_stop) when the schedule says, started again. */
export function startMixDemoScript(
  sim: MixDemoTarget,
  spec: MixTaskSpec,
  opts: { tickMs?: number; timers?: { setInterval(fn: () => void, ms: number): unknown; clearInterval(handle: unknown): void } } = {},
): { stop(): void } {
  const tickMs = opts.tickMs ?? 1000;
  const timers = opts.timers ?? {
    setInterval: (fn: () => void, ms: number) => setInterval(fn, ms),
    clearInterval: (h: unknown) => clearInterval(h as NodeJS.Timeout),
  };
  let up = false;
  let ticks = 0;
  const apply = (): void => {
    const want = demoMixRunning(Math.floor((ticks * tickMs) / 1000));
    if (want === up) return;
    up = want;
    if (want) sim.startMix(DEMO_MIX_TASK_ID, spec);
    else sim.crashMix(DEMO_MIX_TASK_ID);
  };
  apply();
  const handle = timers.setInterval(() => {
    ticks++;
    apply();
  }, tickMs);
  return { stop: () => timers.clearInterval(handle) };
}
