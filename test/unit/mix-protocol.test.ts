import { describe, expect, it } from 'vitest';
import { isMixEvent, listsOf, MAX_PLAY_URLS, parseMixCallback } from '../../src/callbacks/parse-mix.js';
import { CALLBACK_RETRY_GAPS_MS, CALLBACK_RETRY_WINDOW_MS } from '../../src/zego/callback-rules.js';
import { isValidMixTaskId, mixTaskIdCandidates, resolveMixTaskId } from '../../src/zego/mix.js';
import { MAX_PLAUSIBLE_MIX_DURATION_SEC, parseMixTaskInfoResponse } from '../../src/zego/mix-response.js';

const APP = 111111;
const env = (code: unknown, data: unknown = {}, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ Code: code, Message: 'm', RequestId: 'r-1', Data: data, ...extra });

describe('GetMixTaskInfo response', () => {
  it("reads the docs' example: running, 13 s old", () => {
    const body = '{"Code":0,"Message":"success","RequestId":"1864314306034131629","Data":{"TaskInfo":{"TaskId":"task_test_123","MixDuration":13}}}';
    expect(parseMixTaskInfoResponse(200, body, 'task_test_123', APP)).toEqual({
      code: '0',
      requestId: '1864314306034131629',
      outcome: { kind: 'active', mixDurationSec: 13 },
    });
  });

  it('reads a TaskId carrying the AppID prefix as the task asked for, and a digit-string MixDuration', () => {
    expect(parseMixTaskInfoResponse(200, env(0, { TaskInfo: { TaskId: `${APP}:show`, MixDuration: '7' } }), 'show', APP).outcome).toEqual({
      kind: 'active',
      mixDurationSec: 7,
    });
    expect(parseMixTaskInfoResponse(200, env(0, { TaskInfo: { MixDuration: 0 } }), 'show', APP).outcome).toEqual({ kind: 'active', mixDurationSec: 0 });
  });

  it.each<[string, number | string, unknown, string]>([
    ['task does not exist', 110209001, {}, 'not_found'],
    ['overload', 110200194, {}, 'throttled'],
    ['failed, retry', 110200001, {}, 'transient'],
    ['bad parameter', 110200004, {}, 'error'],
    ['gateway: signature error', 100000005, {}, 'auth'],
    ['gateway: service not enabled', 100000017, {}, 'config'],
    ['gateway: expired', 100000004, {}, 'clock_skew'],
  ])('%s (%s) → %s', (_name, code, data, reading) => {
    const r = parseMixTaskInfoResponse(200, env(code, data), 'show', APP);
    expect(r.code).toBe(String(code));
    expect(r.outcome.kind === 'failed' ? r.outcome.reason : r.outcome.kind).toBe(reading);
  });

  it('a code of another family is an error labelled other, not a reading', () => {
    for (const code of [41004, 41006, 30002, 104]) {
      const r = parseMixTaskInfoResponse(200, env(code), 'show', APP);
      expect(r.code).toBe('other');
      expect(r.outcome).toMatchObject({ kind: 'failed', reason: 'error' });
    }
  });

  it.each<[string, unknown, RegExp]>([
    ['no TaskInfo', {}, /Data.TaskInfo is not an object/],
    ['TaskInfo a list', { TaskInfo: [] }, /Data.TaskInfo is not an object/],
    ['no MixDuration', { TaskInfo: { TaskId: 'show' } }, /MixDuration/],
    ['a negative MixDuration', { TaskInfo: { MixDuration: -1 } }, /MixDuration/],
    ['a fractional MixDuration', { TaskInfo: { MixDuration: 1.5 } }, /MixDuration/],
    ['MixDuration a word', { TaskInfo: { MixDuration: 'ten' } }, /MixDuration/],
    ['MixDuration beyond ten years', { TaskInfo: { MixDuration: MAX_PLAUSIBLE_MIX_DURATION_SEC + 1 } }, /ten years/],
    ['another task', { TaskInfo: { TaskId: 'other', MixDuration: 1 } }, /"other" is not the task asked for/],
    ['another AppID', { TaskInfo: { TaskId: '222222:show', MixDuration: 1 } }, /not the task asked for/],
    ['TaskId a number', { TaskInfo: { TaskId: 5, MixDuration: 1 } }, /TaskId is not a string/],
  ])('Code 0 with %s is a bad response, never a running task', (_name, data, message) => {
    const r = parseMixTaskInfoResponse(200, env(0, data), 'show', APP);
    expect(r.code).toBe('bad_response');
    expect(r.outcome).toMatchObject({ kind: 'failed', reason: 'error' });
    expect(r.outcome.kind === 'failed' && r.outcome.message).toMatch(message);
  });

  it('a hostile TaskId or Message is clipped in the message', () => {
    const r = parseMixTaskInfoResponse(200, env(0, { TaskInfo: { TaskId: 'x'.repeat(10_000), MixDuration: 1 } }), 'show', APP);
    expect(r.outcome.kind === 'failed' && r.outcome.message.length).toBeLessThan(200);
    const m = parseMixTaskInfoResponse(200, JSON.stringify({ Code: 110200001, Message: 'y'.repeat(10_000) }), 'show', APP);
    expect(m.outcome.kind === 'failed' && m.outcome.message.length).toBeLessThan(200);
  });

  it('no numeric Code: transport failures as for every Action', () => {
    expect(parseMixTaskInfoResponse(502, '<html>', 'show', APP)).toMatchObject({ code: 'http_5xx', outcome: { kind: 'failed', reason: 'transient' } });
    expect(parseMixTaskInfoResponse(200, 'not json', 'show', APP)).toMatchObject({ code: 'bad_response', outcome: { kind: 'failed', reason: 'error' } });
  });
});

describe('mix task ids and the AppID prefix', () => {
  it('the task id rule: 1..256 printable ASCII characters, no spaces', () => {
    expect(isValidMixTaskId('task_test_123')).toBe(true);
    expect(isValidMixTaskId('2213699902971205739')).toBe(true);
    expect(isValidMixTaskId('x'.repeat(256))).toBe(true);
    for (const bad of ['', 'x'.repeat(257), 'a b', 'tab\t', 'é', 'new\nline']) expect(isValidMixTaskId(bad)).toBe(false);
  });

  it('candidates: without AppID and separator, without AppID, as given', () => {
    expect(mixTaskIdCandidates('111111:1111', APP)).toEqual(['1111', ':1111', '111111:1111']);
    expect(mixTaskIdCandidates('1111111111', APP)).toEqual(['1111', '1111111111']);
    expect(mixTaskIdCandidates('show', APP)).toEqual(['show']);
    expect(mixTaskIdCandidates('111111', APP)).toEqual(['111111']);
  });

  it('the prefix is removed when what remains is watched, kept for a task nobody watches', () => {
    const watched = new Set(['1111', 'show', '111111x']);
    const isWatched = (id: string): boolean => watched.has(id);
    expect(resolveMixTaskId('111111:1111', APP, isWatched)).toBe('1111');
    expect(resolveMixTaskId('111111_show', APP, isWatched)).toBe('show');
    expect(resolveMixTaskId('111111show', APP, isWatched)).toBe('show');
    // A watched id that itself starts with the AppID digits is matched as given.
    expect(resolveMixTaskId('111111x', APP, isWatched)).toBe('111111x');
    expect(resolveMixTaskId('111111:other', APP, isWatched)).toBe('111111:other');
    expect(resolveMixTaskId('222222:1111', APP, isWatched)).toBe('222222:1111');
    expect(resolveMixTaskId(`111111:${'x'.repeat(256)}`, APP, isWatched)).toBeNull();
  });
});

const START = {
  appid: '111111',
  channel_id: '2222',
  event: 'mix_start',
  hdl_url: 'http://hdl.wsdemo.zego.im/zegodemo/aaa.flv',
  hdl_urls: ['http://hdl.wsdemo.zego.im/zegodemo/aaa.flv', 'http://testplay.aliyun.zego.im/livestream/aaa.flv'],
  hls_url: 'http://hls.wsdemo.zego.im/zegodemo/aaa/playlist.m3u8',
  hls_urls: ['http://hls.wsdemo.zego.im/zegodemo/aaa/playlist.m3u8', 'http://testplay.aliyun.zego.im/livestream/aaa.m3u8'],
  mix_stream_alias: 'aaa',
  mix_url: 'rtmp://rtmp.wsdemo.zego.im/zegodemo/aaa',
  nonce: '7257784982359218206',
  publish_id: 'abc',
  rtmp_url: 'rtmp://rtmp.wsdemo.zego.im/zegodemo/aaa',
  rtmp_urls: ['rtmp://rtmp.wsdemo.zego.im/zegodemo/aaa', 'rtmp://testplay.aliyun.zego.im/livestream/aaa'],
  seq: '123',
  signature: 'aa2f0a33831a35b65f64fdc0520b1758e491eb48',
  stream_alias: 'aaa',
  task_id: '111111:1111',
  timestamp: '1689834748',
};
const STOP = {
  appid: '111111',
  channel_id: '2222',
  event: 'mix_stop',
  mix_stream_alias: 'aaa',
  mix_url: 'rtmp://rtmp.wsdemo.zego.im/zegodemo/aaa',
  nonce: '7257787020413449571',
  publish_id: 'abc',
  seq: '1234',
  signature: 'fadc2c4abb5714c30a711b3ad6f7783e37531263',
  task_id: '111111:1111',
  timestamp: '1689835223',
};

describe('mix_start / mix_stop bodies', () => {
  it("reads the docs' mix_start example", () => {
    expect(parseMixCallback(JSON.stringify(START))).toEqual({
      ok: true,
      value: {
        event: 'mix_start',
        rawTaskId: '111111:1111',
        seq: 123,
        roomId: '2222',
        publishId: 'abc',
        mixUrl: 'rtmp://rtmp.wsdemo.zego.im/zegodemo/aaa',
        mixStreamAlias: 'aaa',
        streamAlias: 'aaa',
        playUrls: { rtmp: START.rtmp_urls, hls: START.hls_urls, hdl: START.hdl_urls },
      },
    });
  });

  it("reads the docs' mix_stop example, with no play URLs", () => {
    expect(parseMixCallback(JSON.stringify(STOP))).toEqual({
      ok: true,
      value: {
        event: 'mix_stop',
        rawTaskId: '111111:1111',
        seq: 1234,
        roomId: '2222',
        publishId: 'abc',
        mixUrl: 'rtmp://rtmp.wsdemo.zego.im/zegodemo/aaa',
        mixStreamAlias: 'aaa',
        playUrls: { rtmp: [], hls: [], hdl: [] },
      },
    });
  });

  it('reads a form body (repeated list fields, with or without []) and URL-encoded JSON alike', () => {
    const form = new URLSearchParams({ event: 'mix_start', task_id: '1:t', seq: '1' });
    form.append('rtmp_urls', 'rtmp://a/x');
    form.append('rtmp_urls[]', 'rtmp://b/x');
    form.append('hls_urls', 'https://a/x.m3u8');
    const r = parseMixCallback(form.toString());
    expect(r.ok && r.value.playUrls).toEqual({ rtmp: ['rtmp://a/x', 'rtmp://b/x'], hls: ['https://a/x.m3u8'], hdl: [] });
    const enc = parseMixCallback(encodeURIComponent(JSON.stringify(START)));
    expect(enc.ok && enc.value.playUrls.hdl).toEqual(START.hdl_urls);
  });

  it('without the lists, the single URL fields stand for them', () => {
    const { rtmp_urls: _r, hls_urls: _h, hdl_urls: _d, ...single } = START;
    const r = parseMixCallback(JSON.stringify(single));
    expect(r.ok && r.value.playUrls).toEqual({ rtmp: [START.rtmp_url], hls: [START.hls_url], hdl: [START.hdl_url] });
  });

  it('optional fields that break their rule are left out, the event kept', () => {
    const r = parseMixCallback(
      JSON.stringify({ ...STOP, channel_id: 'no/slash', publish_id: 'has space', mix_url: 'http://not-rtmp', mix_stream_alias: 'bad alias' }),
    );
    expect(r).toEqual({ ok: true, value: { event: 'mix_stop', rawTaskId: '111111:1111', seq: 1234, playUrls: { rtmp: [], hls: [], hdl: [] } } });
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a stream event', { ...STOP, event: 'stream_create' }, /unsupported event/],
    ['no task_id', { ...STOP, task_id: undefined }, /task_id missing/],
    ['a task_id with a space', { ...STOP, task_id: '1 2' }, /task_id/],
    ['a task_id of 300 characters', { ...STOP, task_id: 'x'.repeat(300) }, /task_id/],
    ['no seq', { ...STOP, seq: undefined }, /seq missing/],
    ['a seq that is not a number', { ...STOP, seq: '1e3' }, /seq/],
    ['a seq beyond 2^53', { ...STOP, seq: '9999999999999999' }, /seq/],
    ['a list of numbers', { ...START, rtmp_urls: [1, 2] }, /rtmp_urls is not a list of strings/],
    ['a list that is a string', { ...START, hls_urls: 'http://a' }, /hls_urls is not a list of strings/],
    ['a javascript: URL', { ...START, hdl_urls: ['javascript:alert(1)'] }, /hdl_urls\[0\]/],
    ['an http URL among rtmp ones', { ...START, rtmp_urls: ['rtmp://a/b', 'http://a/b'] }, /rtmp_urls\[1\]/],
    ['a URL of 2000 characters', { ...START, hls_urls: [`http://a/${'x'.repeat(2000)}`] }, /hls_urls\[0\]/],
    ['too many URLs', { ...START, rtmp_urls: Array.from({ length: MAX_PLAY_URLS + 1 }, (_, i) => `rtmp://a/${i}`) }, /more than 16/],
  ])('%s → malformed, with a reason', (_name, body, reason) => {
    const r = parseMixCallback(JSON.stringify(body));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(reason);
  });

  it.each(['', '   ', 'not json {', '[1,2]', '{"event":', '%7Bbroken%'])('body %j → malformed', (body) => {
    expect(parseMixCallback(body).ok).toBe(false);
  });

  it('lists are read only under their three names', () => {
    expect(listsOf(JSON.stringify({ rtmp_urls: ['rtmp://a/b'], other: ['x'], __proto__: ['y'] }))).toEqual({ ok: true, value: { rtmp_urls: ['rtmp://a/b'] } });
    expect(isMixEvent('mix_start') && isMixEvent('mix_stop') && !isMixEvent('stream_close') && !isMixEvent(undefined)).toBe(true);
  });
});

describe('callback retry rule', () => {
  it("is ZEGO's 2, 4, 8, 16, 32 s: 62 s from the first attempt to the last", () => {
    expect(CALLBACK_RETRY_GAPS_MS).toEqual([2000, 4000, 8000, 16_000, 32_000]);
    expect(CALLBACK_RETRY_WINDOW_MS).toBe(62_000);
  });
});
