import { describe, expect, it } from 'vitest';
import { ApiService } from '../../src/api/service.js';
import { MixPart } from '../../src/mix/part.js';
import { MixEvents } from '../../src/state/mix-events.js';
import { testConfig } from '../helpers/config.js';
import { fakePartContext } from '../helpers/part-context.js';

describe("the core's mix hand-off: other parts read a watched task's state", () => {
  it('answers what the mix part knows of a watched task, null for one it does not watch, null with no mix part', async () => {
    const config = testConfig({ extra: { mixTasks: [{ id: 'show', intervalMs: 15_000, labels: {} }] } });
    const mix = new MixEvents();
    expect(mix.task('show', Date.now())).toBeNull();
    const api = new ApiService({ zego: config.zego, transport: { call: () => Promise.reject(new Error('no calls in this test')) } });
    const part = new MixPart(config, fakePartContext({ api: api.api.bind(api), mix }));
    const at = Date.now();
    expect(mix.task('show', at)?.running).toBeNull();
    mix.apply({ rawTaskId: 'show', callback: { event: 'mix_start', seq: 1, atMs: at, roomId: 'r1' } }, at);
    expect(mix.task('show', at)).toMatchObject({ running: true, roomId: 'r1' });
    expect(mix.task('other', at)).toBeNull();
    await part.stop();
    await api.stop(0);
  });
});
