import type { SecretBox } from '../auth/secret-box.ts';
import type { AuthResult } from '../auth/auth-service.ts';
import type { Store } from '../db/store.ts';
import type { WeChatClient } from '../wechat/client.ts';
import { WeChatError } from '../wechat/errors.ts';
import type { AccessTokenManager } from './access-token.ts';

/** checkSession asks WeChat about a session's session_key at most this often. */
export const SESSION_KEY_CHECK_INTERVAL_MS = 10 * 60_000;

export type CurrentSessionKey = { kind: 'ok'; openid: string; sessionKey: string } | { kind: 'no_wechat' } | { kind: 'stale' };

export interface SessionKeyServiceOptions {
  store: Store;
  secretBox: SecretBox;
  wechat: Pick<WeChatClient, 'checkSessionKey'>;
  accessTokens: AccessTokenManager;
  now?: () => number;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/** WeChat's session_key: the latest one per WeChat identity, sealed at rest, and whether WeChat still honours it. */
export function createSessionKeyService(options: SessionKeyServiceOptions) {
  const { store, secretBox } = options;
  const now = options.now ?? Date.now;

  async function current(userId: string): Promise<CurrentSessionKey> {
    const identity = await store.wechatIdentityOf(userId);
    if (!identity) return { kind: 'no_wechat' };
    // Null for identities migrated from round 1; unopenable when the server secret changed: the next login fixes both.
    const sessionKey = identity.sessionKeyEnc ? secretBox.open(identity.sessionKeyEnc) : null;
    return sessionKey ? { kind: 'ok', openid: identity.openid, sessionKey } : { kind: 'stale' };
  }

  return {
    current,

    /**
     * For checkSession: true when WeChat says the user's session_key is no longer valid. Asked at most once per
     * session per SESSION_KEY_CHECK_INTERVAL_MS (the answer is kept on the session row, so every process shares it).
     * Only WeChat sessions are asked. When WeChat cannot answer, the session is not called stale.
     */
    async isStale(auth: Extract<AuthResult, { valid: true }>): Promise<boolean> {
      if (auth.method !== 'wechat') return false;
      const t = now();
      if (auth.keyCheck.at !== null && auth.keyCheck.valid !== null && t - auth.keyCheck.at < SESSION_KEY_CHECK_INTERVAL_MS) {
        return !auth.keyCheck.valid;
      }
      const key = await current(auth.userId);
      if (key.kind === 'no_wechat') return false; // unbound since: nothing of WeChat's to be stale
      let valid: boolean;
      if (key.kind === 'stale') {
        valid = false;
      } else {
        try {
          const answer = await options.accessTokens.withToken((token) => options.wechat.checkSessionKey(token, key.openid, key.sessionKey));
          valid = answer.valid;
        } catch (error) {
          if (!(error instanceof WeChatError)) throw error;
          options.log?.warn({ reason: error.reason, detail: error.detail }, 'WeChat checksession failed; the session is not called stale');
          return false;
        }
      }
      await store.recordSessionKeyCheck(auth.sessionId, valid, t);
      return !valid;
    },
  };
}

export type SessionKeyService = ReturnType<typeof createSessionKeyService>;
