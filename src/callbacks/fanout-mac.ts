import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Secret } from '../config/secret.js';

/**
 * Proof that a fan-out entry was written by an exporter holding the callback secret. Write access
 * to the fleet's Redis must not be callback injection: replicas apply only entries whose MAC
 * verifies.
 *
 * The key is derived from the callback secret, never the secret itself, so what sits next to the
 * entries (and any MAC an attacker collects) says nothing usable about the secret that signs
 * ZEGO's callbacks. The MAC covers the entry exactly as stored (every field and value before it,
 * in order) and the stream's key, so an entry cannot be moved to another AppID's stream.
 */

const DERIVATION_LABEL = 'zego-exporter fanout v1';
/** The field that carries the MACs; always the entry's last. */
export const MAC_FIELD = 'mac';
const HEX_MAC = /^[0-9a-f]{64}$/;
/** A writer holds at most two keys (the secret and, while rotating, the previous one). */
const MAX_MACS = 2;

/** HMAC-SHA256(secret, "zego-exporter fanout v1"): the key fan-out entries are signed with. */
export function deriveFanoutKey(secret: Secret): Buffer {
  return createHmac('sha256', secret.reveal()).update(DERIVATION_LABEL).digest();
}

/** The keys this replica signs with and accepts: the current secret's first, the previous one's while rotating. */
export function fanoutKeys(secret: Secret, previous?: Secret): Buffer[] {
  return previous && !previous.equals(secret) ? [deriveFanoutKey(secret), deriveFanoutKey(previous)] : [deriveFanoutKey(secret)];
}

function mac(key: Buffer, streamKey: string, fields: readonly string[]): Buffer {
  // JSON of the field list: unambiguous however the values look (no separator can be forged into one).
  return createHmac('sha256', key)
    .update(`${streamKey}\n${JSON.stringify(fields)}`)
    .digest();
}

/** The `mac` field's value for an entry's fields: one MAC per key, comma-separated, so a replica that holds any of them verifies it. */
export function signEntry(keys: readonly Buffer[], streamKey: string, fields: readonly string[]): string {
  return keys.map((k) => mac(k, streamKey, fields).toString('hex')).join(',');
}

export type EntryCheck = 'signed' | 'unsigned' | 'bad_mac';

/**
 * An entry's raw field list as read back: `signed` when its last field is `mac` and one of the
 * MACs there is what one of `keys` makes of the fields before it; `unsigned` without a `mac`
 * field; `bad_mac` otherwise (wrong key, altered fields, `mac` not last, a malformed value).
 */
export function checkEntry(keys: readonly Buffer[], streamKey: string, raw: readonly string[]): EntryCheck {
  // Only a field name counts (even index), not a value that happens to read "mac".
  let macAt = -1;
  for (let i = 0; i < raw.length; i += 2) if (raw[i] === MAC_FIELD) macAt = i;
  if (macAt === -1) return 'unsigned';
  if (macAt !== raw.length - 2) return 'bad_mac';
  const given = raw[macAt + 1]!.split(',');
  if (given.length > MAX_MACS || !given.every((g) => HEX_MAC.test(g))) return 'bad_mac';
  const fields = raw.slice(0, macAt);
  for (const k of keys) {
    const want = mac(k, streamKey, fields);
    // Every given MAC is compared (no early exit on which one matched): the timing says nothing about the key.
    let ok = false;
    for (const g of given) ok = timingSafeEqual(want, Buffer.from(g, 'hex')) || ok;
    if (ok) return 'signed';
  }
  return 'bad_mac';
}
