/**
 * The Codes and Messages the simulator answers with: the documented ones, and the simulator's own
 * choices where the docs name a rule but not its Code (each says so).
 */
export const CODES = {
  OK: 0,
  TIMESTAMP: 3002,
  /** DescribeRTCStreamState over its AppID limit. */
  RATE: 30002,
  /** Room APIs: the AppID's QPS limit (the default reading of "over the limit" for room APIs). */
  ROOM_APP_QPS: 206,
  /** Room APIs: the per-room limit (DescribeSimpleStreamList: 1 call per room per 10 s). */
  ROOM_QPS: 207,
  /** Room APIs: "over the per-second limit", the other documented reading of the AppID limit (an option). */
  ROOM_PER_SECOND: 7,
  /** Room APIs: the room does not exist (ZEGO destroys a room when its last user leaves). */
  ROOM_NOT_EXIST: 104,
  /** DescribeSimpleStreamList's "failed to get list information" (transient), injectable as a fault. */
  LIST_FAILED: 154,
  /**
   * Wrong IsTest, and the simulator's choice for a call WITHOUT IsTest to a project that requires
   * it (created on or before 2021-11-16): the docs say it is required but not what a call lacking
   * it gets; "wrong IsTest" is the table's nearest reading.
   */
  IS_TEST: 30004,
  STREAM_ID: 30009,
  /**
   * Sequence not strictly increasing (or not an integer). The real service rejects these, but its
   * Code is undocumented: 30010 is the simulator's choice, so clients must not special-case it.
   */
  SEQUENCE: 30010,
  AUTH: 40005,
  NOT_FOUND: 41004,
  CLOSED: 41006,
  /** Room APIs: a bad parameter (RoomId / RoomId[]). */
  ROOM_BAD_PARAMETER: 2,
  /** Gateway: Timestamp outside the 10-minute window, as the room APIs answer it (their own table has no such code). */
  SIGNATURE_EXPIRED: 100000004,
  /** Gateway: signature error, as the room APIs answer it. */
  SIGNATURE_ERROR: 100000005,
  /** Gateway: AppId is not a uint32 in canonical decimal. */
  APP_ID_FORMAT: 100000001,
  /** Gateway: Timestamp empty / not a number. */
  TIMESTAMP_EMPTY: 100000002,
  TIMESTAMP_FORMAT: 100000003,
  /** Gateway: Action empty / not one this gateway serves. */
  ACTION_EMPTY: 100000006,
  ACTION_UNSUPPORTED: 100000007,
  /** Gateway: SignatureNonce / Signature empty. */
  NONCE_EMPTY: 100000008,
  SIGNATURE_EMPTY: 100000009,
  /** Gateway: SignatureVersion empty / not 2.0. */
  VERSION_EMPTY: 100000013,
  VERSION_UNSUPPORTED: 100000014,
  /** Gateway: failed to get the ServerSecret, i.e. an AppId nobody knows. */
  UNKNOWN_APP: 100000010,
  /** Gateway: the service (this Action) is not enabled for the app. */
  SERVICE_NOT_ENABLED: 100000017,
  /** Gateway: the app is not configured for production (IsTest); how GetMixTaskInfo answers a wrong or missing IsTest. */
  NOT_PRODUCTION: 100000016,
  /** GetMixTaskInfo: failed, retry (injectable as the mixFailure fault). */
  MIX_FAILED: 110200001,
  /** GetMixTaskInfo: failed to parse the input parameters (TaskId). */
  MIX_BAD_PARAMETER: 110200004,
  /** GetMixTaskInfo: over its AppID limit ("stream mixing request overload"). */
  MIX_OVERLOAD: 110200194,
  /** GetMixTaskInfo: the task does not exist (ended or never started). */
  MIX_NOT_EXIST: 110209001,
} as const;

export const MESSAGES: Readonly<Record<number, string>> = {
  [CODES.OK]: 'ok',
  [CODES.TIMESTAMP]: 'Timestamp error',
  [CODES.RATE]: 'API call rate too high',
  [CODES.ROOM_APP_QPS]: 'AppID QPS limit exceeded',
  [CODES.ROOM_QPS]: 'room QPS limit exceeded: at most 1 call per room per 10 s',
  [CODES.ROOM_PER_SECOND]: 'over the per-second call limit',
  [CODES.ROOM_NOT_EXIST]: 'room does not exist',
  [CODES.LIST_FAILED]: 'failed to get list information',
  [CODES.IS_TEST]: 'Incorrect IsTest parameter',
  [CODES.STREAM_ID]: 'Invalid StreamId',
  [CODES.SEQUENCE]: 'Sequence must be strictly increasing within 10 s for the same StreamId',
  [CODES.AUTH]: 'Authentication failed',
  [CODES.NOT_FOUND]: 'StreamId does not exist',
  [CODES.CLOSED]: 'Stream is closed',
  [CODES.ROOM_BAD_PARAMETER]: 'bad parameter',
  [CODES.SIGNATURE_EXPIRED]: 'signature expired',
  [CODES.SIGNATURE_ERROR]: 'signature error',
  [CODES.APP_ID_FORMAT]: 'AppId format error',
  [CODES.TIMESTAMP_EMPTY]: 'Timestamp empty',
  [CODES.TIMESTAMP_FORMAT]: 'Timestamp format error',
  [CODES.ACTION_EMPTY]: 'Action empty',
  [CODES.ACTION_UNSUPPORTED]: 'Action not supported',
  [CODES.NONCE_EMPTY]: 'SignatureNonce empty',
  [CODES.SIGNATURE_EMPTY]: 'Signature empty',
  [CODES.VERSION_EMPTY]: 'SignatureVersion empty',
  [CODES.VERSION_UNSUPPORTED]: 'SignatureVersion not supported',
  [CODES.UNKNOWN_APP]: 'failed to get the ServerSecret',
  [CODES.SERVICE_NOT_ENABLED]: 'service not enabled',
  [CODES.NOT_PRODUCTION]: 'app not configured for production',
  [CODES.MIX_FAILED]: 'failed',
  [CODES.MIX_BAD_PARAMETER]: 'failed to parse input parameters',
  [CODES.MIX_OVERLOAD]: 'stream mixing request overload',
  [CODES.MIX_NOT_EXIST]: 'stream mixing task does not exist',
};
