import { TRPCClientError } from '@trpc/client';
import type { AppRouter } from '@wxkit/server';
import type { ErrorReason } from '@wxkit/shared';

/** The error type every API call rejects with: the server's errors carry `data.reason` (typed from the router). */
export type ApiError = TRPCClientError<AppRouter>;

/** Why getting a login code failed on the device itself (wx.login, or the simulator on H5). */
export class LoginCodeError extends Error {
  override readonly name = 'LoginCodeError';
  readonly reason = 'code_unavailable' as const;
}

/** Every reason a caller can switch on: the server's literals, plus the two the client itself produces. */
export type ClientErrorReason = ErrorReason | 'code_unavailable' | 'network';

export function isApiError(error: unknown): error is ApiError {
  return error instanceof TRPCClientError;
}

/** The literal reason of any error an API call rejects with. */
export function reasonOf(error: unknown): ClientErrorReason | undefined {
  if (error instanceof LoginCodeError) return error.reason;
  if (isApiError(error)) {
    if (error.cause instanceof LoginCodeError) return error.cause.reason;
    if (error.data?.reason) return error.data.reason;
    // No tRPC error body: the request never got a tRPC answer (offline, DNS, timeout, a proxy's HTML page).
    if (!error.data) return 'network';
  }
  return undefined;
}

/** The text a Taro/wx API failure carries (`errMsg` from wx, `message` from an Error), for error messages. */
export function platformErrorDetail(error: unknown): string {
  return (error as { errMsg?: string; message?: string } | null)?.errMsg ?? (error as Error | null)?.message ?? String(error);
}

/** Turns anything a link produced into the error type callers get. */
export function toApiError(error: unknown): ApiError {
  return TRPCClientError.from<AppRouter>(error instanceof Error ? error : new Error(String(error)));
}
