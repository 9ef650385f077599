import { pino } from 'pino';
import { MockAgent } from 'undici';
import { afterEach, beforeEach, vi } from 'vitest';
import { Exporter, type ExporterOptions } from '../../src/exporter.js';
import type { Format } from '../../src/metrics/exposition.js';
import { TEST_ENDPOINT } from './config.js';

/** The fake clock's start in the exporter tests (2023-11-14T22:13:20Z). */
export const T0 = 1_700_000_000_000;
/** A DescribeRTCStreamState answer: the stream is active. */
export const ACTIVE_BODY = '{"Code":0,"Message":"ok","RequestId":"1","Data":{"create_time":"1699999000","close_time":""}}';

/** An undici MockAgent that lets no call out: a test answers through it or expects none. */
export function offlineAgent(): MockAgent {
  const agent = new MockAgent();
  agent.disableNetConnect();
  return agent;
}

/** The API as an undici MockAgent: every stream is active, and each call is counted per stream id. */
export function fakeApi(endpoint = TEST_ENDPOINT): { agent: MockAgent; calls: Map<string, number>; total: () => number } {
  const agent = offlineAgent();
  const calls = new Map<string, number>();
  agent
    .get(endpoint)
    .intercept({ path: () => true, method: 'GET' })
    .reply((req) => {
      const id = new URL(req.path, endpoint).searchParams.get('StreamId') ?? '';
      calls.set(id, (calls.get(id) ?? 0) + 1);
      return { statusCode: 200, data: ACTIVE_BODY };
    })
    .persist();
  return { agent, calls, total: () => [...calls.values()].reduce((a, b) => a + b, 0) };
}

const running: Exporter[] = [];

/**
 * An in-process Exporter (a silent logger, no parts unless given), stopped after the test by
 * `stopTestExporters` (which `fakeClockExporters` registers).
 */
export function testExporter(opts: Omit<ExporterOptions, 'logger' | 'build'> & Partial<Pick<ExporterOptions, 'logger'>>): Exporter {
  const exp = new Exporter({ logger: pino({ level: 'silent' }), build: { version: 't', revision: 't' }, parts: [], ...opts });
  running.push(exp);
  return exp;
}

/** Stops every exporter built since the last call; on a fake clock, runs its timers out so the stops can finish. */
export async function stopTestExporters(): Promise<void> {
  const stops = running.splice(0).map((e) => e.stop(0));
  if (vi.isFakeTimers()) await vi.runAllTimersAsync();
  await Promise.all(stops);
}

/** Around each test of the file: the fake clock at `t0`, then the test's exporters stopped and the real clock back. */
export function fakeClockExporters(t0 = T0): void {
  beforeEach(() => {
    vi.useFakeTimers({ now: t0 });
  });
  afterEach(async () => {
    await stopTestExporters();
    vi.useRealTimers();
  });
}

/** /metrics as the exporter renders it, as one string. */
export async function metricsText(exp: Exporter, format: Format = 'text'): Promise<string> {
  return Buffer.concat(await exp.metrics(format)).toString('utf8');
}
