import { z } from 'zod';
import { authFailureReasons } from './errors.ts';

/** ISO 8601 timestamp as sent on the wire. */
const isoDateTime = z.iso.datetime({ offset: true });

export const profile = z.object({
  id: z.string(),
  nickname: z.string().nullable(),
  avatarUrl: z.string().nullable(),
  createdAt: isoDateTime,
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
  z.object({ valid: z.literal(false), reason: z.enum(authFailureReasons) }),
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
