import { createHash, randomBytes } from 'node:crypto';

/** md5(AppId + SignatureNonce + ServerSecret + Timestamp), lowercase hex (ZEGO signature v2.0). */
export function signature(appId: number, nonce: string, serverSecret: string, timestampSec: number): string {
  return createHash('md5').update(`${appId}${nonce}${serverSecret}${timestampSec}`).digest('hex');
}

/**
 * Random bytes drawn 4 KiB at a time: a synchronous randomBytes(8) per call was ~0.15 ms of a
 * probe's CPU (a job through the crypto binding each time), the largest single item of the
 * exporter's own per-call work. Each nonce still takes 8 bytes of the CSPRNG's output no other
 * nonce shares.
 */
const NONCE_POOL_BYTES = 4096;
let noncePool = Buffer.alloc(0);
let noncePoolAt = 0;

/** 16 hex characters from 8 random bytes, as the API requires. */
export function newNonce(): string {
  if (noncePoolAt + 8 > noncePool.length) {
    noncePool = randomBytes(NONCE_POOL_BYTES);
    noncePoolAt = 0;
  }
  noncePoolAt += 8;
  return noncePool.toString('hex', noncePoolAt - 8, noncePoolAt);
}
