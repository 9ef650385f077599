import { spawn, type ChildProcess } from 'node:child_process';
import { requireBinary } from './binaries.js';
import { freePort } from './ports.js';

export interface RedisProcess {
  port: number;
  url: string;
  /** Kills the server (SIGKILL: a crash, not a shutdown). */
  kill: () => Promise<void>;
  /** Starts it again on the same port, empty (no persistence). */
  restart: () => Promise<void>;
  stop: () => Promise<void>;
  /** SIGSTOP / SIGCONT: a Redis that keeps its sockets open and answers nothing (a stalled host). */
  pause: () => void;
  resume: () => void;
}

async function launch(port: number, extra: readonly string[]): Promise<ChildProcess> {
  const child = spawn(
    requireBinary('redis-server', 'REDIS_SERVER'),
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${out}`));
    });
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}

/**
 * A private redis-server ($REDIS_SERVER or from PATH; a missing one fails the test with how to
 * install it) on a free loopback port; the test stops it in afterAll.
 */
const running = new Set<RedisProcess>();

/** Stops every redis-server this file started and did not stop (a hook that failed half-way). */
export async function stopAllRedis(): Promise<void> {
  await Promise.all([...running].map((r) => r.stop()));
}

/** `extra`: more redis-server arguments, e.g. ['--requirepass', pw] (kept across restart()). */
export async function startRedis(extra: readonly string[] = []): Promise<RedisProcess> {
  const port = await freePort();
  let child: ChildProcess | undefined = await launch(port, extra);
  const kill = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  const server: RedisProcess = {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    restart: async () => {
      await kill();
      child = await launch(port, extra);
    },
    stop: async () => {
      running.delete(server);
      child?.kill('SIGCONT');
      await kill();
    },
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
  };
  running.add(server);
  return server;
}
