import type { LoginOutput } from '@wxkit/shared';
import { reasonOf, type ClientErrorReason } from './errors.ts';
import { startFlight, sleep, type Flight } from './flight.ts';
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
  /** After UNAUTHORIZED for a call sent with `sentToken`: logs in unless the token already changed since; the token to retry with. */
  renew(sentToken: string | undefined, signal: AbortSignal): Promise<string>;
  /** Drops the stored session (after `logout`). */
  forget(): void;
}

export function createAuthSession(options: AuthSessionOptions): AuthSession {
  const { platform, store } = options;
  const backoffMs = options.retryBackoffMs ?? 300;
  let loginFlight: Flight<string> | undefined;
  let checkFlight: Flight<void> | undefined;
  let checkDue = true; // a launch is a show

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
    renew(sentToken, signal) {
      if (loginFlight?.active) return loginFlight.join(signal);
      const current = store.read()?.token;
      // Someone logged in since this call was sent: just retry with the new token.
      if (current && current !== sentToken) return Promise.resolve(current);
      return joinLogin(signal, true);
    },
    forget() {
      store.clear();
    },
  };
}
