import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, writeTemp } from '../helpers/exporter-process.js';

const SECRET = '5ecret5ecret5ecret5ecret5ecret55';

describe('command line (the built binary)', () => {
  it('--version prints the version and exits 0', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^zego-stream-exporter, version \d+\.\d+\.\d+/);
  });

  it('--help lists the flags and exits 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--config.file', '--web.listen-address', '--web.config.file', '--log.level', '--log.format', '--config.check', '--version'])
      expect(r.stdout).toContain(flag);
  });

  it('rejects an unknown flag with exit 2', async () => {
    const r = await runCli(['--no-such-flag']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no-such-flag');
  });

  it('--config.check prints a summary with the budget math and never the secret', async () => {
    const file = writeTemp(
      'config.yaml',
      `zego:\n  app_id: 1234567890\n  server_secret: \${ZEGO_SERVER_SECRET}\n  rate_limit: 38\nprobe:\n  interval: 1s\nstreams:\n${Array.from({ length: 400 }, (_, i) => `  - s-${i}`).join('\n')}\n`,
    );
    const r = await runCli(['--config.check', `--config.file=${file}`], { ZEGO_SERVER_SECRET: SECRET });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('400');
    expect(r.stdout).toMatch(/10\.5\d? ?s/); // 400 streams / 38 per s
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it('--config.check gives the budget math of each room API and the refresh each room gets', async () => {
    const rooms = Array.from({ length: 600 }, (_, i) => `  - { id: r-${i}, interval: 10s }`).join('\n');
    const file = writeTemp('rooms.yaml', `zego:\n  app_id: 1234567890\n  server_secret: \${ZEGO_SERVER_SECRET}\nrooms:\n${rooms}\n`);
    const r = await runCli(['--config.check', `--config.file=${file}`], { ZEGO_SERVER_SECRET: SECRET });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('DescribeSimpleStreamList: 600 rooms ÷ interval = 60 calls/s against 40/s; budget-limited: every room refreshed every 15s');
    expect(r.stdout).toContain('DescribeUserNum: 600 rooms ÷ 10 ÷ interval = 6 calls/s against 8/s; every room refreshed at its interval (slowest 10s)');
    expect(r.stdout).not.toContain(SECRET);
  });

  it('--config.check on a bad file exits 1 naming the key path and line:column', async () => {
    const file = writeTemp('bad.yaml', `zego:\n  app_id: 1234567890\n  server_secret: x\nstreams:\n  - ok\n  - id: bad\n    interval: 5x\n`);
    const r = await runCli(['--config.check', `--config.file=${file}`]);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/bad\.yaml:7:\d+/);
    expect(r.stdout + r.stderr).toContain('streams[1].interval');
  });

  it('refuses to start on an invalid config, exit 1 with the error in the log', async () => {
    const file = writeTemp('bad.yaml', `zego:\n  app_id: 1234567890\n  server_secret: x\n  rate_limit: 41\nstreams: [a]\n`);
    const r = await runCli([`--config.file=${file}`, '--web.listen-address=127.0.0.1:0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('zego.rate_limit');
    expect(r.stderr).toMatch(/bad\.yaml:4:\d+/);
  });

  it('a missing config file: exit 1 naming the path, that it does not exist, --config.file and the example to copy; no stack trace', async () => {
    const missing = join(dirname(writeTemp('other.yaml', '')), 'config.yaml');
    for (const args of [
      [`--config.file=${missing}`, '--web.listen-address=127.0.0.1:0'],
      ['--config.check', `--config.file=${missing}`],
    ]) {
      const r = await runCli(args);
      expect(r.code).toBe(1);
      const out = r.stdout + r.stderr;
      expect(out).toContain(`cannot read config file ${missing}: it does not exist (ENOENT)`);
      expect(out).toContain('--config.file=<path>');
      expect(out).toContain('cp config.example.yaml config.yaml');
      expect(out).not.toMatch(/^\s+at /m);
    }
  });

  it('a directory as the config file: exit 1 saying so, and that --config.file names the file itself', async () => {
    const dir = dirname(writeTemp('config.yaml', ''));
    const r = await runCli([`--config.file=${dir}`, '--web.listen-address=127.0.0.1:0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot read config file ${dir}: not a regular file (a directory): --config.file=<path> names the YAML file itself`);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});
