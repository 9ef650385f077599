import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfig, type LoadResult } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import { Reloader, ReloadStatus, type ReloadResult } from '../../src/reload.js';

const TEXT = `zego:\n  app_id: 1234567890\n  server_secret: s3cr3t\nstreams: [a]\n`;

/** A loader whose loads finish only when the test says so, counting how many were started. */
function harness() {
  const first = parseConfig(TEXT, { env: {}, baseDir: '/' });
  if (!first.ok) throw new Error('fixture');
  const releases: ((r: LoadResult) => void)[] = [];
  const logs: { level: number; msg: string }[] = [];
  let applied = 0;
  const status = new ReloadStatus();
  const target = {
    config: first.config,
    applyConfig: (_c: Config) => void applied++,
  };
  const reloader = new Reloader({
    file: 'config.yaml',
    env: {},
    target,
    status,
    hash: first.hash,
    logger: pino({ level: 'debug' }, { write: (l: string) => void logs.push(JSON.parse(l) as { level: number; msg: string }) }),
    load: () => new Promise<LoadResult>((res) => releases.push(res)),
  });
  const finishNext = async (r: LoadResult): Promise<void> => {
    while (releases.length === 0) await new Promise((res) => setImmediate(res));
    releases.shift()!(r);
    await new Promise((res) => setImmediate(res));
  };
  return { reloader, status, loads: () => releases.length, finishNext, logs, applied: () => applied, first };
}

const changed = (n: number): LoadResult => {
  const r = parseConfig(`${TEXT}# ${n}\n`, { env: {}, baseDir: '/' });
  if (!r.ok) throw new Error('fixture');
  return r;
};

describe('Reloader: pending reloads coalesce', () => {
  it('300 concurrent triggers cost at most two loads; every trigger gets an answer', async () => {
    const h = harness();
    const results: Promise<ReloadResult>[] = [];
    for (let i = 0; i < 300; i++) results.push(h.reloader.reload('http'));
    await new Promise((res) => setImmediate(res));
    expect(h.loads()).toBe(1); // the running one
    await h.finishNext(changed(1));
    expect(h.loads()).toBe(1); // the one pending reload, shared by the other 299
    await h.finishNext(changed(2));
    const all = await Promise.all(results);
    expect(all).toHaveLength(300);
    expect(all.every((r) => r.ok)).toBe(true);
    expect(h.loads()).toBe(0);
    expect(h.applied()).toBe(2);
  });

  it('a trigger after the burst waits for at most the running load and its own', async () => {
    const h = harness();
    for (let i = 0; i < 300; i++) void h.reloader.reload('http');
    await h.finishNext(changed(1)); // the first burst load; the shared pending one now runs
    const late = h.reloader.reload('http');
    let answered = false;
    void late.then(() => (answered = true));
    await h.finishNext(changed(2)); // the burst's pending load
    expect(answered).toBe(false);
    await h.finishNext(changed(3)); // the late trigger's own load
    expect(await late).toEqual({ ok: true, changed: true });
  });

  it('triggers that join a pending reload share its result', async () => {
    const h = harness();
    void h.reloader.reload('SIGHUP');
    const a = h.reloader.reload('http');
    const b = h.reloader.reload('file');
    expect(a).toBe(b);
    await h.finishNext(changed(1));
    await h.finishNext({ ok: false, errors: [{ path: 'zego.app_id', line: 2, col: 3, message: 'bad' }] });
    expect(await a).toEqual({ ok: false, error: 'config.yaml:2:3: zego.app_id: bad' });
  });

  it('a failed load answers with the error, sets the status to failed and logs', async () => {
    const h = harness();
    const r = h.reloader.reload('http');
    await h.finishNext({ ok: false, errors: [{ path: '', message: 'loading the config timed out after 10s' }] });
    expect(await r).toEqual({ ok: false, error: 'config.yaml: loading the config timed out after 10s' });
    expect(h.status.successful).toBe(false);
    expect(h.logs.some((l) => l.level === 50 && l.msg.includes('loading the config timed out'))).toBe(true);
  });

  it('logs the warnings of a config it loads', async () => {
    const h = harness();
    const r = h.reloader.reload('SIGHUP');
    await h.finishNext({ ...changed(1), warnings: [{ path: 'streams[0].labels.severity', line: 6, col: 5, message: 'odd' }] } as LoadResult);
    await r;
    expect(h.logs.filter((l) => l.level === 40).map((l) => l.msg)).toContain('config.yaml:6:5: streams[0].labels.severity: warning: odd');
  });
});
