import { pino } from 'pino';
import { MockAgent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import type { Config } from '../../src/config/types.js';
import { Exporter } from '../../src/exporter.js';
import type { PartContext, PartFactory } from '../../src/parts/part.js';
import type { DiscoverySource } from '../../src/discovery/sources.js';

const ENDPOINT = 'http://127.0.0.1:9';

function config(streams: string[]): Config {
  return {
    zego: {
      appId: 1234,
      serverSecret: new Secret('0123456789abcdef0123456789abcdef'),
      endpoint: ENDPOINT,
      isTest: false,
      rateLimit: 10,
      streamListRateLimit: 40,
      userNumRateLimit: 8,
      mixTaskInfoRateLimit: 8,
      timeoutMs: 2000,
    },
    probe: { intervalMs: 10_000, maxRoomStreams: 1000, roomStreamsForgetAfterMs: 3_600_000 },
    streams: streams.map((id) => ({ id, intervalMs: 10_000, labels: { severity: 'critical' } })),
    // Callback discovery on (the callbacks part itself is not in these tests' part list).
    callbacks: {
      secret: new Secret('cb'),
      path: '/zego/callback',
      listenAddress: '127.0.0.1:0',
      listenAddressDefault: false,
      tls: 'off',
      fanoutAcceptUnsigned: false,
      discover: { patterns: ['*'], maxStreams: 100, forgetAfterMs: 3_600_000, streamsSeverity: 'none' },
    },
  };
}

/** A part that finds streams the way rooms and callbacks do: ctx.discover under its source. */
function finder(name: string, source: DiscoverySource): { factory: PartFactory; find: (id: string) => void } {
  let ctx: PartContext | undefined;
  return {
    factory: (_config, c) => {
      ctx = c;
      return { name, start: async () => undefined, applyConfig: () => undefined, stop: async () => undefined };
    },
    find: (id) => void ctx!.discover(id, { severity: 'none', team: name }, source),
  };
}

const running: Exporter[] = [];
afterEach(async () => {
  for (const e of running.splice(0)) await e.stop(0);
});

function exporter(cfg: Config, parts: PartFactory[]): Exporter {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const exp = new Exporter({ config: cfg, logger: pino({ level: 'silent' }), build: { version: 't', revision: 't' }, dispatcher: agent, parts });
  running.push(exp);
  return exp;
}

async function sourceLines(exp: Exporter): Promise<string[]> {
  const text = Buffer.concat(await exp.metrics('text')).toString('utf8');
  return text.split('\n').filter((l) => l.startsWith('zego_stream_source_info'));
}

describe('where each stream came from', () => {
  it('zego_stream_source_info{stream_id,source}: config wins, else the first part to watch it; only those two labels; the landing page has a Source column', async () => {
    const room = finder('rooms', 'room');
    const callback = finder('callbacks', 'callback');
    const exp = exporter(config(['host']), [room.factory, callback.factory]);
    room.find('host'); // listed in the config too: stays config
    room.find('guest');
    callback.find('guest'); // the room found it first
    callback.find('cam');
    expect(await sourceLines(exp)).toEqual([
      'zego_stream_source_info{stream_id="host",source="config"} 1',
      'zego_stream_source_info{stream_id="guest",source="room"} 1',
      'zego_stream_source_info{stream_id="cam",source="callback"} 1',
    ]);
    const text = Buffer.concat(await exp.metrics('openmetrics')).toString('utf8');
    expect(text).toContain('# TYPE zego_stream_source_info gauge');
    const page = exp.landingPage();
    expect(page).toContain('<th>Source</th>');
    expect(page).toMatch(/<td>guest<\/td>(<td>[^<]*<\/td>){4}<td>room<\/td><td>severity=none, team=rooms<\/td>/);
    expect(page).toMatch(/<td>cam<\/td>(<td>[^<]*<\/td>){4}<td>callback<\/td>/);

    // A reload that lists guest makes it config's (and the cached family follows).
    exp.applyConfig(config(['host', 'guest']));
    expect(await sourceLines(exp)).toContain('zego_stream_source_info{stream_id="guest",source="config"} 1');
    // Listed, it left discovery; unlisted again, it is watched once a source finds it again.
    exp.applyConfig(config(['host']));
    expect((await sourceLines(exp)).some((l) => l.includes('"guest"'))).toBe(false);
    callback.find('guest');
    expect(await sourceLines(exp)).toContain('zego_stream_source_info{stream_id="guest",source="callback"} 1');
  });
});
