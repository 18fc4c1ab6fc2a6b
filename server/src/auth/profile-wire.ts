import type { Profile } from '@wxkit/shared';
import type { ProfileRow } from '../db/store.ts';

/** Field by field, so nothing else a row might carry can reach the wire. */
export function profileToWire(row: ProfileRow): Profile {
  return {
    id: row.id,
    nickname: row.nickname,
    avatarUrl: row.avatarUrl,
    createdAt: new Date(row.createdAt).toISOString(),
    username: row.username,
    wechatBound: row.wechatBound,
    phone: row.phone,
  };
}
