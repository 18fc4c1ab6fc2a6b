import type { Profile } from '@wxkit/shared';
import type { ProfileRow } from '../db/store.ts';

export function profileToWire(row: ProfileRow): Profile {
  return { id: row.id, nickname: row.nickname, avatarUrl: row.avatarUrl, createdAt: new Date(row.createdAt).toISOString() };
}
