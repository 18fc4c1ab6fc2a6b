import { TRPCError } from '@trpc/server';
import type { ErrorReason } from '@wxkit/shared';
import { WeChatError } from '../wechat/errors.ts';

type TRPCCode = TRPCError['code'];

/** A TRPCError that carries the literal `reason` sent to clients as `error.data.reason`. */
export class AppError extends TRPCError {
  constructor(code: TRPCCode, readonly reason: ErrorReason, message: string) {
    super({ code, message });
  }
}

const wechatFailures: Record<WeChatError['reason'], { code: TRPCCode; message: string }> = {
  code_invalid: { code: 'BAD_REQUEST', message: 'The login code is invalid or expired: call wx.login / Taro.login again and send the new code.' },
  code_used: { code: 'BAD_REQUEST', message: 'The login code was already used: call wx.login / Taro.login again and send the new code.' },
  user_blocked: { code: 'FORBIDDEN', message: 'WeChat judged this user high-risk and refused the login. The user should try again later or contact support.' },
  rate_limited: { code: 'TOO_MANY_REQUESTS', message: 'Too many logins for this user right now: wait a minute, then log in again with a fresh code.' },
  wechat_unavailable: { code: 'SERVICE_UNAVAILABLE', message: 'WeChat did not answer properly: log in again with a fresh code in a moment.' },
  wechat_config: { code: 'INTERNAL_SERVER_ERROR', message: 'The server could not log in with WeChat because of its own configuration (WECHAT_APPID / WECHAT_SECRET). Operators: check the server log.' },
};

export function appErrorFromWeChat(error: WeChatError): AppError {
  const mapped = wechatFailures[error.reason];
  return new AppError(mapped.code, error.reason, mapped.message);
}

const authMessages = {
  missing: 'Not logged in: send `Authorization: Bearer <token>` from the login procedure.',
  invalid: 'The token is not valid: log in again to get a new one.',
  expired: 'The session has expired: log in again.',
  revoked: 'The session was ended (logged out or revoked): log in again.',
} as const;

export function unauthorized(reason: keyof typeof authMessages): AppError {
  return new AppError('UNAUTHORIZED', reason, authMessages[reason]);
}
