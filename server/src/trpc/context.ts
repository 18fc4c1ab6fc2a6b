import type { AuthResult, AuthService } from '../auth/auth-service.ts';
import type { Store } from '../db/store.ts';

export interface ContextDeps {
  authService: AuthService;
  store: Store;
}

export interface Context {
  deps: ContextDeps;
  /** The caller's session, checked once per request on first use. "Not logged in" is a value. */
  auth: () => Promise<AuthResult>;
}

export function createContextFactory(deps: ContextDeps) {
  return (authorization: string | undefined): Context => {
    let cached: Promise<AuthResult> | undefined;
    return {
      deps,
      auth: () => (cached ??= deps.authService.authenticate(authorization)),
    };
  };
}
