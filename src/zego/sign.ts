import { createHash, randomBytes } from 'node:crypto';

/** md5(AppId + SignatureNonce + ServerSecret + Timestamp), lowercase hex (ZEGO signature v2.0). */
export function signature(appId: number, nonce: string, serverSecret: string, timestampSec: number): string {
  return createHash('md5').update(`${appId}${nonce}${serverSecret}${timestampSec}`).digest('hex');
}

/** 16 hex characters from 8 random bytes, as the API requires. */
export function newNonce(): string {
  return randomBytes(8).toString('hex');
}
