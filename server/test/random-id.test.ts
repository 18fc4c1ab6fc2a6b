import { describe, expect, it } from 'vitest';
import { randomBytesPooled, randomId } from '../src/auth/random-id.ts';

describe('pooled random bytes', () => {
  it('hands out each byte once, across pool refills', () => {
    // 18-byte ids over several 4 KiB refills: all distinct, all 24 base64url characters.
    const ids = Array.from({ length: 2000 }, () => randomId(18));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => /^[A-Za-z0-9_-]{24}$/.test(id))).toBe(true);
  });

  it('returns copies that later draws do not change', () => {
    const iv = randomBytesPooled(12);
    const copy = Buffer.from(iv);
    for (let i = 0; i < 1000; i++) randomBytesPooled(12);
    expect(iv.equals(copy)).toBe(true);
  });

  it('refuses more than a pool at once', () => {
    expect(() => randomBytesPooled(5000)).toThrow(RangeError);
  });
});
