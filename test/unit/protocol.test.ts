import { describe, expect, it } from 'vitest';
import { apiStreamId, bareStreamId, hasAnyTestPrefix, isValidStreamId, parseHostPort, stripTestPrefix, testPrefix } from '../../src/zego/protocol.js';

describe('stream id rule', () => {
  it('accepts 1..256 bytes of letters, digits, - and _', () => {
    for (const ok of ['a', 'room-1_cam', 'A9', 'x'.repeat(256)]) expect(isValidStreamId(ok)).toBe(true);
  });

  it('rejects empty, too long and other characters', () => {
    for (const bad of ['', 'x'.repeat(257), 'a b', 'a/b', 'a.b', 'é', 'a*']) expect(isValidStreamId(bad)).toBe(false);
  });
});

describe('test-environment prefix', () => {
  it('prefixes zegotest-<AppId>- in the test environment', () => {
    expect(testPrefix(123456789)).toBe('zegotest-123456789-');
    expect(apiStreamId('test', 123456789, true)).toBe('zegotest-123456789-test');
  });

  it('leaves the id alone in production', () => {
    expect(apiStreamId('test', 123456789, false)).toBe('test');
    expect(apiStreamId('room-1_cam', 1, false)).toBe('room-1_cam');
  });

  it('strips only this AppID prefix followed by an id', () => {
    expect(stripTestPrefix('zegotest-7-cam', 7)).toBe('cam');
    expect(stripTestPrefix('zegotest-8-cam', 7)).toBeNull();
    expect(stripTestPrefix('zegotest-7-', 7)).toBeNull();
    expect(stripTestPrefix('cam', 7)).toBeNull();
  });

  it('round-trips: the bare id of an API id is the id the config listed', () => {
    for (const id of ['a', 'zegotest-1-x', 'cam-1']) {
      expect(bareStreamId(apiStreamId(id, 42, true), 42, true)).toBe(id);
      expect(bareStreamId(apiStreamId(id, 42, false), 42, false)).toBe(id);
    }
    // A production id that merely looks prefixed is left alone.
    expect(bareStreamId('zegotest-42-cam', 42, false)).toBe('zegotest-42-cam');
  });

  it('spots a prefix written into a bare id, whatever the AppID', () => {
    expect(hasAnyTestPrefix('zegotest-1-a')).toBe(true);
    expect(hasAnyTestPrefix('zegotester')).toBe(false);
  });
});

describe('host:port', () => {
  it('parses listen addresses', () => {
    expect(parseHostPort(':9792')).toEqual({ ok: true, host: undefined, port: 9792 });
    expect(parseHostPort('127.0.0.1:0')).toEqual({ ok: true, host: '127.0.0.1', port: 0 });
    expect(parseHostPort('localhost:9793')).toEqual({ ok: true, host: 'localhost', port: 9793 });
    expect(parseHostPort('[::1]:9792')).toEqual({ ok: true, host: '::1', port: 9792 });
    expect(parseHostPort('[fe80::1%eth0]:9792')).toEqual({ ok: true, host: 'fe80::1%eth0', port: 9792 });
  });

  it('rejects anything else with a message quoting the input', () => {
    for (const bad of ['9792', 'host:', ':70000', 'a:b:1', 'nope', '::1:9792', 'a b:1', '[]:1', 'host:port']) {
      const r = parseHostPort(bad);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.message).toContain(bad);
    }
  });
});
