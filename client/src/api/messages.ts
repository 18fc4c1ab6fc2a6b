import { reasonOf, type ClientErrorReason } from '../auth/errors.ts';

/** A short line for a toast, and the full sentence (what happened, what to do) for the page. */
export interface ErrorText {
  toast: string;
  detail: string;
}

const byReason: Partial<Record<ClientErrorReason, ErrorText>> = {
  network: { toast: 'No connection', detail: 'The server could not be reached. Check the network, then tap Retry.' },
  user_blocked: { toast: 'Login refused', detail: 'WeChat refused this login for this account. Try again later, or contact support.' },
  rate_limited: { toast: 'Too many logins', detail: 'Too many logins right now. Wait a minute, then tap Retry.' },
  wechat_unavailable: { toast: 'WeChat not answering', detail: 'WeChat did not answer the login. Wait a moment, then tap Retry.' },
  wechat_config: { toast: 'Server misconfigured', detail: 'The server cannot talk to WeChat (its AppID/secret). Tell the operators; retrying will not help.' },
  internal: { toast: 'Server error', detail: 'The server failed. Tap Retry; if it keeps happening, report the time to the operators.' },
  missing: { toast: 'Not logged in', detail: 'The session could not be renewed. Tap Retry to log in again.' },
  invalid: { toast: 'Session invalid', detail: 'The session could not be renewed. Tap Retry to log in again.' },
  expired: { toast: 'Session expired', detail: 'The session could not be renewed. Tap Retry to log in again.' },
  revoked: { toast: 'Session ended', detail: 'The session was ended and could not be renewed. Tap Retry to log in again.' },
};

/** What to tell the user about a failed call. Server messages already say what to do; they are kept as detail. */
export function describeError(error: unknown): ErrorText {
  const reason = reasonOf(error);
  const known = reason ? byReason[reason] : undefined;
  if (known) return known;
  const message = error instanceof Error && error.message ? error.message : 'Something went wrong. Tap Retry.';
  if (reason === 'invalid_input') return { toast: 'Check your input', detail: message };
  if (reason === 'code_unavailable') return { toast: 'WeChat login failed', detail: message };
  return { toast: 'Something went wrong', detail: message };
}
