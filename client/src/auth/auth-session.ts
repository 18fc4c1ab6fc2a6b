import type { LoginOutput } from '@wxkit/shared';
import { reasonOf, type ClientErrorReason } from './errors.ts';
import { abortError, startFlight, sleep, type Flight } from './flight.ts';
import type { AuthPlatform } from './platform.ts';
import type { StoredSession, TokenStore } from './token-store.ts';

/** Login failures worth one more try with a fresh code: the code itself, or WeChat for a moment. */
const RETRY_WITH_FRESH_CODE = new Set<ClientErrorReason | undefined>(['code_invalid', 'code_used', 'wechat_unavailable']);

export interface AuthSessionOptions {
  platform: AuthPlatform;
  store: TokenStore;
  /** The `login` procedure, called directly (never through the auth link). */
  login: (code: string, signal: AbortSignal) => Promise<LoginOutput>;
  /** Pause before the one retry with a fresh code. Default 300 ms. */
  retryBackoffMs?: number;
  /** Told about every successful login (the page shows who is logged in). */
  onLogin?: (output: LoginOutput) => void;
}

/** What bindAccount, signUp and loginWithPassword answer: a session for (another) user, to use from now on. */
export interface SessionGrant {
  token: string;
  expiresAt: string;
  user: { id: string };
}

/** A call under way that will answer a SessionGrant; `settle()` once it answered (or failed). */
export interface PendingGrant {
  settle(): void;
}

/**
 * The session state the auth link relies on: the stored token, the single login in flight, the once-per-show
 * session check. Every wait takes the caller's AbortSignal, so an unsubscribed call stops waiting at once.
 */
export interface AuthSession {
  /** The token calls are sent with right now (read from storage). */
  token(): string | undefined;
  /** The app came to the foreground: check the session again before the next call. */
  appShown(): void;
  /** A token to send a call with: waits for a login under way, checks the session once per show, logs in if none. */
  ready(signal: AbortSignal): Promise<string>;
  /**
   * After a session failure for a call sent with `sentToken`: waits for grants under way, then logs in unless the
   * token already changed since; the token to retry with.
   */
  renew(sentToken: string | undefined, signal: AbortSignal): Promise<string>;
  /** Uses a session answered by bindAccount / signUp / loginWithPassword at once: no extra login round trip. */
  adopt(grant: SessionGrant): void;
  /**
   * A call that will answer a grant is under way: until it settles, renewals wait for it, so a call that gets 401
   * because that very call revoked its session retries with the granted token instead of logging in.
   */
  expectGrant(): PendingGrant;
  /** Drops the stored session (after `logout`). */
  forget(): void;
}

export function createAuthSession(options: AuthSessionOptions): AuthSession {
  const { platform, store } = options;
  const backoffMs = options.retryBackoffMs ?? 300;
  let loginFlight: Flight<string> | undefined;
  let checkFlight: Flight<void> | undefined;
  let checkDue = true; // a launch is a show
  const pendingGrants = new Set<Promise<void>>();

  async function login(signal: AbortSignal): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const code = await platform.getCode(signal);
      try {
        const output = await options.login(code, signal);
        const session: StoredSession = { token: output.token, expiresAt: output.expiresAt, userId: output.user.id };
        store.write(session);
        checkDue = false; // a login is as fresh as a session gets
        options.onLogin?.(output);
        return output.token;
      } catch (error) {
        if (attempt === 1 && RETRY_WITH_FRESH_CODE.has(reasonOf(error)) && !signal.aborted) {
          await sleep(backoffMs, signal);
          continue;
        }
        throw error;
      }
    }
  }

  function joinLogin(signal: AbortSignal, dropStored: boolean): Promise<string> {
    if (!loginFlight?.active) {
      // The token that failed is useless from here on, whatever happens to this login.
      if (dropStored) store.clear();
      loginFlight = startFlight(login);
    }
    return loginFlight.join(signal);
  }

  async function check(token: string, signal: AbortSignal): Promise<void> {
    const valid = await platform.checkSession(token, signal);
    checkDue = false;
    if (!valid && store.read()?.token === token) store.clear();
  }

  return {
    token: () => store.read()?.token,
    appShown() {
      checkDue = true;
    },
    async ready(signal) {
      if (loginFlight?.active) return loginFlight.join(signal);
      let stored = store.read();
      if (stored && checkDue) {
        if (!checkFlight?.active) checkFlight = startFlight((s) => check(stored!.token, s));
        await checkFlight.join(signal);
        if (loginFlight?.active) return loginFlight.join(signal);
        stored = store.read();
      }
      if (stored) return stored.token;
      return joinLogin(signal, false);
    },
    async renew(sentToken, signal) {
      if (pendingGrants.size > 0) await untilSettled([...pendingGrants], signal);
      if (loginFlight?.active) return loginFlight.join(signal);
      const current = store.read()?.token;
      // Someone logged in (or was granted a session) since this call was sent: just retry with the new token.
      if (current && current !== sentToken) return current;
      return joinLogin(signal, true);
    },
    adopt(grant) {
      store.write({ token: grant.token, expiresAt: grant.expiresAt, userId: grant.user.id });
      checkDue = false; // as fresh as a login
    },
    expectGrant() {
      let settle!: () => void;
      const pending = new Promise<void>((resolve) => (settle = resolve));
      pendingGrants.add(pending);
      return {
        settle() {
          pendingGrants.delete(pending);
          settle();
        },
      };
    },
    forget() {
      store.clear();
    },
  };
}

/** Resolves once every promise settled, or rejects with an AbortError as soon as `signal` aborts. */
function untilSettled(promises: Promise<void>[], signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError());
    const onAbort = () => reject(abortError());
    signal.addEventListener('abort', onAbort, { once: true });
    void Promise.allSettled(promises).then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
