import type { MixInputs } from '../state/mix-tasks.js';
import type { StreamRecord } from '../state/store.js';

/**
 * What the watched streams say of a task's room when polling found the task gone: live when any
 * stream last seen in it is active; gone (since the latest close known, else since an unknown
 * time) when every one is not; undefined when none is watched there (nobody knows, which the state
 * reads as a crash: the case only polling can see).
 */
export function roomInputs(streams: readonly Readonly<StreamRecord>[], roomId: string | null): MixInputs | undefined {
  if (roomId === null) return undefined;
  let seen = false;
  let sinceMs: number | null = null;
  let sinceKnown = true;
  for (const s of streams) {
    if (s.roomId !== roomId) continue;
    seen = true;
    if (s.active === true) return { gone: false };
    const at = s.closeTimeSec !== null ? s.closeTimeSec * 1000 : s.changedAtMs;
    if (at === null) sinceKnown = false;
    else sinceMs = Math.max(sinceMs ?? -Infinity, at);
  }
  if (!seen) return undefined;
  return { gone: true, sinceMs: sinceKnown ? sinceMs : null };
}
