import { describe, expect, it } from 'vitest';
import { parseCli } from '../../src/cli.js';

describe('cli flags', () => {
  it('has Prometheus-exporter defaults', () => {
    const r = parseCli([], {});
    expect(r).toEqual({
      ok: true,
      flags: {
        configFile: 'config.yaml',
        listenAddress: ':9792',
        logLevel: 'info',
        logFormat: 'json',
        configCheck: false,
        configWatch: true,
        version: false,
        help: false,
      },
    });
  });

  it('an empty --web.config.file= means no web config (the Kubernetes bases pass $(VAR) that is empty until tls or basic-auth sets it)', () => {
    const r = parseCli(['--web.config.file='], {});
    expect(r.ok && r.flags.webConfigFile).toBeUndefined();
    const set = parseCli(['--web.config.file=/run/secrets/zego-stream-exporter-web/web.yml'], {});
    expect(set.ok && set.flags.webConfigFile).toBe('/run/secrets/zego-stream-exporter-web/web.yml');
  });

  it('--no-config.watch turns the file watcher off', () => {
    const r = parseCli(['--no-config.watch'], {});
    expect(r.ok && r.flags.configWatch).toBe(false);
  });

  it('reads every flag, and LOG_LEVEL when --log.level is absent', () => {
    const r = parseCli(['--config.file=/etc/x.yaml', '--web.listen-address', '127.0.0.1:9000', '--log.format=pretty', '--config.check'], {
      LOG_LEVEL: 'debug',
    });
    expect(r.ok && r.flags).toMatchObject({
      configFile: '/etc/x.yaml',
      listenAddress: '127.0.0.1:9000',
      logLevel: 'debug',
      logFormat: 'pretty',
      configCheck: true,
    });
    const f = parseCli(['--log.level=warn'], { LOG_LEVEL: 'debug' });
    expect(f.ok && f.flags.logLevel).toBe('warn');
  });

  it.each([[['--bogus']], [['--log.level=trace']], [['--log.format=xml']], [['positional']]])('rejects %j', (argv) => {
    const r = parseCli(argv, {});
    expect(r.ok).toBe(false);
  });
});
