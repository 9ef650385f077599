import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from './binaries.js';
import { freePort } from './ports.js';

export interface NginxProcess {
  port: number;
  /** https://127.0.0.1:<port> */
  url: string;
  dir: string;
  /** What nginx wrote to its error log so far. */
  errorLog: () => string;
  accessLog: () => string;
  stop: () => Promise<void>;
}

const running = new Set<NginxProcess>();

/** Stops every nginx this file started and did not stop (a hook that failed half-way). */
export async function stopAllNginx(): Promise<void> {
  await Promise.all([...running].map((n) => n.stop()));
}

/**
 * Debian's nginx ($NGINX, or from PATH or /usr/sbin; a missing one fails the test with how to
 * install it) in the foreground, everything it writes (pid, logs, temp files) in a folder of its
 * own, terminating TLS on a free loopback port with `cert`/`key`. `locations` is the body of its
 * server block: the routes and where they are proxied.
 */
export async function startNginx(opts: { cert: string; key: string; locations: string }): Promise<NginxProcess> {
  const bin = requireBinary('nginx', 'NGINX');
  const dir = mkdtempSync(join(tmpdir(), 'zego-nginx-'));
  for (const t of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, t));
  const port = await freePort();
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 64; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${opts.cert};
    ssl_certificate_key ${opts.key};
${opts.locations}
  }
}
`,
  );
  // -e: the error log before the config is read (otherwise /var/log/nginx, which may not be writable).
  const child: ChildProcess = spawn(bin, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const read = (f: string): string => {
    try {
      return readFileSync(join(dir, f), 'utf8');
    } catch {
      return '';
    }
  };
  const proc: NginxProcess = {
    port,
    url: `https://127.0.0.1:${port}`,
    dir,
    errorLog: () => read('error.log'),
    accessLog: () => read('access.log'),
    stop: async () => {
      running.delete(proc);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM'); // nginx's fast shutdown
        const killed = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(killed);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  running.add(proc);
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const why = `nginx did not start (exit ${String(child.exitCode)}):\n${out}\n${read('error.log')}`;
      await proc.stop();
      throw new Error(why);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return proc;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
