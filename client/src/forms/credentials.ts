export type Field = 'username' | 'password';
type CredentialsCheck = { ok: true; username: string; password: string } | { ok: false; field: Field; message: string };

/**
 * The shared `username`, `password` and `passwordAttempt` rules (shared/src/schemas.ts), checked by hand before
 * sending: importing the zod schemas would put zod in the mini-program. A test keeps them in agreement, messages
 * included; the server validates again anyway.
 */
export function checkUsername(value: string): { ok: true; username: string } | { ok: false; message: string } {
  const username = value.trim().toLowerCase();
  if (username.length < 3) return { ok: false, message: 'username is shorter than 3 characters: use 3 to 32 of a-z, 0-9, _ . -' };
  if (username.length > 32) return { ok: false, message: 'username is longer than 32 characters: use 3 to 32 of a-z, 0-9, _ . -' };
  if (!/^[a-z0-9_.-]+$/.test(username)) return { ok: false, message: 'username may only hold a-z, 0-9, _ . - (letters are compared without case)' };
  return { ok: true, username };
}

type PasswordCheck = { ok: true; password: string } | { ok: false; message: string };

/** A new password (sign-up): the shared `password` rule, 8–128 characters. */
export function checkPassword(value: string): PasswordCheck {
  // Kept exactly as typed: a space can be part of a password. Counted in code points, as zod does (an emoji is one).
  const length = Array.from(value).length;
  if (length < 8) return { ok: false, message: 'password is shorter than 8 characters: choose a longer one' };
  if (length > 128) return { ok: false, message: 'password is longer than 128 characters: choose a shorter one' };
  return { ok: true, password: value };
}

/**
 * A password typed for an account that exists (bind): the shared `passwordAttempt` rule, only bounded (1–128
 * characters), so a password set under older rules still opens its account.
 */
export function checkPasswordAttempt(value: string): PasswordCheck {
  const length = Array.from(value).length;
  if (length < 1) return { ok: false, message: 'password is empty: type the password' };
  if (length > 128) return { ok: false, message: 'password is longer than 128 characters: no password can be that long' };
  return { ok: true, password: value };
}

/** The form's username and password, for binding an account that exists (`bind`) or signing up (`signUp`). */
export function checkCredentials(username: string, password: string, action: 'bind' | 'signUp'): CredentialsCheck {
  const u = checkUsername(username);
  if (!u.ok) return { ok: false, field: 'username', message: u.message };
  const p = action === 'bind' ? checkPasswordAttempt(password) : checkPassword(password);
  if (!p.ok) return { ok: false, field: 'password', message: p.message };
  return { ok: true, username: u.username, password: p.password };
}

/** Which field a server `invalid_input` message is about ("Invalid input: username: …"), when it names one. */
export function fieldOfMessage(message: string): Field | undefined {
  const match = /\b(username|password)\b/.exec(message);
  return match ? (match[1] as Field) : undefined;
}
