import { nickname } from '@wxkit/shared';
import { describe, expect, it } from 'vitest';
import { checkNickname } from '../src/forms/nickname.ts';

// The page checks nicknames without zod (bundle size); it must say exactly what the shared schema says.
const samples = ['', ' ', '   \t ', 'a', ' Ada ', '王小明', '😀', 'x'.repeat(32), ` ${'x'.repeat(32)} `, 'x'.repeat(33), '😀'.repeat(16), '😀'.repeat(17), '\u3000名\u3000'];

describe('checkNickname agrees with the shared nickname schema', () => {
  for (const sample of samples) {
    it(JSON.stringify(sample), () => {
      const expected = nickname.safeParse(sample);
      const actual = checkNickname(sample);
      expect(actual.ok).toBe(expected.success);
      if (actual.ok && expected.success) expect(actual.nickname).toBe(expected.data);
      if (!actual.ok && !expected.success) expect(actual.message).toBe(expected.error.issues[0]?.message);
    });
  }
});
