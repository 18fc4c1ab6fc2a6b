import type { LoginFailureReason } from '@wxkit/shared';

/** The WeChat server APIs this app calls; errcodes mean different things per API. */
export const wechatApis = ['jscode2session', 'stable_token', 'getuserphonenumber', 'checksession'] as const;
export type WeChatApi = (typeof wechatApis)[number];

/**
 * Why a WeChat call failed. The login reasons keep their contract meaning; the others:
 * - `phone_code_invalid`: the getPhoneNumber code is unknown, used or older than 5 minutes (the user taps again);
 * - `access_token_invalid`: WeChat refused our access_token (40001 / 42001 / 40014). Internal: the access_token
 *   manager refreshes once with `force_refresh` and retries; if it still fails, the procedure answers
 *   `wechat_unavailable` (503, see `trpc/app-error.ts`), because bad credentials already fail at `stable_token`
 *   as `wechat_config`, so what is left is a race with another token holder or WeChat being unwell.
 */
export type WeChatFailureReason = LoginFailureReason | 'phone_code_invalid' | 'access_token_invalid';

/**
 * A failed WeChat call, with a literal `reason` to switch on. `detail` is for server logs: it names the API, the
 * errcode or transport failure, and never contains the code, the AppSecret, the access_token, a session_key or
 * anything WeChat returned on success (a phone number, an openid).
 */
export class WeChatError extends Error {
  constructor(
    readonly reason: WeChatFailureReason,
    readonly detail: string,
    readonly errcode?: number,
    readonly api: WeChatApi = 'jscode2session',
  ) {
    super(`WeChat ${api} failed: ${reason} (${detail})`);
    this.name = 'WeChatError';
  }
}

/** Errcodes that mean our appid/secret/request is wrong, not the user's code (as code2Session always mapped them). */
const configErrcodes = new Set([40001, 40002, 40013, 40125, 40164, 41002, 41004, 41008, 43104, 61024]);

/**
 * The same for the APIs called with an access_token: a missing token or body (41001, 44002, 47001), the wrong
 * method (43002), or an API this mini-program may not call (48001: e.g. getPhoneNumber needs a verified account).
 */
const tokenApiConfigErrcodes = new Set([...configErrcodes, 41001, 43002, 44002, 47001, 48001]);

/** access_token invalid (40001, 40014) or expired (42001): refresh it and retry once. */
export const accessTokenErrcodes: ReadonlySet<number> = new Set([40001, 40014, 42001]);

/** checksession's "invalid signature": the session_key is stale. An answer, not a failure. */
export const STALE_SESSION_KEY_ERRCODE = 87009;

/** The one place that turns a WeChat errcode into a reason. Unknown errcodes count as WeChat being unwell. */
export function reasonForErrcode(errcode: number, api: WeChatApi = 'jscode2session'): WeChatFailureReason {
  if (errcode === -1) return 'wechat_unavailable';
  if (errcode === 45011) return 'rate_limited';
  switch (api) {
    case 'jscode2session':
      switch (errcode) {
        case 40029:
          return 'code_invalid';
        case 40163:
          return 'code_used';
        case 40226:
          return 'user_blocked';
        default:
          return configErrcodes.has(errcode) ? 'wechat_config' : 'wechat_unavailable';
      }
    case 'stable_token':
      // No access_token is sent here: 40001 means "AppSecret wrong", as for code2Session.
      return configErrcodes.has(errcode) ? 'wechat_config' : 'wechat_unavailable';
    case 'getuserphonenumber':
      // 40029: unknown, used or expired phone code; 40163 ("code been used") is treated the same.
      if (errcode === 40029 || errcode === 40163) return 'phone_code_invalid';
      return tokenApiReason(errcode);
    case 'checksession':
      return tokenApiReason(errcode);
  }
}

function tokenApiReason(errcode: number): WeChatFailureReason {
  if (accessTokenErrcodes.has(errcode)) return 'access_token_invalid';
  return tokenApiConfigErrcodes.has(errcode) ? 'wechat_config' : 'wechat_unavailable';
}
