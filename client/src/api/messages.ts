import { reasonOf, type ClientErrorReason } from '../auth/errors.ts';

/** A short line for a toast, and the full sentence (what happened, what to do) for the page. */
export interface ErrorText {
  toast: string;
  /** Undefined: the server's (or the platform's) own message is the detail, it already says what to do. */
  detail?: string;
}

/**
 * One entry per reason a call can fail with (typed: a reason added to the shared list must be worded here).
 * Session reasons only reach a page when the silent re-login itself failed.
 */
const byReason: Record<ClientErrorReason, ErrorText> = {
  network: { toast: 'No connection', detail: 'The server could not be reached. Check the network, then tap Retry.' },
  code_unavailable: { toast: 'WeChat login failed' },
  user_denied: { toast: 'Not allowed' },
  wechat_api_failed: { toast: 'WeChat failed' },
  user_blocked: { toast: 'Login refused', detail: 'WeChat refused this login for this account. Try again later, or contact support.' },
  rate_limited: { toast: 'Too many requests', detail: 'Too many requests to WeChat right now. Wait a minute, then try again.' },
  wechat_unavailable: { toast: 'WeChat not answering', detail: 'WeChat did not answer. Wait a moment, then tap Retry.' },
  wechat_config: { toast: 'Server misconfigured', detail: 'The server cannot talk to WeChat (its AppID/secret). Tell the operators; retrying will not help.' },
  code_invalid: { toast: 'WeChat login failed', detail: 'The WeChat login code was refused twice. Tap Retry to log in again.' },
  code_used: { toast: 'WeChat login failed', detail: 'The WeChat login code was refused twice. Tap Retry to log in again.' },
  internal: { toast: 'Server error', detail: 'The server failed. Tap Retry; if it keeps happening, report the time to the operators.' },
  database_unavailable: { toast: 'Server busy', detail: 'The server could not reach its database. Wait a moment, then try again.' },
  missing: { toast: 'Not logged in', detail: 'The session could not be renewed. Tap Retry to log in again.' },
  invalid: { toast: 'Session invalid', detail: 'The session could not be renewed. Tap Retry to log in again.' },
  expired: { toast: 'Session expired', detail: 'The session could not be renewed. Tap Retry to log in again.' },
  revoked: { toast: 'Session ended', detail: 'The session was ended and could not be renewed. Tap Retry to log in again.' },
  session_key_stale: {
    toast: 'WeChat session stale',
    detail: "WeChat's data was made for an older login, even after logging in again. Close and reopen the mini-program, then try again.",
  },
  invalid_input: { toast: 'Check your input' },
  credentials_invalid: { toast: 'Wrong password', detail: 'The username or password is wrong. Check both and try again.' },
  username_taken: { toast: 'Username taken', detail: 'That username is taken. Choose another one.' },
  already_bound: {
    toast: 'Already bound',
    detail: 'That account is already bound to another WeChat user. Unbind it there first, or use another account.',
  },
  wechat_required: { toast: 'WeChat login needed', detail: 'This session did not come from a WeChat login, so there is nothing to bind. Reopen the mini-program and try again.' },
  last_login_method: {
    toast: 'Cannot unbind',
    detail: 'WeChat is the only way into this account. Sign up with a username and password first, then you can unbind WeChat.',
  },
  too_many_attempts: { toast: 'Too many attempts', detail: 'Too many wrong passwords for this username. Wait, then try again.' },
  account_required: { toast: 'Account needed', detail: 'This needs an account with a username and password. Sign up or bind one on the Account page.' },
  password_already_set: { toast: 'Already signed up', detail: 'You already have a username and password. Bind or unbind on the Account page instead.' },
  phone_code_invalid: { toast: 'Phone code expired', detail: 'The phone number code expired or was used. Tap "Bind phone number" again.' },
  too_large: { toast: 'Image too large', detail: 'The image is larger than 2 MB. Choose a smaller photo.' },
};

/** "14:59", "0:05": minutes and seconds left. */
export function formatWait(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** What to tell the user about a failed call. */
export function describeError(error: unknown): Required<ErrorText> {
  const reason = reasonOf(error);
  const message = error instanceof Error && error.message ? error.message : 'Something went wrong. Try again.';
  if (!reason) return { toast: 'Something went wrong', detail: message };
  const text = byReason[reason];
  return { toast: text.toast, detail: text.detail ?? message };
}
