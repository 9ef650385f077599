import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlvTagReader, judgeFlv } from '../../src/outputs/flv.js';
import { flvStream } from '../unit/outputs-helpers.js';

const STREAM = flvStream(2500);

function whole(bytes: Buffer): FlvTagReader {
  const r = new FlvTagReader();
  r.push(bytes);
  return r;
}

/** `bytes` cut at the given offsets (sorted, deduplicated), as the network might deliver it. */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of at) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  out.push(bytes.subarray(prev));
  return out;
}

describe('FLV tag reader over any chunking', () => {
  it('counts the same tags, keyframes and timestamps however a valid stream is split', () => {
    const expected = whole(STREAM).counts;
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 300 }), (cuts) => {
        const r = new FlvTagReader();
        for (const chunk of chunked(STREAM, cuts)) expect(r.push(chunk)).toBe(true);
        expect(r.error).toBeNull();
        expect(r.counts).toEqual(expected);
      }),
    );
  });

  it('a prefix of a valid stream, in any chunks, never reads as broken', () => {
    fc.assert(
      fc.property(fc.nat({ max: STREAM.length }), fc.array(fc.nat(), { maxLength: 50 }), (len, cuts) => {
        const r = new FlvTagReader();
        for (const chunk of chunked(STREAM.subarray(0, len), cuts)) r.push(chunk);
        expect(r.error).toBeNull();
      }),
    );
  });

  it('bytes that do not begin with the FLV signature are bad_flv, in any chunks', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 9, maxLength: 2048 }).filter((b) => Buffer.from(b.subarray(0, 3)).toString('latin1') !== 'FLV'),
        fc.array(fc.nat(), { maxLength: 20 }),
        (junk, cuts) => {
          const r = new FlvTagReader();
          for (const chunk of chunked(Buffer.from(junk), cuts)) r.push(chunk);
          expect(judgeFlv(r, junk.length).reason).toBe('bad_flv');
        },
      ),
    );
  });
});
