import { password, passwordAttempt, profile, username } from '@wxkit/shared';
import { describe, expect, it } from 'vitest';
import { parseProfile } from '../src/api/profile-shape.ts';
import { checkCredentials, checkPassword, checkPasswordAttempt, checkUsername, fieldOfMessage } from '../src/forms/credentials.ts';

// The bundle checks these shapes without zod (bundle size); they must say what the shared schemas say.

describe('checkUsername agrees with the shared username schema', () => {
  const samples = ['', 'ab', 'abc', ' Ann ', 'ANN.SMITH', 'ann_smith-1', 'a'.repeat(32), 'a'.repeat(33), 'ann smith', 'ann@x', '王小明', ' ab ', 'abc\u00e9'];
  for (const sample of samples) {
    it(JSON.stringify(sample), () => {
      const expected = username.safeParse(sample);
      const actual = checkUsername(sample);
      expect(actual.ok).toBe(expected.success);
      if (actual.ok && expected.success) expect(actual.username).toBe(expected.data);
      if (!actual.ok && !expected.success) expect(actual.message).toBe(expected.error.issues[0]?.message);
    });
  }
});

// A new password (sign-up) follows the rule; a password typed for an existing account (bind) is only bounded.
const passwordRules = [
  { rule: 'password', schema: password, check: checkPassword, samples: ['', 'short', '1234567', '12345678', ' spaces ok ', 'x'.repeat(128), 'x'.repeat(129), '密码密码密码密码', '😀😀😀😀'] },
  { rule: 'passwordAttempt', schema: passwordAttempt, check: checkPasswordAttempt, samples: ['', 'x', 'short', ' ', 'x'.repeat(128), 'x'.repeat(129), '密', '😀'] },
];
for (const { rule, schema, check, samples } of passwordRules) {
  describe(`${check.name} agrees with the shared ${rule} schema`, () => {
    for (const sample of samples) {
      it(JSON.stringify(sample), () => {
        const expected = schema.safeParse(sample);
        const actual = check(sample);
        expect(actual.ok).toBe(expected.success);
        if (!actual.ok && !expected.success) expect(actual.message).toBe(expected.error.issues[0]?.message);
      });
    }
  });
}

describe('checkCredentials holds a new password to the sign-up rule, an existing one only to its bounds', () => {
  it('a 5-character password passes the bind check and fails the sign-up check', () => {
    expect(checkCredentials('ann', 'short', 'bind')).toEqual({ ok: true, username: 'ann', password: 'short' });
    expect(checkCredentials('ann', 'short', 'signUp')).toMatchObject({ ok: false, field: 'password' });
  });
});

describe('fieldOfMessage names the field a server message is about', () => {
  it('reads "username" / "password" from invalid_input messages', () => {
    expect(fieldOfMessage('Invalid input: username: username may only hold a-z…')).toBe('username');
    expect(fieldOfMessage('Invalid input: password is shorter than 8 characters')).toBe('password');
    expect(fieldOfMessage('Invalid input: something else')).toBeUndefined();
  });
});

describe('parseProfile agrees with the shared profile schema', () => {
  const valid = { id: 'u1', nickname: 'Ada', avatarUrl: null, createdAt: '2026-12-04T10:00:00.000Z', username: null, wechatBound: true, phone: '138****8000' };
  const samples: Array<[string, unknown]> = [
    ['a full profile', valid],
    ['nulls where allowed', { ...valid, nickname: null, avatarUrl: null, username: null, phone: null }],
    ['an offset time', { ...valid, createdAt: '2026-12-04T18:00:00+08:00' }],
    ['no id', { ...valid, id: undefined }],
    ['wechatBound as a string', { ...valid, wechatBound: 'true' }],
    ['createdAt not a time', { ...valid, createdAt: 'yesterday' }],
    ['phone a number', { ...valid, phone: 13800138000 }],
    ['no username field', (({ username: _u, ...rest }) => rest)(valid)],
    ['null', null],
    ['an array', [valid]],
  ];
  for (const [name, sample] of samples) {
    it(name, () => {
      const expected = profile.safeParse(sample);
      let actual: unknown;
      let failed = false;
      try {
        actual = parseProfile(sample);
      } catch {
        failed = true;
      }
      expect(!failed).toBe(expected.success);
      if (expected.success) expect(actual).toEqual(expected.data);
    });
  }
});
