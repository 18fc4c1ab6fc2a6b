import { randomUUID } from 'node:crypto';
import type { BindAccountOutput, CredentialsInput, ExistingCredentialsInput, LoginOutput, Profile } from '@wxkit/shared';
import type { AuthService } from '../auth/auth-service.ts';
import { profileToWire } from '../auth/profile-wire.ts';
import type { LockoutPolicy, Store } from '../db/store.ts';
import { accountRequired, AppError, unauthorized } from '../trpc/app-error.ts';
import type { PasswordHasher } from './passwords.ts';

/** 5 failed attempts for one username from one address within 15 minutes lock that pair for 15 minutes. */
export const PASSWORD_LOCKOUT: LockoutPolicy = { maxFailures: 5, windowMs: 15 * 60_000, lockMs: 15 * 60_000 };

export interface AccountServiceOptions {
  store: Store;
  auth: AuthService;
  passwords: PasswordHasher;
  /** Clock for tests (the lockout window). Default: the auth service's. */
  now?: () => number;
  /** Where media a change stopped using is handed for removal (avatars); optional until media exists. */
  onMediaReleased?: (key: string) => void;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/** Who is calling: the user and the session of the request. */
export interface Caller {
  userId: string;
  sessionId: string;
  clientIp: string;
}

const credentialsInvalid = () =>
  new AppError('UNAUTHORIZED', 'credentials_invalid', 'The username or password is wrong: check both and try again.');

function tooManyAttempts(lockedUntil: number, now: number): AppError {
  const seconds = Math.max(1, Math.ceil((lockedUntil - now) / 1000));
  const minutes = Math.ceil(seconds / 60);
  return new AppError(
    'TOO_MANY_REQUESTS',
    'too_many_attempts',
    `Too many wrong passwords for this username: wait ${minutes} minute${minutes === 1 ? '' : 's'} (Retry-After: ${seconds} s), then try again.`,
    seconds,
  );
}

const usernameTaken = (username: string) =>
  new AppError('CONFLICT', 'username_taken', `The username "${username}" is taken: choose another one.`);

/**
 * Username + password accounts and their binding to WeChat identities. The rules live here; every write is one
 * store operation (a transaction), so concurrent calls cannot leave half a binding behind.
 */
export function createAccountService(options: AccountServiceOptions) {
  const { store, auth, passwords } = options;
  const now = options.now ?? auth.now;

  /**
   * The user a username + password opens, or a typed error. Unknown usernames cost a dummy verification, so they
   * answer as slowly as wrong passwords; both count towards the lock, which is checked before any hashing.
   */
  async function checkCredentials(input: ExistingCredentialsInput, clientIp: string): Promise<string> {
    const lockedUntil = await store.passwordLockedUntil(input.username, clientIp, now());
    if (lockedUntil !== null) throw tooManyAttempts(lockedUntil, now());
    const credential = await store.credentialByUsername(input.username);
    const ok = credential ? await passwords.verify(credential.passwordHash, input.password) : (await passwords.verifyDummy(input.password), false);
    if (!ok || !credential) {
      const t = now();
      const locked = await store.recordPasswordFailure(input.username, clientIp, t, PASSWORD_LOCKOUT);
      // Only the attempt that reached the limit is told about the lock; it is still a wrong password.
      options.log?.info({ locked: locked !== null }, 'password login failed');
      throw credentialsInvalid();
    }
    await store.clearPasswordFailures(input.username, clientIp);
    if (passwords.needsRehash(credential.passwordHash)) {
      // Parameters were raised since this hash was made: redo it while the password is at hand.
      await store.setPasswordHash(credential.userId, await passwords.hash(input.password), now());
    }
    return credential.userId;
  }

  async function profileOrInvalid(userId: string): Promise<Profile> {
    const row = await store.profile(userId);
    if (!row) throw unauthorized('invalid');
    return profileToWire(row);
  }

  async function output(userId: string, session: { id: string; createdAt: number; expiresAt: number }, isNewUser: boolean): Promise<LoginOutput> {
    const result = await auth.sessionOutput(userId, session.id, session.createdAt, session.expiresAt, isNewUser);
    if (!result) throw unauthorized('invalid');
    return result;
  }

  return {
    async signUp(input: CredentialsInput): Promise<LoginOutput> {
      const userId = randomUUID();
      const session = auth.newSession(null);
      const created = await store.createPasswordUser({ userId, username: input.username, passwordHash: await passwords.hash(input.password), session });
      if (!created.ok) throw usernameTaken(input.username);
      return output(userId, session, true);
    },

    async loginWithPassword(input: ExistingCredentialsInput, clientIp: string): Promise<LoginOutput> {
      const userId = await checkCredentials(input, clientIp);
      const session = auth.newSession(null);
      await store.openSession(userId, 'password', session);
      return output(userId, session, false);
    },

    async setPassword(caller: Caller, input: CredentialsInput): Promise<Profile> {
      const added = await store.addPasswordCredential({
        userId: caller.userId,
        username: input.username,
        passwordHash: await passwords.hash(input.password),
        now: now(),
      });
      if (!added.ok && added.reason === 'username_taken') throw usernameTaken(input.username);
      if (!added.ok) {
        throw new AppError('CONFLICT', 'password_already_set', 'This user already has a username and password: change the password with changePassword.');
      }
      return profileOrInvalid(caller.userId);
    },

    async bindAccount(caller: Caller, input: ExistingCredentialsInput): Promise<BindAccountOutput> {
      // Cheap checks first: a session without WeChat never gets to try passwords here.
      if (!(await store.wechatIdentityOf(caller.userId))) {
        throw new AppError('BAD_REQUEST', 'wechat_required', 'This session has no WeChat identity to bind: log in with WeChat (login) first, then bind.');
      }
      const accountUserId = await checkCredentials(input, caller.clientIp);
      const alreadyBound = () =>
        new AppError('CONFLICT', 'already_bound', 'That account is already bound to a WeChat user: unbind it there first (unbindWechat), or use another account.');
      if (accountUserId === caller.userId) throw alreadyBound();
      const session = auth.newSession(null);
      const bound = await store.bindWechatToAccount({ wechatUserId: caller.userId, callerSessionId: caller.sessionId, accountUserId, session });
      if (!bound.ok) {
        if (bound.reason === 'already_bound') throw alreadyBound();
        if (bound.reason === 'wechat_required') {
          throw new AppError('BAD_REQUEST', 'wechat_required', 'This session no longer has a WeChat identity to bind (it was bound elsewhere meanwhile): log in with WeChat again.');
        }
        throw credentialsInvalid(); // the account was deleted between the password check and the binding
      }
      if (bound.previousMediaKey) options.onMediaReleased?.(bound.previousMediaKey);
      const result = await output(accountUserId, session, false);
      return { token: result.token, expiresAt: result.expiresAt, user: result.user };
    },

    async unbindWechat(caller: Caller): Promise<Profile> {
      const result = await store.unbindWechat(caller.userId, now());
      if (result === 'not_bound') {
        throw new AppError('BAD_REQUEST', 'wechat_required', 'This user has no WeChat identity to unbind.');
      }
      if (result === 'last_login_method') {
        throw new AppError('BAD_REQUEST', 'last_login_method', 'WeChat is the only way into this user: set a username and password first (setPassword), then unbind.');
      }
      return profileOrInvalid(caller.userId);
    },

    /** Called through accountProcedure: the caller has a password credential. */
    async changePassword(caller: Caller, input: { currentPassword: string; newPassword: string }): Promise<{ ok: true }> {
      const credential = await store.credentialOf(caller.userId);
      if (!credential) throw accountRequired();
      await checkCredentials({ username: credential.username, password: input.currentPassword }, caller.clientIp);
      await store.setPasswordHash(caller.userId, await passwords.hash(input.newPassword), now());
      // Whoever knew the old password is logged out everywhere but here.
      await store.revokeOtherSessions(caller.userId, caller.sessionId, now());
      return { ok: true };
    },

    /** For accountProcedure: whether the user has a password credential (an "account", not WeChat-only). */
    async hasPassword(userId: string): Promise<boolean> {
      return (await store.credentialOf(userId)) !== undefined;
    },
  };
}

export type AccountService = ReturnType<typeof createAccountService>;
