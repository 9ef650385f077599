import { describe, expect, it } from 'vitest';
import { CALLBACK_SLACK_MS, MIX_STOP_WINDOW_MS, MixTaskState, type MixStop } from '../../src/state/mix-tasks.js';

/** Whole seconds of a fake wall clock (callback timestamps are whole seconds). */
const T0 = 1_700_000_000_000;
const at = (s: number): number => T0 + s * 1000;
const running = (d: number) => ({ kind: 'active' as const, mixDurationSec: d });
const gone = { kind: 'not_found' as const };

describe('mix task state: callbacks', () => {
  it('mix_start: running from its timestamp, the output remembered; mix_stop: not running, one stop by callback', () => {
    const s = new MixTaskState();
    expect(s.view(at(0))).toMatchObject({ running: null, durationSec: null, probeSuccess: null, stops: { callback: 0, inputs_gone: 0, unannounced: 0 } });
    const output = { streamId: 'show-out', playUrls: { rtmp: ['rtmp://a/show-out'], hls: [], hdl: [] } };
    expect(s.callback({ event: 'mix_start', seq: 1, atMs: at(10), roomId: 'room-1', output })).toBeNull();
    expect(s.view(at(25))).toMatchObject({ running: true, durationSec: 15, roomId: 'room-1', output });
    expect(s.callback({ event: 'mix_stop', seq: 2, atMs: at(40) })).toEqual({ reason: 'callback', atMs: at(40) });
    expect(s.view(at(41))).toMatchObject({ running: false, durationSec: null, stops: { callback: 1, inputs_gone: 0, unannounced: 0 } });
    // The output outlives the run (the output-probe issue reads it).
    expect(s.view(at(41)).output).toEqual(output);
    // A second mix_stop for the same run (a retry under a new nonce) counts nothing.
    expect(s.callback({ event: 'mix_stop', seq: 2, atMs: at(42) })).toBeNull();
    expect(s.view(at(43)).stops.callback).toBe(1);
  });

  it('orders callbacks by timestamp, then seq: an older one arriving late changes nothing', () => {
    const s = new MixTaskState();
    s.callback({ event: 'mix_stop', seq: 5, atMs: at(20) });
    expect(s.callback({ event: 'mix_start', seq: 4, atMs: at(10) })).toBeNull();
    expect(s.view(at(30)).running).toBe(false);
    // Same second: the higher seq is the later request.
    s.callback({ event: 'mix_start', seq: 7, atMs: at(50) });
    expect(s.callback({ event: 'mix_stop', seq: 6, atMs: at(50) })).toBeNull();
    expect(s.view(at(51)).running).toBe(true);
    expect(s.callback({ event: 'mix_stop', seq: 8, atMs: at(50) })).toEqual({ reason: 'callback', atMs: at(50) });
  });
});

describe('mix task state: polls', () => {
  it('a poll sets running and the age from MixDuration; a failed one only clears probe success', () => {
    const s = new MixTaskState();
    s.poll({ outcome: running(100), sentAtMs: at(200) });
    expect(s.view(at(230))).toMatchObject({ running: true, durationSec: 130, probeSuccess: true, lastSuccessMs: at(200) });
    s.poll({ outcome: { kind: 'failed' }, sentAtMs: at(215) });
    expect(s.view(at(230))).toMatchObject({ running: true, durationSec: 130, probeSuccess: false, lastSuccessMs: at(200) });
  });

  it('an answer sent before the last one applied cannot undo it', () => {
    const s = new MixTaskState();
    s.poll({ outcome: running(5), sentAtMs: at(20) });
    s.poll({ outcome: gone, sentAtMs: at(10) });
    expect(s.view(at(21))).toMatchObject({ running: true, lastSuccessMs: at(20) });
  });

  it('a task never seen running and found gone is not running, and no stop is counted', () => {
    const s = new MixTaskState({ stopWindowMs: 1000 });
    s.poll({ outcome: gone, sentAtMs: at(0) });
    expect(s.settle(at(3600))).toEqual([]);
    expect(s.view(at(3600))).toMatchObject({ running: false, stops: { callback: 0, inputs_gone: 0, unannounced: 0 }, awaitingStopSinceMs: [] });
  });

  it('a poll within the slack after a callback cannot contradict it; one after it can', () => {
    const s = new MixTaskState();
    s.callback({ event: 'mix_start', seq: 1, atMs: at(100) });
    s.poll({ outcome: gone, sentAtMs: at(100) + CALLBACK_SLACK_MS - 1 });
    expect(s.view(at(103)).running).toBe(true);
    s.callback({ event: 'mix_stop', seq: 2, atMs: at(200) });
    s.poll({ outcome: running(150), sentAtMs: at(201) });
    expect(s.view(at(202)).running).toBe(false);
    // Well after the stop, polling knows better: the task runs again (restarted, its mix_start lost).
    s.poll({ outcome: running(3), sentAtMs: at(210) });
    expect(s.view(at(210))).toMatchObject({ running: true, durationSec: 3 });
  });
});

describe('mix task state: stops only polling sees', () => {
  it(`a crash (inputs live, no mix_stop): not running at once, counted unannounced once ${MIX_STOP_WINDOW_MS / 1000} s later`, () => {
    const s = new MixTaskState();
    s.poll({ outcome: running(60), sentAtMs: at(0) });
    expect(s.poll({ outcome: gone, sentAtMs: at(10), inputs: { gone: false } })).toEqual([]);
    expect(s.view(at(10))).toMatchObject({ running: false, durationSec: null, awaitingStopSinceMs: [at(10)] });
    expect(s.nextDeadlineMs()).toBe(at(10) + MIX_STOP_WINDOW_MS);
    expect(s.settle(at(10) + MIX_STOP_WINDOW_MS - 1)).toEqual([]);
    expect(s.settle(at(10) + MIX_STOP_WINDOW_MS)).toEqual<MixStop[]>([{ reason: 'unannounced', atMs: at(10) }]);
    expect(s.settle(at(10) + 10 * MIX_STOP_WINDOW_MS)).toEqual([]);
    expect(s.view(at(500))).toMatchObject({ stops: { callback: 0, inputs_gone: 0, unannounced: 1 }, awaitingStopSinceMs: [] });
    expect(s.nextDeadlineMs()).toBeNull();
    // Still gone at the next polls: the same stop, not another.
    s.poll({ outcome: gone, sentAtMs: at(520) });
    expect(s.settle(at(520) + MIX_STOP_WINDOW_MS)).toEqual([]);
  });

  it('a mix_stop arriving within the window (a retried one) makes it a stop by callback, never unannounced', () => {
    const s = new MixTaskState();
    s.poll({ outcome: running(60), sentAtMs: at(0) });
    s.poll({ outcome: gone, sentAtMs: at(10), inputs: { gone: false } });
    expect(s.callback({ event: 'mix_stop', seq: 9, atMs: at(40) })).toEqual({ reason: 'callback', atMs: at(10) });
    expect(s.settle(at(10) + MIX_STOP_WINDOW_MS)).toEqual([]);
    expect(s.view(at(200)).stops).toEqual({ callback: 1, inputs_gone: 0, unannounced: 0 });
  });

  it.each<[string, { gone: true; sinceMs: number | null }, 'inputs_gone' | 'unannounced']>([
    ['inputs gone 95 s before', { gone: true, sinceMs: at(10 - 95) }, 'inputs_gone'],
    ['inputs gone since an unknown time', { gone: true, sinceMs: null }, 'inputs_gone'],
    ['inputs gone only 20 s before (ZEGO would still have waited)', { gone: true, sinceMs: at(10 - 20) }, 'unannounced'],
  ])('found gone with %s → %s', (_name, inputs, reason) => {
    const s = new MixTaskState();
    s.poll({ outcome: running(60), sentAtMs: at(0) });
    s.poll({ outcome: gone, sentAtMs: at(10), inputs });
    expect(s.settle(at(10) + MIX_STOP_WINDOW_MS)).toEqual([{ reason, atMs: at(10) }]);
  });

  it('inputs unknown when the task was found gone are filled in by the next poll that knows them', () => {
    const s = new MixTaskState();
    s.poll({ outcome: running(60), sentAtMs: at(0) });
    s.poll({ outcome: gone, sentAtMs: at(10) });
    s.poll({ outcome: gone, sentAtMs: at(20), inputs: { gone: true, sinceMs: at(-100) } });
    expect(s.settle(at(10) + MIX_STOP_WINDOW_MS)).toEqual([{ reason: 'inputs_gone', atMs: at(10) }]);
  });

  it('found gone, then running since before: the "gone" was wrong and no stop is counted', () => {
    const s = new MixTaskState();
    s.poll({ outcome: running(60), sentAtMs: at(0) });
    s.poll({ outcome: gone, sentAtMs: at(10) });
    s.poll({ outcome: running(80), sentAtMs: at(20) });
    expect(s.view(at(20))).toMatchObject({ running: true, durationSec: 80, awaitingStopSinceMs: [] });
    expect(s.settle(at(1000))).toEqual([]);
  });

  it('found gone, then a new run: running again, and the old run still counts as a stop', () => {
    const s = new MixTaskState();
    s.poll({ outcome: running(60), sentAtMs: at(0) });
    s.poll({ outcome: gone, sentAtMs: at(10), inputs: { gone: false } });
    s.poll({ outcome: running(3), sentAtMs: at(20) });
    expect(s.view(at(20))).toMatchObject({ running: true, durationSec: 3, awaitingStopSinceMs: [at(10)] });
    expect(s.settle(at(10) + MIX_STOP_WINDOW_MS)).toEqual([{ reason: 'unannounced', atMs: at(10) }]);
    expect(s.view(at(200)).running).toBe(true);
  });

  it('keeps at most 4 stops waiting: a fifth decides the oldest at once', () => {
    const s = new MixTaskState();
    const decided: MixStop[] = [];
    for (let i = 0; i < 5; i++) {
      s.poll({ outcome: running(1), sentAtMs: at(i * 10) });
      decided.push(...s.poll({ outcome: gone, sentAtMs: at(i * 10 + 5) }));
    }
    expect(decided).toEqual([{ reason: 'unannounced', atMs: at(5) }]);
    expect(s.view(at(50)).awaitingStopSinceMs).toEqual([at(15), at(25), at(35), at(45)]);
  });
});
