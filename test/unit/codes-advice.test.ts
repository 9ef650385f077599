import { describe, expect, it } from 'vitest';
import { CODE_TABLE, codeRow, configErrorAdvice } from '../../src/zego/codes.js';
import { API_ACTIONS } from '../../src/zego/protocol.js';

/**
 * What the operator is told to do about each configuration error (zego/codes.ts): the key to fix
 * or whom to ask, for the AppID and the API concerned. One line each, shown in the log and on the
 * landing page.
 */
describe('configuration error advice', () => {
  const advice = (code: number, api: (typeof API_ACTIONS)[number] = 'DescribeSimpleStreamList'): string => configErrorAdvice(api, code, 4242);

  it('a service not enabled: ask ZEGO to enable the API', () => {
    expect(advice(100000017, 'DescribeUserNum')).toBe('ZEGO says this service is not enabled for AppID 4242: ask ZEGO to enable DescribeUserNum');
  });

  it('no ServerSecret for the AppID: check the AppID and the region of the endpoint', () => {
    expect(advice(100000010)).toBe("ZEGO finds no ServerSecret for AppID 4242: check zego.app_id (and that the endpoint is the AppID's region)");
  });

  it("the app's configuration unreadable: check the AppID or ask ZEGO", () => {
    expect(advice(100000011)).toBe('ZEGO cannot read the configuration of AppID 4242: check zego.app_id, or ask ZEGO support');
  });

  it('the wrong environment (gateway 100000016, stream API 30004): set zego.is_test', () => {
    const text = 'AppID 4242 is not configured for the environment asked for: set zego.is_test to match the app (test environment until launch)';
    expect(advice(100000016)).toBe(text);
    expect(advice(30004, 'DescribeRTCStreamState')).toBe(text);
  });

  it('an AppID rejected (100000001, 30005, 3000): check zego.app_id', () => {
    for (const code of [100000001, 30005, 3000])
      expect(advice(code, 'DescribeRTCStreamState'), String(code)).toBe('ZEGO rejects AppID 4242: check zego.app_id');
  });

  it('no permission for a room API (9): ask ZEGO to grant it', () => {
    expect(advice(9, 'DescribeUserNum')).toBe('ZEGO says AppID 4242 has no permission for DescribeUserNum: ask ZEGO to grant it');
  });

  it("a room API's verification failed (3): check the AppID and the secret", () => {
    const text = advice(3);
    expect(text).toBe("ZEGO's verification of DescribeSimpleStreamList failed for AppID 4242: check zego.app_id and zego.server_secret");
  });

  it('any other configuration error is a malformed request: the meaning from the table, then the endpoint', () => {
    expect(advice(100000007)).toBe(
      'ZEGO rejects DescribeSimpleStreamList requests as malformed (Action not supported): check zego.endpoint; if it persists, report it as an exporter bug',
    );
    expect(advice(100000002, 'DescribeRTCStreamState')).toContain('(Timestamp empty)');
    // A code the table does not know is named by its number.
    expect(advice(777)).toBe(
      'ZEGO rejects DescribeSimpleStreamList requests as malformed (code 777): check zego.endpoint; if it persists, report it as an exporter bug',
    );
  });

  it('every configuration row of the table gets advice naming the AppID', () => {
    for (const api of API_ACTIONS)
      for (const row of CODE_TABLE.filter((r) => r.cls === 'config' && codeRow(api, r.code) === r))
        expect(configErrorAdvice(api, row.code, 4242), `${api} ${row.code}`).toMatch(/4242|zego\.endpoint/);
  });
});

describe('code rows', () => {
  it("an Action's own family wins over the gateway's for the same code, and each row says where the docs say it", () => {
    expect(codeRow('DescribeRTCStreamState', 0)).toEqual({
      code: 0,
      family: 'stream_state',
      cls: 'active',
      meaning: 'stream exists and is active',
      doc: 'DescribeRTCStreamState page, Response',
    });
    expect(codeRow('DescribeUserNum', 0)).toEqual({ code: 0, family: 'room', cls: 'ok', meaning: 'success', doc: 'return-codes.mdx (room signalling)' });
    expect(codeRow('DescribeUserNum', 154)?.doc).toBe('DescribeSimpleStreamList page');
    expect(codeRow('DescribeRTCStreamState', 100000005)).toEqual({
      code: 100000005,
      family: 'gateway',
      cls: 'auth',
      meaning: 'signature error',
      doc: 'return-codes.mdx (global return codes)',
    });
    expect(codeRow('DescribeRTCStreamState', 30002)?.doc).toBe('return-codes.mdx (global return codes)');
    expect(codeRow('DescribeRTCStreamState', 104)).toBeUndefined();
  });
});
