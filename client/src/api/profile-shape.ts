import type { Profile } from '@wxkit/shared';

const nullableString = (value: unknown) => value === null || typeof value === 'string';

/**
 * The shared `profile` schema (shared/src/schemas.ts), checked by hand for answers that do not come through tRPC
 * (the avatar upload): importing the zod schema would put zod in the mini-program (+84 KiB raw). A test keeps
 * the two in agreement. Throws an Error naming the first field that does not fit.
 */
export function parseProfile(value: unknown): Profile {
  const v = value as Record<string, unknown> | null;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('the answer is not a profile object');
  const checks: Array<[keyof Profile, boolean]> = [
    ['id', typeof v.id === 'string'],
    ['nickname', nullableString(v.nickname)],
    ['avatarUrl', nullableString(v.avatarUrl)],
    ['createdAt', typeof v.createdAt === 'string' && !Number.isNaN(Date.parse(v.createdAt))],
    ['username', nullableString(v.username)],
    ['wechatBound', typeof v.wechatBound === 'boolean'],
    ['phone', nullableString(v.phone)],
  ];
  const bad = checks.find(([, ok]) => !ok);
  if (bad) throw new Error(`profile.${bad[0]} is missing or of the wrong type`);
  return {
    id: v.id as string,
    nickname: v.nickname as string | null,
    avatarUrl: v.avatarUrl as string | null,
    createdAt: v.createdAt as string,
    username: v.username as string | null,
    wechatBound: v.wechatBound as boolean,
    phone: v.phone as string | null,
  };
}
