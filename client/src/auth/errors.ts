import { TRPCClientError } from '@trpc/client';
import type { AppRouter } from '@wxkit/server';
import type { ErrorReason, SessionCheckFailureReason } from '@wxkit/shared';

/** The error type every API call rejects with: the server's errors carry `data.reason` (typed from the router). */
export type ApiError = TRPCClientError<AppRouter>;

/** Why getting a login code failed on the device itself (wx.login, or the simulator on H5). */
export class LoginCodeError extends Error {
  override readonly name = 'LoginCodeError';
  readonly reason = 'code_unavailable' as const;
}

/**
 * A WeChat platform API other than wx.login failed on the device (wx.getWeRunData, the getPhoneNumber button, the
 * H5 simulator's stand-ins): `user_denied` when the user said no, `wechat_api_failed` otherwise.
 */
export class WeChatApiError extends Error {
  override readonly name = 'WeChatApiError';
  constructor(
    readonly reason: 'user_denied' | 'wechat_api_failed',
    message: string,
  ) {
    super(message);
  }
}

/** Every reason a caller can switch on: the server's literals, plus the ones the client itself produces. */
export type ClientErrorReason = ErrorReason | 'code_unavailable' | 'network' | 'user_denied' | 'wechat_api_failed';

function isApiError(error: unknown): error is ApiError {
  return error instanceof TRPCClientError;
}

/** The literal reason of any error an API call rejects with. */
export function reasonOf(error: unknown): ClientErrorReason | undefined {
  if (error instanceof LoginCodeError || error instanceof WeChatApiError) return error.reason;
  if (isApiError(error)) {
    if (error.cause instanceof LoginCodeError || error.cause instanceof WeChatApiError) return error.cause.reason;
    if (error.data?.reason) return error.data.reason;
    // No tRPC error body: the request never got a tRPC answer (offline, DNS, timeout, a proxy's HTML page).
    if (!error.data) return 'network';
  }
  return undefined;
}

/** Seconds to wait before trying again, when the server said so (`too_many_attempts`, with a Retry-After header). */
export function retryAfterOf(error: unknown): number | undefined {
  if (!isApiError(error) || !error.data || !('retryAfterSeconds' in error.data)) return undefined;
  const seconds = error.data.retryAfterSeconds;
  return typeof seconds === 'number' && seconds > 0 ? seconds : undefined;
}

/**
 * The 401 reasons that mean "this session is gone": log in again and retry. Keyed by the shared type, so a reason
 * added to `sessionCheckFailureReasons` must be placed here too. Other 401s (`credentials_invalid`: a wrong
 * password) are answers about the input and reach the caller unchanged.
 */
const sessionFailures: { readonly [R in SessionCheckFailureReason]: true } = {
  missing: true,
  invalid: true,
  expired: true,
  revoked: true,
  session_key_stale: true,
};

function isSessionFailureReason(reason: unknown): reason is SessionCheckFailureReason {
  return typeof reason === 'string' && Object.prototype.hasOwnProperty.call(sessionFailures, reason);
}

/** An UNAUTHORIZED whose reason is a session failure, or that has no reason at all (a 401 from something older). */
export function isSessionFailure(error: unknown): boolean {
  if (!isApiError(error) || error.data?.code !== 'UNAUTHORIZED') return false;
  const reason: unknown = error.data.reason;
  return reason === undefined || reason === null || isSessionFailureReason(reason);
}

/** The text a Taro/wx API failure carries (`errMsg` from wx, `message` from an Error), for error messages. */
export function platformErrorDetail(error: unknown): string {
  return (error as { errMsg?: string; message?: string } | null)?.errMsg ?? (error as Error | null)?.message ?? String(error);
}

/** Turns anything a link produced into the error type callers get. */
export function toApiError(error: unknown): ApiError {
  return TRPCClientError.from<AppRouter>(error instanceof Error ? error : new Error(String(error)));
}
