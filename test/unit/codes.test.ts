import { describe, expect, it } from 'vitest';
import { classify, CODE_TABLE, codeLabel, codeRow, configErrorAdvice, type CodeClass } from '../../src/zego/codes.js';
import { API_ACTIONS, type ApiAction } from '../../src/zego/protocol.js';

/**
 * Every code ZEGO's docs list for the APIs the exporter calls, with the reading the notes give it
 * (../shared reference notes: Response, Room APIs). Written out here, apart from the table in
 * src/, so that a row changed or dropped there fails here.
 */
const GATEWAY: [number, CodeClass][] = [
  [100000000, 'config'],
  [100000001, 'config'],
  [100000002, 'config'],
  [100000003, 'config'],
  [100000004, 'clock_skew'],
  [100000005, 'auth'],
  [100000006, 'config'],
  [100000007, 'config'],
  [100000008, 'config'],
  [100000009, 'config'],
  [100000010, 'config'],
  [100000011, 'config'],
  [100000013, 'config'],
  [100000014, 'config'],
  [100000015, 'transient'],
  [100000016, 'config'],
  [100000017, 'config'],
];
const STREAM_STATE: [number, CodeClass][] = [
  [0, 'active'],
  [41006, 'closed'],
  [41004, 'not_found'],
  [30002, 'throttled'],
  [1010, 'throttled'],
  [5007, 'throttled'],
  [3002, 'clock_skew'],
  [40005, 'auth'],
  [5003, 'auth'],
  [30004, 'config'],
  [30005, 'config'],
  [3000, 'config'],
  [30009, 'stream_config'],
  [3001, 'transient'],
  [30003, 'transient'],
  [5000, 'transient'],
  [5001, 'transient'],
  [5002, 'transient'],
  [5006, 'transient'],
];
const ROOM: [number, CodeClass][] = [
  [0, 'ok'],
  [1, 'transient'],
  [2, 'error'],
  [3, 'config'],
  [7, 'throttled'],
  [9, 'config'],
  [104, 'room_absent'],
  [154, 'transient'],
  [206, 'throttled'],
  [207, 'room_throttled'],
  [5024, 'room_absent'],
  [50001, 'room_absent'],
  [50002, 'error'],
];
const MIX: [number, CodeClass][] = [
  [0, 'active'],
  [110200001, 'transient'],
  [110200004, 'error'],
  [110200194, 'throttled'],
  [110209001, 'not_found'],
];
const EXPECTED: Record<ApiAction, [number, CodeClass][]> = {
  DescribeRTCStreamState: [...GATEWAY, ...STREAM_STATE],
  DescribeSimpleStreamList: [...GATEWAY, ...ROOM],
  DescribeUserNum: [...GATEWAY, ...ROOM],
  GetMixTaskInfo: [...GATEWAY, ...MIX],
};

describe('return codes by API family', () => {
  for (const api of API_ACTIONS) {
    it.each(EXPECTED[api])(`${api}: code %i reads %s and keeps its own label`, (code, cls) => {
      expect(classify(api, code)).toBe(cls);
      expect(codeLabel(api, code)).toBe(String(code));
    });
  }

  it('every row of the table is a documented code of some family, with the doc section it comes from', () => {
    const expected = new Set([...GATEWAY, ...STREAM_STATE, ...ROOM, ...MIX].map(([c]) => c));
    for (const row of CODE_TABLE) {
      expect(expected.has(row.code), `row ${row.code}`).toBe(true);
      expect(row.doc).not.toBe('');
      expect(row.meaning).not.toBe('');
    }
    expect(CODE_TABLE).toHaveLength(GATEWAY.length + STREAM_STATE.length + ROOM.length + MIX.length);
  });

  it.each([...GATEWAY, ...MIX])('GetMixTaskInfo: code %i reads %s and keeps its own label', (code, cls) => {
    expect(classify('GetMixTaskInfo', code)).toBe(cls);
    expect(codeLabel('GetMixTaskInfo', code)).toBe(String(code));
  });

  it('the mix family and the others do not read each other: an error, labelled other', () => {
    for (const [api, code] of [
      ['GetMixTaskInfo', 41004],
      ['GetMixTaskInfo', 30002],
      ['GetMixTaskInfo', 104],
      ['DescribeRTCStreamState', 110209001],
      ['DescribeSimpleStreamList', 110200194],
    ] as const) {
      expect(classify(api, code)).toBe('error');
      expect(codeLabel(api, code)).toBe('other');
    }
  });

  it('a code of another family means nothing here: an error, labelled other (the series set stays bounded)', () => {
    for (const [api, code] of [
      ['DescribeRTCStreamState', 104],
      ['DescribeRTCStreamState', 207],
      ['DescribeSimpleStreamList', 41004],
      ['DescribeSimpleStreamList', 30002],
      ['DescribeUserNum', 41006],
      ['DescribeUserNum', 123456],
    ] as const) {
      expect(classify(api, code)).toBe('error');
      expect(codeLabel(api, code)).toBe('other');
    }
  });

  it('a configuration error says what to do, naming the AppID and the API, never a secret', () => {
    expect(configErrorAdvice('DescribeRTCStreamState', 100000017, 42)).toBe(
      'ZEGO says this service is not enabled for AppID 42: ask ZEGO to enable DescribeRTCStreamState',
    );
    for (const api of API_ACTIONS) {
      for (const [code, cls] of EXPECTED[api]) {
        if (cls !== 'config') continue;
        const advice = configErrorAdvice(api, code, 42);
        expect(advice, `${api} ${code}`).toMatch(/42|zego\./);
        expect(codeRow(api, code)?.cls).toBe('config');
      }
    }
  });
});
