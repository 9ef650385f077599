/**
 * The rules ZEGO's API and callbacks share with this exporter, written once: what a stream id and
 * a room id may be, the test environment's id prefix, and the host:port grammar of every listen address. The
 * config reader, the callback parser, the client and the simulator all ask here, so they cannot
 * drift apart.
 */

/** The API rejects longer StreamIds (counted in UTF-8 bytes, prefix included). */
export const MAX_STREAM_ID_BYTES = 256;
const STREAM_ID_CHARS = /^[A-Za-z0-9_-]+$/;

/** Only letters, digits, `-` and `_` (length not checked). */
export function hasStreamIdChars(id: string): boolean {
  return STREAM_ID_CHARS.test(id);
}

/** The API's StreamId rule: 1..256 bytes of letters, digits, `-` and `_`. */
export function isValidStreamId(id: string): boolean {
  return id.length >= 1 && hasStreamIdChars(id) && Buffer.byteLength(id, 'utf8') <= MAX_STREAM_ID_BYTES;
}

/** The test environment requires stream ids prefixed `zegotest-<AppId>-`. */
export function testPrefix(appId: number): string {
  return `zegotest-${appId}-`;
}

/** Whether an id already carries a test-environment prefix (for any AppID). */
export function hasAnyTestPrefix(id: string): boolean {
  return id.startsWith('zegotest-');
}

/** The id as the API knows it: the bare id, prefixed in the test environment. */
export function apiStreamId(id: string, appId: number, isTest: boolean): string {
  return isTest ? `${testPrefix(appId)}${id}` : id;
}

/**
 * The bare id inside a test-environment id: null unless `apiId` carries this AppID's prefix
 * followed by at least one character.
 */
export function stripTestPrefix(apiId: string, appId: number): string | null {
  const prefix = testPrefix(appId);
  return apiId.startsWith(prefix) && apiId.length > prefix.length ? apiId.slice(prefix.length) : null;
}

/**
 * The bare id of an id the API (or a callback) reported: test-environment ids lose their prefix;
 * anything else is returned as is.
 */
export function bareStreamId(apiId: string, appId: number, isTest: boolean): string {
  return (isTest && stripTestPrefix(apiId, appId)) || apiId;
}

/**
 * ZEGO's room id rule (the room APIs' pages and the Express SDK's loginRoom docs): under 128 bytes
 * of digits, English letters and ~ ! @ # $ % ^ & * ( ) _ + = - ` ; ' , . < > \ (a backslash, not a
 * slash). Space, quotes, `/`, `?`, `:` and non-ASCII are not allowed. Whether the test environment
 * prefixes room ids like stream ids is unconfirmed: room ids are checked and sent as configured.
 */
export const MAX_ROOM_ID_BYTES = 127;
const ROOM_ID_CHARS = /^[A-Za-z0-9~!@#$%^&*()_+=`;',.<>\\-]+$/;

export function isValidRoomId(id: string): boolean {
  return id.length >= 1 && id.length <= MAX_ROOM_ID_BYTES && ROOM_ID_CHARS.test(id);
}

/** The Actions the exporter calls; the `api` label of the self-metrics carries these names. */
export const API_ACTIONS = ['DescribeRTCStreamState', 'DescribeSimpleStreamList', 'DescribeUserNum', 'GetMixTaskInfo'] as const;
export type ApiAction = (typeof API_ACTIONS)[number];

/** Whether an Action name is one of the product's (a test may add made-up ones to the Actions table). */
export function isApiAction(name: string): name is ApiAction {
  return (API_ACTIONS as readonly string[]).includes(name);
}

/** DescribeUserNum answers for 1 to 10 rooms a call. */
export const MAX_ROOMS_PER_USER_NUM = 10;

export type HostPort = { ok: true; host: string | undefined; port: number } | { ok: false; message: string };

/** A host name or IPv4 address, or an IPv6 address in brackets (optionally with a %zone). */
const HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?)\]|([A-Za-z0-9.-]*)):(\d{1,5})$/;

/**
 * `:9792`, `127.0.0.1:9792`, `localhost:0`, `[::1]:9792`. An empty host (undefined) listens on
 * every interface; port 0 asks the system for a free one. `quoted` is how messages show the text.
 */
export function parseHostPort(s: string, quoted: string = JSON.stringify(s)): HostPort {
  const m = HOST_PORT.exec(s);
  if (!m) return { ok: false, message: `expected [host]:port, got ${quoted}` };
  const port = Number(m[3]);
  if (port > 65535) return { ok: false, message: `port out of range in ${quoted}` };
  const host = m[1] ?? (m[2] === '' ? undefined : m[2]);
  return { ok: true, host, port };
}
