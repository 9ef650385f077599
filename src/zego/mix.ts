/**
 * The rules of ZEGO's stream mixing that the exporter and the simulator share, written once (see
 * ../shared notes, "Stream mixing", and docs/mix-tasks.md): what a task id may be, how the AppID
 * prefix ZEGO puts on a callback's `task_id` is read, and when ZEGO ends a task by itself.
 */

/**
 * ZEGO documents no rule for a TaskId. The exporter's bound: 1..256 bytes of printable ASCII
 * without spaces, so an id is a safe label value and a bounded map key; the docs' examples
 * ("task_test_123", "2213699902971205739") fit it.
 */
export const MAX_MIX_TASK_ID_BYTES = 256;
const TASK_ID_RE = /^[\x21-\x7e]+$/;

export function isValidMixTaskId(id: string): boolean {
  return id.length >= 1 && id.length <= MAX_MIX_TASK_ID_BYTES && TASK_ID_RE.test(id);
}

/** A task ends by itself this long after all its input streams are gone. */
export const MIX_INPUTS_GONE_END_MS = 90_000;

/**
 * The separators seen (or plausible) between the AppID and the task id in a callback's `task_id`:
 * the docs' example is `111111:1111` for task `1111` of AppID 111111; the text says only that the
 * AppID is "added as a prefix", so the bare concatenation is read too.
 */
export const MIX_TASK_ID_SEPARATORS: readonly string[] = [':', '_', '-', '.', '|'];

/**
 * The task ids a callback's `task_id` may stand for, most specific first: without the AppID and a
 * separator, without the AppID alone, and as given. Only ids that keep the task id rule are listed.
 */
export function mixTaskIdCandidates(raw: string, appId: number): string[] {
  const prefix = String(appId);
  const out: string[] = [];
  if (raw.startsWith(prefix) && raw.length > prefix.length) {
    const rest = raw.slice(prefix.length);
    if (MIX_TASK_ID_SEPARATORS.includes(rest[0]!) && rest.length > 1) out.push(rest.slice(1));
    out.push(rest);
  }
  out.push(raw);
  return out.filter((id, i) => isValidMixTaskId(id) && out.indexOf(id) === i);
}

/**
 * The task a callback's `task_id` is about: the AppID prefix (with or without a separator) is
 * removed when what remains is a watched task; otherwise the id is kept as given (a discovered
 * task is known by what ZEGO calls it). Null when the id breaks the task id rule.
 */
export function resolveMixTaskId(raw: string, appId: number, isWatched: (taskId: string) => boolean): string | null {
  const candidates = mixTaskIdCandidates(raw, appId);
  if (!isValidMixTaskId(raw)) return candidates.find(isWatched) ?? null;
  return candidates.find(isWatched) ?? raw;
}
