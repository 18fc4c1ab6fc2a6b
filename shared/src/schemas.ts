import { z } from 'zod';
import { sessionCheckFailureReasons } from './errors.ts';

/** ISO 8601 timestamp as sent on the wire. */
const isoDateTime = z.iso.datetime({ offset: true });

export const profile = z.object({
  id: z.string(),
  nickname: z.string().nullable(),
  avatarUrl: z.string().nullable(),
  createdAt: isoDateTime,
  /** The password credential's username, when the user has one (a bound or password-only account). */
  username: z.string().nullable(),
  /** Whether a WeChat identity logs in to this user. */
  wechatBound: z.boolean(),
  /** Masked phone number (`138****8000`), null until bindPhone. The full number never leaves the server. */
  phone: z.string().nullable(),
});
export type Profile = z.infer<typeof profile>;

export const loginInput = z.object({
  code: z
    .string({ error: 'code must be a string: pass the code from wx.login / Taro.login' })
    .min(1, 'code is empty: pass the code from wx.login / Taro.login')
    .max(128, 'code is longer than 128 characters: pass the code from wx.login / Taro.login unchanged'),
});
export type LoginInput = z.infer<typeof loginInput>;

export const loginOutput = z.object({
  token: z.string(),
  expiresAt: isoDateTime,
  isNewUser: z.boolean(),
  user: profile,
});
export type LoginOutput = z.infer<typeof loginOutput>;

export const checkSessionOutput = z.discriminatedUnion('valid', [
  z.object({ valid: z.literal(true), expiresAt: isoDateTime, userId: z.string() }),
  z.object({ valid: z.literal(false), reason: z.enum(sessionCheckFailureReasons) }),
]);
export type CheckSessionOutput = z.infer<typeof checkSessionOutput>;

export const getProfileOutput = profile;
export type GetProfileOutput = z.infer<typeof getProfileOutput>;

export const nickname = z
  .string({ error: 'nickname must be a string' })
  .trim()
  .min(1, 'nickname is empty: send 1 to 32 characters, or leave it out')
  .max(32, 'nickname is longer than 32 characters: shorten it');

export const avatarUrl = z
  .url({ protocol: /^https$/, error: 'avatarUrl must be an https:// URL' })
  .max(2048, 'avatarUrl is longer than 2048 characters');

export const updateProfileInput = z
  .object({
    nickname: nickname.optional(),
    avatarUrl: avatarUrl.optional(),
  })
  .strict()
  .refine((v) => v.nickname !== undefined || v.avatarUrl !== undefined, {
    message: 'nothing to update: send nickname and/or avatarUrl',
  })
  // The refinement is invisible to JSON Schema (OpenAPI, CLI help); say it there too.
  .meta({ minProperties: 1 });
export type UpdateProfileInput = z.infer<typeof updateProfileInput>;

export const updateProfileOutput = profile;
export type UpdateProfileOutput = z.infer<typeof updateProfileOutput>;

export const logoutOutput = z.object({ ok: z.literal(true) });
export type LogoutOutput = z.infer<typeof logoutOutput>;

// --- Accounts and binding ------------------------------------------------------------------------------------------

/** 3–32 of `a-z 0-9 _ . -`; compared case-insensitively, so it is lower-cased on the way in. */
export const username = z
  .string({ error: 'username must be a string' })
  .trim()
  .toLowerCase()
  .min(3, 'username is shorter than 3 characters: use 3 to 32 of a-z, 0-9, _ . -')
  .max(32, 'username is longer than 32 characters: use 3 to 32 of a-z, 0-9, _ . -')
  .regex(/^[a-z0-9_.-]+$/, 'username may only hold a-z, 0-9, _ . - (letters are compared without case)');

/** 8–128 characters, kept exactly as typed (no trimming: a space can be part of a password). */
export const password = z
  .string({ error: 'password must be a string' })
  .min(8, 'password is shorter than 8 characters: choose a longer one')
  .max(128, 'password is longer than 128 characters: choose a shorter one');

/** A new username and password (the rules above apply). */
export const credentialsInput = z.object({ username, password }).strict();
export type CredentialsInput = z.infer<typeof credentialsInput>;

/**
 * A password typed to log in: only bounded, not held to today's rules, so a password set under older rules still
 * works (a wrong one is credentials_invalid, never a hint about the rules).
 */
export const passwordAttempt = z
  .string({ error: 'password must be a string' })
  .min(1, 'password is empty: type the password')
  .max(128, 'password is longer than 128 characters: no password can be that long');

/** A username and password to check against an existing account. */
export const existingCredentialsInput = z.object({ username, password: passwordAttempt }).strict();
export type ExistingCredentialsInput = z.infer<typeof existingCredentialsInput>;

export const signUpInput = credentialsInput;
export type SignUpInput = z.infer<typeof signUpInput>;
export const signUpOutput = loginOutput;
export type SignUpOutput = z.infer<typeof signUpOutput>;

export const loginWithPasswordInput = existingCredentialsInput;
export type LoginWithPasswordInput = z.infer<typeof loginWithPasswordInput>;
export const loginWithPasswordOutput = loginOutput;
export type LoginWithPasswordOutput = z.infer<typeof loginWithPasswordOutput>;

export const setPasswordInput = credentialsInput;
export type SetPasswordInput = z.infer<typeof setPasswordInput>;
export const setPasswordOutput = profile;
export type SetPasswordOutput = z.infer<typeof setPasswordOutput>;

export const bindAccountInput = existingCredentialsInput;
export type BindAccountInput = z.infer<typeof bindAccountInput>;
export const bindAccountOutput = z.object({ token: z.string(), expiresAt: isoDateTime, user: profile });
export type BindAccountOutput = z.infer<typeof bindAccountOutput>;

export const unbindWechatOutput = profile;
export type UnbindWechatOutput = z.infer<typeof unbindWechatOutput>;

export const changePasswordInput = z
  .object({
    currentPassword: passwordAttempt,
    newPassword: password,
  })
  .strict();
export type ChangePasswordInput = z.infer<typeof changePasswordInput>;
export const changePasswordOutput = z.object({ ok: z.literal(true) });
export type ChangePasswordOutput = z.infer<typeof changePasswordOutput>;

// --- Phone number ----------------------------------------------------------------------------------------------------

export const bindPhoneInput = z
  .object({
    code: z
      .string({ error: 'code must be a string: pass e.detail.code from <Button openType="getPhoneNumber">' })
      .min(1, 'code is empty: pass e.detail.code from <Button openType="getPhoneNumber">')
      .max(128, 'code is longer than 128 characters: pass e.detail.code unchanged'),
  })
  .strict();
export type BindPhoneInput = z.infer<typeof bindPhoneInput>;
export const bindPhoneOutput = profile;
export type BindPhoneOutput = z.infer<typeof bindPhoneOutput>;

// --- WeRun (encrypted with session_key) --------------------------------------------------------------------------------

const base64 = (field: string, max: number) =>
  z
    .string({ error: `${field} must be a string: pass it from wx.getWeRunData unchanged` })
    .min(1, `${field} is empty: pass it from wx.getWeRunData unchanged`)
    .max(max, `${field} is longer than ${max} characters`)
    .regex(/^[A-Za-z0-9+/]+={0,2}$/, `${field} is not base64: pass it from wx.getWeRunData unchanged`);

export const syncWeRunInput = z.object({ encryptedData: base64('encryptedData', 65536), iv: base64('iv', 64) }).strict();
export type SyncWeRunInput = z.infer<typeof syncWeRunInput>;

export const weRunDay = z.object({ date: z.iso.date(), steps: z.number().int().nonnegative() });
export type WeRunDay = z.infer<typeof weRunDay>;

export const syncWeRunOutput = z.object({ days: z.number().int().nonnegative(), latest: weRunDay.nullable() });
export type SyncWeRunOutput = z.infer<typeof syncWeRunOutput>;

export const getWeRunOutput = z.object({ days: z.array(weRunDay) });
export type GetWeRunOutput = z.infer<typeof getWeRunOutput>;
