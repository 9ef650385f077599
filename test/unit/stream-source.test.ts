import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/types.js';
import { Exporter } from '../../src/exporter.js';
import type { PartContext, PartFactory } from '../../src/parts/part.js';
import type { StreamOrigin, WatchedStream } from '../../src/state/store.js';
import { testConfig } from '../helpers/config.js';
import { metricsText, offlineAgent, stopTestExporters, testExporter } from '../helpers/exporter-harness.js';

function config(streams: string[]): Config {
  return testConfig({ streams, streamLabels: { severity: 'critical' } });
}

/** A part that finds streams the way rooms and callbacks do: ctx.watchAdded, and watched() in full. */
function finder(name: string, origin: StreamOrigin): { factory: PartFactory; find: (id: string) => void } {
  let ctx: PartContext | undefined;
  const found: WatchedStream[] = [];
  return {
    factory: (_config, c) => {
      ctx = c;
      return { name, start: async () => undefined, applyConfig: () => undefined, stop: async () => undefined, watched: () => found };
    },
    find: (id) => {
      const w = { id, intervalMs: 10_000, labels: { severity: 'none', team: name }, origin };
      found.push(w);
      ctx!.watchAdded(w);
    },
  };
}

afterEach(stopTestExporters);

function exporter(cfg: Config, parts: PartFactory[]): Exporter {
  return testExporter({ config: cfg, dispatcher: offlineAgent(), parts });
}

async function sourceLines(exp: Exporter): Promise<string[]> {
  const text = await metricsText(exp);
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
    const text = await metricsText(exp, 'openmetrics');
    expect(text).toContain('# TYPE zego_stream_source_info gauge');
    const page = exp.landingPage();
    expect(page).toContain('<th>Source</th>');
    expect(page).toMatch(/<td>guest<\/td>(<td>[^<]*<\/td>){4}<td>room<\/td><td>severity=none, team=rooms<\/td>/);
    expect(page).toMatch(/<td>cam<\/td>(<td>[^<]*<\/td>){4}<td>callback<\/td>/);

    // A reload that lists guest makes it config's (and the cached family follows).
    exp.applyConfig(config(['host', 'guest']));
    expect(await sourceLines(exp)).toContain('zego_stream_source_info{stream_id="guest",source="config"} 1');
    exp.applyConfig(config(['host']));
    expect(await sourceLines(exp)).toContain('zego_stream_source_info{stream_id="guest",source="room"} 1');
  });
});
