/**
 * ZEGO's delivery rule for every server callback (stream, room and mix events alike): a callback
 * not answered 2xx is retried up to 5 times, 2, 4, 8, 16 and 32 s after the previous attempt, then
 * dropped. Written once: the simulator sends on this schedule, and whoever waits for a callback
 * that may still come waits this long.
 */
export const CALLBACK_RETRY_GAPS_MS: readonly number[] = Object.freeze([2000, 4000, 8000, 16_000, 32_000]);

/** From the first attempt to the last retry: 62 s. */
export const CALLBACK_RETRY_WINDOW_MS = CALLBACK_RETRY_GAPS_MS.reduce((a, b) => a + b, 0);
