import { TRPCError } from '@trpc/server';
import type { ErrorReason } from '@wxkit/shared';
import { WeChatError, type WeChatFailureReason } from '../wechat/errors.ts';

type TRPCCode = TRPCError['code'];

/** A TRPCError that carries the literal `reason` sent to clients as `error.data.reason`. */
export class AppError extends TRPCError {
  constructor(
    code: TRPCCode,
    readonly reason: ErrorReason,
    message: string,
    /** Sent as `error.data.retryAfterSeconds` (and the Retry-After header) when waiting is the fix. */
    readonly retryAfterSeconds?: number,
  ) {
    super({ code, message });
  }
}

const wechatFailures: Record<WeChatFailureReason, { code: TRPCCode; message: string }> = {
  code_invalid: { code: 'BAD_REQUEST', message: 'The login code is invalid or expired: call wx.login / Taro.login again and send the new code.' },
  code_used: { code: 'BAD_REQUEST', message: 'The login code was already used: call wx.login / Taro.login again and send the new code.' },
  user_blocked: { code: 'FORBIDDEN', message: 'WeChat judged this user high-risk and refused the login. The user should try again later or contact support.' },
  rate_limited: { code: 'TOO_MANY_REQUESTS', message: 'Too many logins for this user right now: wait a minute, then log in again with a fresh code.' },
  wechat_unavailable: { code: 'SERVICE_UNAVAILABLE', message: 'WeChat did not answer properly: log in again with a fresh code in a moment.' },
  wechat_config: { code: 'INTERNAL_SERVER_ERROR', message: 'The server could not log in with WeChat because of its own configuration (WECHAT_APPID / WECHAT_SECRET). Operators: check the server log.' },
  phone_code_invalid: { code: 'BAD_REQUEST', message: 'The phone number code is invalid, used or expired (it works once, for 5 minutes): tap the "bind phone number" button again and send the new code.' },
  // Reached only after the access_token manager refreshed with force_refresh and retried once (see wechat/errors.ts).
  access_token_invalid: { code: 'SERVICE_UNAVAILABLE', message: 'WeChat refused the server\'s access token even after a refresh: try again in a moment.' },
};

/** Calls other than login (phone number, session_key check): the same codes, with messages that fit them. */
const wechatCallMessages: Partial<Record<WeChatFailureReason, string>> = {
  rate_limited: 'WeChat is limiting how often this app may call it: wait a minute, then try again.',
  wechat_unavailable: 'WeChat did not answer properly: try again in a moment.',
  wechat_config:
    "The server could not call WeChat because of its own configuration (WECHAT_APPID / WECHAT_SECRET, the server's IP whitelist, or the mini-program's permissions). Operators: check the server log.",
};

/** access_token_invalid is internal: clients see wechat_unavailable (503, try again), never a new reason. */
function clientReason(reason: WeChatFailureReason): ErrorReason {
  return reason === 'access_token_invalid' ? 'wechat_unavailable' : reason;
}

export function appErrorFromWeChat(error: WeChatError): AppError {
  const mapped = wechatFailures[error.reason];
  const message = (error.api !== 'jscode2session' && wechatCallMessages[error.reason]) || mapped.message;
  return new AppError(mapped.code, clientReason(error.reason), message);
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

/** A procedure for accounts (a user with a password credential) called by a WeChat-only user. */
export function accountRequired(): AppError {
  return new AppError(
    'FORBIDDEN',
    'account_required',
    'This needs an account with a username and password: bind one (bindAccount) or create one (setPassword), then try again.',
  );
}

/** WeChat's data for this user cannot be read with the session_key we hold: log in again (a new one), then retry. */
export function sessionKeyStale(): AppError {
  return new AppError(
    'UNAUTHORIZED',
    'session_key_stale',
    "WeChat's session key for this login is stale: log in again (wx.login) and retry with data fetched after that login.",
  );
}

/** A WeChat-data procedure called from a session that has no WeChat identity (password login). */
export function wechatRequired(what: string): AppError {
  return new AppError('BAD_REQUEST', 'wechat_required', `${what} needs a WeChat login: log in with WeChat (login), then try again.`);
}
