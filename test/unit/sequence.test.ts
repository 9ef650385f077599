import { describe, expect, it } from 'vitest';
import { SequenceCounter } from '../../src/zego/sequence.js';

const T0 = 1_700_000_000_000;

function ints(values: string[]): bigint[] {
  return values.map((v) => BigInt(v));
}

function expectStrictlyIncreasing(values: string[]): void {
  const n = ints(values);
  for (let i = 1; i < n.length; i++) {
    if (!(n[i]! > n[i - 1]!)) throw new Error(`not increasing at ${i}: ${values[i - 1]} then ${values[i]}`);
  }
}

describe('SequenceCounter', () => {
  it('produces decimal strings', () => {
    const seq = new SequenceCounter(() => T0);
    for (let i = 0; i < 100; i++) expect(seq.next()).toMatch(/^[1-9]\d*$/);
  });

  it('starts at the current millisecond', () => {
    const seq = new SequenceCounter(() => T0 + 0.7);
    expect(seq.next()).toBe(String(T0));
  });

  it('increases strictly across 10k calls within the same millisecond', () => {
    const seq = new SequenceCounter(() => T0);
    const values = Array.from({ length: 10_000 }, () => seq.next());
    expectStrictlyIncreasing(values);
    expect(new Set(values).size).toBe(10_000);
    expect(values[0]).toBe(String(T0));
    expect(values[9_999]).toBe(String(T0 + 9_999));
  });

  it('keeps increasing when the clock steps back one hour', () => {
    let now = T0;
    const seq = new SequenceCounter(() => now);
    const before = [seq.next(), seq.next(), seq.next()];
    now = T0 - 3_600_000;
    const after = Array.from({ length: 1000 }, () => {
      now += 1;
      return seq.next();
    });
    expectStrictlyIncreasing([...before, ...after]);
    expect(BigInt(after[0]!)).toBe(BigInt(before[2]!) + 1n);
  });

  it('jumps to now when the clock moves forward', () => {
    let now = T0;
    const seq = new SequenceCounter(() => now);
    for (let i = 0; i < 50; i++) seq.next();
    now = T0 + 60_000;
    expect(seq.next()).toBe(String(T0 + 60_000));
    expect(seq.next()).toBe(String(T0 + 60_001));
  });

  it('uses Date.now by default', () => {
    const before = Date.now();
    const v = Number(new SequenceCounter().next());
    expect(v).toBeGreaterThanOrEqual(before);
    expect(v).toBeLessThanOrEqual(Date.now());
  });

  it("sends the fleet's Sequence as given, and its own counter never falls below one it sent", () => {
    let now = T0 + 5000; // this host runs 5 s ahead of the fleet
    const seq = new SequenceCounter(() => now);
    expect(seq.next(T0 + 10)).toBe(String(T0 + 10));
    expect(seq.next(T0 + 11)).toBe(String(T0 + 11));
    expect(seq.last).toBe(T0 + 11);
    // Redis away: the local counter, from its clock.
    expect(seq.next()).toBe(String(T0 + 5000));
    // A fleet value far ahead (another host's) raises it: back on the local counter, it stays above.
    seq.next(T0 + 9000);
    now = T0 + 6000;
    expect(seq.next()).toBe(String(T0 + 9001));
  });
});
