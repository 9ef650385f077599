/**
 * The Codes and Messages the simulator answers with: the documented ones, and the simulator's own
 * choices where the docs name a rule but not its Code (each says so).
 */
export const CODES = {
  OK: 0,
  /**
   * Unknown Action or SignatureVersion. The docs name no code for these; 3004 is the simulator's
   * choice (an unused slot next to the documented 3000–3003 "app/request" codes).
   */
  BAD_REQUEST: 3004,
  TIMESTAMP: 3002,
  RATE: 30002,
  /**
   * A second DescribeSimpleStreamList for one room within 10 s. The docs state the rule but not
   * its Code; 1010 (one of the documented "call rate too high" codes) is the simulator's choice,
   * so a client reads it as throttling, as it would read whichever rate code the service sends.
   */
  ROOM_RATE: 1010,
  /** DescribeSimpleStreamList's "failed to get list information" (transient), injectable as a fault. */
  LIST_FAILED: 154,
  IS_TEST: 30004,
  APP_ID: 30005,
  STREAM_ID: 30009,
  /**
   * Sequence not strictly increasing (or not an integer). The real service rejects these, but its
   * Code is undocumented: 30010 is the simulator's choice, so clients must not special-case it.
   */
  SEQUENCE: 30010,
  AUTH: 40005,
  NOT_FOUND: 41004,
  CLOSED: 41006,
} as const;

export const MESSAGES: Readonly<Record<number, string>> = {
  [CODES.OK]: 'ok',
  [CODES.TIMESTAMP]: 'Timestamp error',
  [CODES.RATE]: 'API call rate too high',
  [CODES.ROOM_RATE]: 'API call rate too high: at most 1 call per room per 10 s',
  [CODES.LIST_FAILED]: 'failed to get list information',
  [CODES.IS_TEST]: 'Incorrect IsTest parameter',
  [CODES.APP_ID]: 'Invalid AppId',
  [CODES.STREAM_ID]: 'Invalid StreamId',
  [CODES.SEQUENCE]: 'Sequence must be strictly increasing within 10 s for the same StreamId',
  [CODES.AUTH]: 'Authentication failed',
  [CODES.NOT_FOUND]: 'StreamId does not exist',
  [CODES.CLOSED]: 'Stream is closed',
};
