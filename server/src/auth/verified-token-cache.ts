/**
 * Token strings whose signature and claims already verified. A token's signature check has one answer forever, so
 * a repeat caller skips the HMAC; what changes with time is checked by the caller on every hit (expiry here, the
 * session's revocation and expiry in the database). Bounded: the oldest entry goes first (insertion order), so a
 * flood of tokens only costs a re-verification, never memory.
 */
export interface VerifiedTokenCache<T> {
  get(token: string): T | undefined;
  set(token: string, value: T): void;
  delete(token: string): void;
  readonly size: number;
}

export const DEFAULT_VERIFIED_TOKEN_CACHE_SIZE = 10_000;

export function createVerifiedTokenCache<T>(maxEntries = DEFAULT_VERIFIED_TOKEN_CACHE_SIZE): VerifiedTokenCache<T> {
  if (!Number.isInteger(maxEntries) || maxEntries < 0) throw new Error(`verified-token cache size must be a whole number ≥ 0, got ${maxEntries}`);
  const entries = new Map<string, T>();
  return {
    get: (token) => entries.get(token),
    set(token, value) {
      if (maxEntries === 0) return;
      if (entries.has(token)) entries.delete(token);
      else if (entries.size >= maxEntries) entries.delete(entries.keys().next().value as string);
      entries.set(token, value);
    },
    delete(token) {
      entries.delete(token);
    },
    get size() {
      return entries.size;
    },
  };
}
