import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { newNonce, signature } from '../../src/zego/sign.js';

describe('signature', () => {
  it('matches the official ZEGO test vector', () => {
    expect(signature(12345, '4fd24687296dd9f3', '9193cc662a4c0ec135ec71fb57194b38', 1615186943)).toBe('43e5cfcca828314675f91b001390566a');
  });

  it('is md5 of the plain concatenation, 32 lowercase hex characters', () => {
    const s = signature(987654321, 'abcdef0123456789', 'S3CRET', 1700000000);
    expect(s).toMatch(/^[0-9a-f]{32}$/);
    expect(s).toBe(createHash('md5').update('987654321abcdef0123456789S3CRET1700000000').digest('hex'));
  });

  it('changes with every input', () => {
    const base = signature(12345, '4fd24687296dd9f3', '9193cc662a4c0ec135ec71fb57194b38', 1615186943);
    expect(signature(12346, '4fd24687296dd9f3', '9193cc662a4c0ec135ec71fb57194b38', 1615186943)).not.toBe(base);
    expect(signature(12345, '4fd24687296dd9f4', '9193cc662a4c0ec135ec71fb57194b38', 1615186943)).not.toBe(base);
    expect(signature(12345, '4fd24687296dd9f3', '9193cc662a4c0ec135ec71fb57194b39', 1615186943)).not.toBe(base);
    expect(signature(12345, '4fd24687296dd9f3', '9193cc662a4c0ec135ec71fb57194b38', 1615186944)).not.toBe(base);
  });
});

describe('newNonce', () => {
  it('is 16 lowercase hex characters', () => {
    for (let i = 0; i < 200; i++) expect(newNonce()).toMatch(/^[0-9a-f]{16}$/);
  });

  it('differs between calls', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(newNonce());
    expect(seen.size).toBe(1000);
  });
});
