import type { LoginFailureReason } from '@wxkit/shared';

/**
 * A failed code2Session, with a literal `reason` to switch on. `detail` is for server logs: it names the errcode
 * or transport failure and never contains the code, the AppSecret or anything WeChat returned on success.
 */
export class WeChatError extends Error {
  constructor(
    readonly reason: LoginFailureReason,
    readonly detail: string,
    readonly errcode?: number,
  ) {
    super(`WeChat code2Session failed: ${reason} (${detail})`);
    this.name = 'WeChatError';
  }
}

/** WeChat errcodes that mean our appid/secret/request is wrong, not the user's code. */
const configErrcodes = new Set([40001, 40002, 40013, 40125, 40164, 41002, 41004, 41008, 43104, 61024]);

export function reasonForErrcode(errcode: number): LoginFailureReason {
  switch (errcode) {
    case 40029:
      return 'code_invalid';
    case 40163:
      return 'code_used';
    case 40226:
      return 'user_blocked';
    case 45011:
      return 'rate_limited';
    case -1:
      return 'wechat_unavailable';
    default:
      // Unknown errcodes are treated as WeChat being unwell: the client may retry with a fresh code.
      return configErrcodes.has(errcode) ? 'wechat_config' : 'wechat_unavailable';
  }
}
