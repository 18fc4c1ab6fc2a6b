import { randomId } from '../auth/random-id.ts';
import type { SecretBox } from '../auth/secret-box.ts';
import type { Store } from '../db/store.ts';
import { callLeaseMs, type WeChatClient } from '../wechat/client.ts';
import { WeChatError } from '../wechat/errors.ts';

export interface AccessTokenManagerOptions {
  store: Store;
  wechat: Pick<WeChatClient, 'stableToken'>;
  appId: string;
  /** Seals the token at rest, as session_key is. */
  secretBox: SecretBox;
  /** How long one stable_token call may take: the refresh lease outlives it. */
  timeoutMs: number;
  now?: () => number;
  /** Refresh this long before WeChat's expiry (default 5 minutes), so no caller meets an expired token. */
  refreshAheadMs?: number;
  /** How often a waiting process looks for another's refresh (default 25 ms). */
  pollMs?: number;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/**
 * WeChat's access_token for our AppID, shared by every process through the database:
 * - cached in memory and in the `access_tokens` row (sealed), refreshed `refreshAheadMs` before it expires;
 * - fetched once for all callers at a time: one in-process flight, and a lease in the database row so two processes
 *   never refresh at once (the others wait for the holder's token, or use the current one while it is still valid);
 * - `withToken` retries a call once when WeChat refuses the token (40001/42001/40014): with the token another process
 *   stored meanwhile, else after a `force_refresh`.
 * The token itself is never logged.
 */
export function createAccessTokenManager(options: AccessTokenManagerOptions) {
  const { store, wechat, appId, secretBox } = options;
  const now = options.now ?? Date.now;
  const aheadMs = options.refreshAheadMs ?? 5 * 60_000;
  const pollMs = options.pollMs ?? 25;
  const leaseMs = callLeaseMs(options.timeoutMs);
  const owner = randomId(9);

  let cached: { token: string; expiresAt: number } | undefined;
  let flight: Promise<string> | undefined;

  const fresh = (expiresAt: number) => expiresAt - aheadMs > now();

  /** Reads the stored token; undefined when there is none or it cannot be opened (another secret). */
  async function stored(): Promise<{ token: string; expiresAt: number; locked: boolean } | undefined> {
    const row = await store.accessToken(appId);
    if (!row) return undefined;
    const token = row.tokenEnc ? secretBox.open(row.tokenEnc) : null;
    const locked = row.refreshLockUntil > now() && row.refreshLockOwner !== owner;
    return token ? { token, expiresAt: row.expiresAt, locked } : { token: '', expiresAt: 0, locked };
  }

  async function refresh(force: boolean): Promise<string> {
    const result = await wechat.stableToken({ forceRefresh: force });
    const t = now();
    const expiresAt = t + result.expiresInSeconds * 1000;
    await store.saveAccessToken(appId, owner, secretBox.seal(result.accessToken), expiresAt, t);
    cached = { token: result.accessToken, expiresAt };
    options.log?.info({ expiresInSeconds: result.expiresInSeconds, forced: force }, 'WeChat access_token refreshed');
    return result.accessToken;
  }

  /** The current token, refreshing it (once across processes) when it is missing, expiring or `rejected`. */
  async function load(rejected: string | undefined): Promise<string> {
    const deadline = now() + leaseMs * 2;
    for (;;) {
      const row = await stored();
      // Another process already replaced the token WeChat rejected: use theirs.
      if (row && row.token && row.token !== rejected && fresh(row.expiresAt)) {
        cached = { token: row.token, expiresAt: row.expiresAt };
        return row.token;
      }
      if (await store.tryLockAccessTokenRefresh(appId, owner, now(), leaseMs)) {
        try {
          // Re-read under the lease: the previous holder may have just finished.
          const again = await stored();
          if (again && again.token && again.token !== rejected && fresh(again.expiresAt)) {
            cached = { token: again.token, expiresAt: again.expiresAt };
            return again.token;
          }
          return await refresh(rejected !== undefined);
        } finally {
          await store.releaseAccessTokenLock(appId, owner).catch(() => undefined);
        }
      }
      // Someone else refreshes. While the current token is still valid (just inside the refresh margin), use it.
      if (row && row.token && row.token !== rejected && row.expiresAt > now()) return row.token;
      if (now() > deadline) {
        throw new WeChatError('wechat_unavailable', 'waited too long for another process to refresh the access_token', undefined, 'stable_token');
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  function get(rejected?: string): Promise<string> {
    if (!rejected && cached && fresh(cached.expiresAt)) return Promise.resolve(cached.token);
    if (rejected && cached?.token === rejected) cached = undefined;
    flight ??= load(rejected).finally(() => {
      flight = undefined;
    });
    return flight;
  }

  return {
    /** A valid access_token. */
    get: () => get(),
    /** Runs a WeChat call with the token; when WeChat refuses the token, once more with a new one. */
    async withToken<T>(call: (accessToken: string) => Promise<T>): Promise<T> {
      const token = await get();
      try {
        return await call(token);
      } catch (error) {
        if (!(error instanceof WeChatError) || error.reason !== 'access_token_invalid') throw error;
        options.log?.warn({ api: error.api, errcode: error.errcode }, 'WeChat refused the access_token; refreshing it once');
        return call(await get(token));
      }
    },
  };
}

export type AccessTokenManager = ReturnType<typeof createAccessTokenManager>;
