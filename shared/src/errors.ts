/**
 * Every `error.data.reason` the server can send. Literal unions so callers can `switch` on them.
 */
export const authFailureReasons = ['missing', 'invalid', 'expired', 'revoked'] as const;
export type AuthFailureReason = (typeof authFailureReasons)[number];

export const loginFailureReasons = [
  'code_invalid',
  'code_used',
  'user_blocked',
  'rate_limited',
  'wechat_unavailable',
  'wechat_config',
] as const;
export type LoginFailureReason = (typeof loginFailureReasons)[number];

export const errorReasons = [...authFailureReasons, ...loginFailureReasons, 'invalid_input', 'internal'] as const;
export type ErrorReason = (typeof errorReasons)[number];

export function isErrorReason(value: unknown): value is ErrorReason {
  return typeof value === 'string' && (errorReasons as readonly string[]).includes(value);
}
