import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { DEFAULT_OUTPUT_PROBE } from '../../src/config/sections/outputs-probe.js';

const HEAD = 'zego:\n  app_id: 1234567890\n  server_secret: "0123456789abcdef0123456789abcdef"\n';

function parse(body: string, env: NodeJS.ProcessEnv = {}) {
  return parseConfig(HEAD + body, { env, baseDir: '/tmp' });
}

describe('outputs: config', () => {
  it('reads a plain URL and an entry; the kind from the path or kind:, 15 s by default, outputs alone are enough to watch', () => {
    const r = parse(
      [
        'outputs:',
        '  - https://cdn.example.com/live/a.m3u8',
        '  - url: http://cdn.example.com/live/b.flv?token=t1',
        '    interval: 5s',
        '    stream_id: host-b',
        '    severity: critical',
        '    labels: { team: tv }',
        '  - url: https://cdn.example.com/pull/c',
        '    kind: hls',
        '    mix_task: show-1',
        '',
      ].join('\n'),
    );
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.config.streams).toEqual([]);
    expect(r.config.outputs).toEqual([
      { url: 'https://cdn.example.com/live/a.m3u8', name: 'https://cdn.example.com/live/a.m3u8', kind: 'hls', intervalMs: 15_000, labels: {} },
      {
        url: 'http://cdn.example.com/live/b.flv?token=t1',
        name: 'http://cdn.example.com/live/b.flv',
        kind: 'flv',
        intervalMs: 5_000,
        labels: { team: 'tv', severity: 'critical' },
        streamId: 'host-b',
      },
      { url: 'https://cdn.example.com/pull/c', name: 'https://cdn.example.com/pull/c', kind: 'hls', intervalMs: 15_000, labels: {}, mixTask: 'show-1' },
    ]);
    expect(r.config.probe.outputs).toEqual(DEFAULT_OUTPUT_PROBE);
    expect(r.config.outputDiscovery).toBeUndefined();
  });

  it('expands ${VAR} in a URL, so a token stays out of the file, and never shows it in an error', () => {
    const ok = parse('outputs:\n  - https://cdn.example.com/live/a.m3u8?auth=${CDN_TOKEN}\n', { CDN_TOKEN: 'tok-secret-123' });
    if (!ok.ok) throw new Error(JSON.stringify(ok.errors));
    expect(ok.config.outputs?.[0]?.url).toBe('https://cdn.example.com/live/a.m3u8?auth=tok-secret-123');
    expect(ok.config.outputs?.[0]?.name).toBe('https://cdn.example.com/live/a.m3u8');
    const dup = parse(
      'outputs:\n  - https://cdn.example.com/live/a.m3u8?auth=${CDN_TOKEN}\n  - https://cdn.example.com/live/a.m3u8?auth=other-secret\n  - https://cdn.example.com/x?auth=${CDN_TOKEN}\n',
      { CDN_TOKEN: 'tok-secret-123' },
    );
    if (dup.ok) throw new Error('accepted');
    expect(dup.errors.map((e) => e.path)).toEqual(['outputs[1]', 'outputs[2]']);
    expect(JSON.stringify(dup.errors)).not.toMatch(/tok-secret-123|other-secret|auth=/);
  });

  it('a mix task an output names and mix_tasks does not list is watched with severity none; a listed one keeps its settings', () => {
    const r = parse(
      'mix_tasks:\n  - { id: listed, interval: 5s }\noutputs:\n  - { url: "https://c.example.com/a.m3u8", mix_task: listed }\n' +
        '  - { url: "https://c.example.com/b.m3u8", mix_task: other }\n  - { url: "https://c.example.com/c.flv", mix_task: other }\n',
    );
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.config.mixTasks).toEqual([
      { id: 'listed', intervalMs: 5_000, labels: {} },
      { id: 'other', intervalMs: 15_000, labels: { severity: 'none' } },
    ]);
  });

  it('refuses a URL with user info, without echoing it', () => {
    const r = parse('streams: [a]\noutputs:\n  - https://user:hunter2@cdn.example.com/a.m3u8\n');
    if (r.ok) throw new Error('accepted');
    expect(r.errors).toEqual([{ path: 'outputs[0]', line: 6, col: 5, message: expect.stringContaining('must not carry user info') }]);
    expect(JSON.stringify(r.errors)).not.toContain('hunter2');
  });

  it('reads probe.outputs and output_discovery with their defaults', () => {
    const r = parse(
      [
        'streams: [a]',
        'probe:',
        '  outputs: { concurrency: 8, timeout: 5s, max_bytes: 65536, flv_max_bytes: 8192, max_redirects: 1, flv_window: 2s, connections_per_host: 2, flv_connections_per_host: 6 }',
        'output_discovery:',
        '  allowed_hosts: [CDN.example.com, 127.0.0.1]',
        '',
      ].join('\n'),
    );
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.config.probe.outputs).toEqual({
      concurrency: 8,
      timeoutMs: 5000,
      maxBytes: 65536,
      flvMaxBytes: 8192,
      maxRedirects: 1,
      flvWindowMs: 2000,
      connectionsPerHost: 2,
      flvConnectionsPerHost: 6,
    });
    expect(r.config.outputDiscovery).toEqual({ allowedHosts: ['cdn.example.com', '127.0.0.1'], maxOutputs: 100, forgetAfterMs: 3_600_000, intervalMs: 15_000 });
  });

  it('output_discovery with enabled: false is off and needs no hosts', () => {
    const r = parse('streams: [a]\noutput_discovery:\n  enabled: false\n');
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    expect(r.config.outputDiscovery).toBeUndefined();
  });
});

describe('outputs: what a reload cannot apply', () => {
  it("names probe.outputs' bounds the prober is built with; concurrency and the outputs list apply at once", async () => {
    const { restartOnlyChanges } = await import('../../src/config/restart.js');
    const at = (probe: string, outputs: string) => {
      const r = parse(`streams: [a]\nprobe:\n  outputs: { ${probe} }\noutputs: [${outputs}]\n`);
      if (!r.ok) throw new Error(JSON.stringify(r.errors));
      return r.config;
    };
    const a = at('concurrency: 8', 'https://c.example.com/a.m3u8');
    expect(restartOnlyChanges(a, at('concurrency: 4', 'https://c.example.com/a.m3u8, https://c.example.com/b.flv'))).toEqual([]);
    expect(restartOnlyChanges(a, at('concurrency: 8, timeout: 5s, connections_per_host: 2', 'https://c.example.com/a.m3u8'))).toEqual([
      'probe.outputs.timeout',
      'probe.outputs.connections_per_host',
    ]);
  });
});
