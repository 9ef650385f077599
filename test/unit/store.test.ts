import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiHealth } from '../../src/state/api-health.js';
import { StateStore, type WatchedStream } from '../../src/state/store.js';
import type { FailureReason, ProbeOutcome, ProbeResult } from '../../src/zego/outcome.js';

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

const INFO = 30;
const WARN = 40;
const ERROR = 50;

function capture(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines };
}

function clock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

function result(outcome: ProbeOutcome, code: string): ProbeResult {
  return { outcome, code, sentAtMs: 0, durationMs: 12 };
}
const active = (createTimeSec: number | null = 1_699_999_000): ProbeResult => result({ kind: 'active', createTimeSec }, '0');
const closed = (): ProbeResult => result({ kind: 'closed', createTimeSec: 1_699_999_000, closeTimeSec: 1_699_999_500 }, '41006');
const notFound = (): ProbeResult => result({ kind: 'not_found' }, '41004');
const failed = (reason: FailureReason, code: string, message = `Code ${code}: boom`): ProbeResult => result({ kind: 'failed', reason, message }, code);

function watched(id: string, labels: Record<string, string> = {}, intervalMs = 10_000): WatchedStream {
  return { id, labels, intervalMs };
}

function setup(): { store: StateStore; lines: LogLine[]; advance: (ms: number) => void; now: () => number } {
  const { logger, lines } = capture();
  const c = clock();
  const store = new StateStore({ logger, now: c.now });
  store.setStreams([watched('s1', { team: 'a' })]);
  return { store, lines, advance: c.advance, now: c.now };
}

describe('StateStore', () => {
  it('is unknown until the first probe', () => {
    const { store, lines } = setup();
    const s = store.get('s1')!;
    expect(s.active).toBeNull();
    expect(s.probeSuccess).toBeNull();
    expect(s.lastProbeMs).toBeNull();
    expect(s.lastSuccessMs).toBeNull();
    expect(lines).toHaveLength(0);
  });

  it('stays unknown after failures before the first success', () => {
    const { store } = setup();
    store.applyProbe('s1', failed('transient', 'timeout', 'no response'));
    const s = store.get('s1')!;
    expect(s.active).toBeNull();
    expect(s.probeSuccess).toBe(false);
    expect(s.lastError).toBe('no response');
    expect(s.lastCode).toBe('timeout');
    expect(s.lastSuccessMs).toBeNull();
  });

  it('active sets createTime, probe success and timestamps', () => {
    const { store, now } = setup();
    store.applyProbe('s1', active(1_699_999_000));
    const s = store.get('s1')!;
    expect(s.active).toBe(true);
    expect(s.notFound).toBe(false);
    expect(s.createTimeSec).toBe(1_699_999_000);
    expect(s.probeSuccess).toBe(true);
    expect(s.lastProbeMs).toBe(now());
    expect(s.lastSuccessMs).toBe(now());
    expect(s.lastCode).toBe('0');
    expect(s.changedAtMs).toBe(now());
    expect(s.source).toBe('probe');
  });

  it('a failed probe after active keeps active, marks the probe failed, keeps lastSuccess', () => {
    const { store, advance, now } = setup();
    store.applyProbe('s1', active());
    const successAt = now();
    advance(10_000);
    store.applyProbe('s1', failed('throttled', '30002'));
    const s = store.get('s1')!;
    expect(s.active).toBe(true);
    expect(s.createTimeSec).toBe(1_699_999_000);
    expect(s.probeSuccess).toBe(false);
    expect(s.lastSuccessMs).toBe(successAt);
    expect(s.lastProbeMs).toBe(now());
    expect(s.lastCode).toBe('30002');
    expect(s.lastError).toBe('Code 30002: boom');
    advance(10_000);
    store.applyProbe('s1', active());
    expect(store.get('s1')!.lastError).toBeNull();
    expect(store.get('s1')!.probeSuccess).toBe(true);
  });

  it('closed is inactive with the close time and no create time', () => {
    const { store } = setup();
    store.applyProbe('s1', active());
    store.applyProbe('s1', closed());
    const s = store.get('s1')!;
    expect(s.active).toBe(false);
    expect(s.notFound).toBe(false);
    expect(s.createTimeSec).toBeNull();
    expect(s.closeTimeSec).toBe(1_699_999_500);
  });

  it('not_found is inactive and flagged', () => {
    const { store } = setup();
    store.applyProbe('s1', notFound());
    const s = store.get('s1')!;
    expect(s.active).toBe(false);
    expect(s.notFound).toBe(true);
    expect(s.createTimeSec).toBeNull();
  });

  it('logs exactly one info line per state change, none for repeats or failures', () => {
    const { store, lines, advance } = setup();
    const step = (r: ProbeResult): void => {
      advance(1000);
      store.applyProbe('s1', r);
    };
    step(failed('transient', 'timeout'));
    expect(lines).toHaveLength(0);
    step(active());
    step(active());
    step(failed('transient', '5000'));
    step(active());
    expect(lines.map((l) => l.msg)).toEqual(['stream is up']);
    step(closed());
    step(closed());
    step(failed('auth', '40005'));
    step(notFound());
    step(notFound());
    step(active());
    step(notFound());
    step(closed());
    // A closed stream answering 41004 is the same close (no history permission), not a change.
    expect(lines.map((l) => l.msg)).toEqual(['stream is up', 'stream went down', 'stream went up', 'stream not found', 'stream is down']);
    expect(lines).toHaveLength(5);
    expect(lines.every((l) => l.level === INFO)).toBe(true);
    expect(lines[0]).toMatchObject({ stream_id: 's1', code: '0', outcome: 'active', create_time: 1_699_999_000, source: 'probe' });
    expect(lines[1]).toMatchObject({ stream_id: 's1', code: '41006', outcome: 'closed', close_time: 1_699_999_500 });
    expect(lines[3]).toMatchObject({ stream_id: 's1', code: '41004', outcome: 'not_found' });
    expect(lines[4]).toMatchObject({ outcome: 'closed', code: '41006' });
  });

  it('logs "stream is down" when the first known state is closed', () => {
    const { store, lines } = setup();
    store.applyProbe('s1', closed());
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: INFO, msg: 'stream is down', outcome: 'closed' });
  });

  it('ignores a result for a stream no longer watched', () => {
    const { store, lines } = setup();
    store.applyProbe('gone', active());
    expect(store.get('gone')).toBeUndefined();
    expect(store.size).toBe(1);
    expect(lines).toHaveLength(0);
  });

  it('setStreams keeps the state of kept ids, updates their labels, removes others, adds unknown ones', () => {
    const { store } = setup();
    store.setStreams([watched('s1', { team: 'a' }), watched('s2')]);
    store.applyProbe('s1', active());
    store.applyProbe('s2', closed());
    const s1Before = store.get('s1')!;
    store.setStreams([watched('s1', { team: 'b', env: 'prod' }, 5000), watched('s3')]);
    expect(store.size).toBe(2);
    expect(store.get('s2')).toBeUndefined();
    const s1 = store.get('s1')!;
    expect(s1).toBe(s1Before);
    expect(s1.active).toBe(true);
    expect(s1.createTimeSec).toBe(1_699_999_000);
    expect(s1.labels).toEqual({ team: 'b', env: 'prod' });
    expect(s1.intervalMs).toBe(5000);
    const s3 = store.get('s3')!;
    expect(s3.active).toBeNull();
    expect(s3.probeSuccess).toBeNull();
    expect([...store.snapshot()].map((s) => s.id).sort()).toEqual(['s1', 's3']);
  });

  it('snapshot() is the list as of the last setStreams: a reload mid-read leaves it as it was, and a read costs no copy', () => {
    const { store } = setup();
    store.setStreams([watched('s1'), watched('s2')]);
    const before = store.snapshot();
    expect(store.snapshot()).toBe(before);
    store.setStreams([watched('s2'), watched('s3')]);
    expect(before.map((s) => s.id)).toEqual(['s1', 's2']);
    expect(store.snapshot().map((s) => s.id)).toEqual(['s2', 's3']);
    // The records are live: the same s2 in both lists, its state read as it is now.
    expect(store.snapshot()[0]).toBe(before[1]);
    store.applyProbe('s2', active());
    expect(before[1]!.active).toBe(true);
  });

  it('a removed and re-added stream starts unknown again', () => {
    const { store } = setup();
    store.applyProbe('s1', active());
    store.setStreams([]);
    expect(store.size).toBe(0);
    store.setStreams([watched('s1')]);
    expect(store.get('s1')!.active).toBeNull();
  });
});

describe('ApiHealth', () => {
  function health(summaryEveryMs?: number): { h: ApiHealth; lines: LogLine[]; advance: (ms: number) => void } {
    const { logger, lines } = capture();
    const c = clock();
    const h = new ApiHealth({ logger, now: c.now, ...(summaryEveryMs === undefined ? {} : { summaryEveryMs }) });
    return { h, lines, advance: c.advance };
  }

  it('logs an auth failure once at error for repeated 40005s, and recovery once', () => {
    const { h, lines, advance } = health();
    for (let i = 0; i < 20; i++) {
      h.note(`s${i % 3}`, failed('auth', '40005'));
      advance(100);
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: ERROR, code: '40005', outcome: 'auth' });
    expect(lines[0]!.msg).toMatch(/credentials/);
    expect(h.condition).toBe('auth');
    for (let i = 0; i < 5; i++) h.note('s1', active());
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ level: INFO, msg: 'ZEGO API calls succeeding again', previous: 'auth' });
    expect(h.condition).toBe('ok');
  });

  it("logs throttling and clock skew at warn, once per change of condition; config errors are ApiConfigErrors' to log", () => {
    const { h, lines } = health();
    h.note('s', failed('config', '30004'));
    h.note('s', failed('config', '30004'));
    h.note('s', failed('throttled', '30002'));
    h.note('s', failed('throttled', '30002'));
    h.note('s', failed('clock_skew', '3002'));
    expect(lines.map((l) => [l.level, l.outcome])).toEqual([
      [WARN, 'throttled'],
      [WARN, 'clock_skew'],
    ]);
  });

  it('summarises transient failures at most once per minute', () => {
    const { h, lines, advance } = health();
    h.note('s1', failed('transient', 'timeout', 'no response within 2000 ms'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: WARN, failures: 1, msg: 'probe failures (transient; state kept)' });
    for (let i = 0; i < 59; i++) {
      advance(1000);
      h.note('s1', failed('transient', 'network', 'ECONNRESET'));
    }
    expect(lines).toHaveLength(1); // 59 s after the first summary
    advance(1000);
    h.note('s2', failed('error', 'bad_response', 'no Code'));
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ level: WARN, failures: 60, last_error: 'bad_response: no Code', stream_id: 's2' });
    advance(30_000);
    h.note('s2', failed('transient', 'timeout'));
    expect(lines).toHaveLength(2);
  });

  it('transient failures do not change the condition nor end an app-wide one', () => {
    const { h, lines } = health();
    h.note('s', failed('auth', '40005'));
    h.note('s', failed('transient', 'timeout'));
    expect(h.condition).toBe('auth');
    h.note('s', failed('auth', '40005'));
    expect(lines.filter((l) => l.outcome === 'auth')).toHaveLength(1);
  });

  it('warns about a rejected stream id each time, without changing the condition', () => {
    const { h, lines } = health();
    h.note('bad id', failed('stream_config', '30009'));
    expect(h.condition).toBe('ok');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: WARN, stream_id: 'bad id', code: '30009' });
  });

  it('says nothing while everything succeeds', () => {
    const { h, lines } = health();
    for (let i = 0; i < 10; i++) h.note('s', i % 2 ? closed() : notFound());
    expect(lines).toHaveLength(0);
    expect(h.condition).toBe('ok');
  });
});

describe('default clocks (fake timers)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('StateStore stamps probes with Date.now', () => {
    vi.useFakeTimers();
    vi.setSystemTime(1_700_000_000_000);
    const { logger } = capture();
    const store = new StateStore({ logger });
    store.setStreams([watched('s')]);
    store.applyProbe('s', active());
    vi.setSystemTime(1_700_000_005_000);
    store.applyProbe('s', failed('transient', 'timeout'));
    const s = store.get('s')!;
    expect(s.lastSuccessMs).toBe(1_700_000_000_000);
    expect(s.lastProbeMs).toBe(1_700_000_005_000);
    expect(s.changedAtMs).toBe(1_700_000_000_000);
  });

  it('ApiHealth summarises transient failures once per minute of Date.now by default', () => {
    vi.useFakeTimers();
    vi.setSystemTime(1_700_000_000_000);
    const { logger, lines } = capture();
    const h = new ApiHealth({ logger });
    for (let i = 0; i < 120; i++) {
      h.note('s', failed('transient', 'timeout'));
      vi.advanceTimersByTime(1000);
    }
    // at t = 0 s and t = 60 s
    expect(lines.map((l) => l.failures)).toEqual([1, 60]);
  });
});
