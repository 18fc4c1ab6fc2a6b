/**
 * Every `error.data.reason` the server can send. Literal unions so callers can `switch` on them.
 */
export const authFailureReasons = ['missing', 'invalid', 'expired', 'revoked'] as const;
export type AuthFailureReason = (typeof authFailureReasons)[number];

/**
 * What `checkSession` can answer besides the token's own state: WeChat says the stored session_key went stale
 * (the client logs in again with a fresh wx.login, which brings a new session_key).
 */
export const sessionCheckFailureReasons = [...authFailureReasons, 'session_key_stale'] as const;
export type SessionCheckFailureReason = (typeof sessionCheckFailureReasons)[number];

export const loginFailureReasons = [
  'code_invalid',
  'code_used',
  'user_blocked',
  'rate_limited',
  'wechat_unavailable',
  'wechat_config',
] as const;
export type LoginFailureReason = (typeof loginFailureReasons)[number];

/** Accounts and binding (username + password). */
export const accountFailureReasons = [
  'credentials_invalid',
  'username_taken',
  'already_bound',
  'wechat_required',
  'last_login_method',
  'too_many_attempts',
  'account_required',
  'password_already_set',
] as const;
export type AccountFailureReason = (typeof accountFailureReasons)[number];

/** WeChat's other APIs: the phone number, encrypted data signed with session_key. */
export const wechatDataFailureReasons = ['phone_code_invalid', 'session_key_stale'] as const;
export type WeChatDataFailureReason = (typeof wechatDataFailureReasons)[number];

export const errorReasons = [
  ...authFailureReasons,
  ...loginFailureReasons,
  ...accountFailureReasons,
  ...wechatDataFailureReasons,
  'too_large',
  'database_unavailable',
  'invalid_input',
  'internal',
] as const;
export type ErrorReason = (typeof errorReasons)[number];

export function isErrorReason(value: unknown): value is ErrorReason {
  return typeof value === 'string' && (errorReasons as readonly string[]).includes(value);
}
