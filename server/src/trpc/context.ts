import type { AuthResult, AuthService, AuthWithProfile } from '../auth/auth-service.ts';
import type { AccountService } from '../accounts/account-service.ts';
import type { Store } from '../db/store.ts';
import type { MediaService } from '../media/media-service.ts';
import type { PhoneService } from '../wechat-data/phone.ts';
import type { SessionKeyService } from '../wechat-data/session-key.ts';
import type { WeRunService } from '../wechat-data/werun-service.ts';

/** The services procedures call; built once in app.ts. */
export interface ContextDeps {
  store: Store;
  authService: AuthService;
  accountService: AccountService;
  phoneService: PhoneService;
  weRunService: WeRunService;
  sessionKeys: SessionKeyService;
  /** Stored avatars: a profile change hands it the image it stopped using. */
  mediaService: MediaService;
}

/** What a procedure may know of its HTTP request, taken from it by the adapter. */
export interface RequestInfo {
  authorization: string | undefined;
  /** The socket's address (Fastify's `trustProxy` is off): keys the password lockout. */
  clientIp: string;
  /** Sets a response header (Retry-After); for a batch it applies to the whole response. */
  setHeader(name: string, value: string): void;
}

export interface Context {
  deps: ContextDeps;
  request: RequestInfo;
  /** The caller's session, checked once per request on first use. "Not logged in" is a value. */
  auth: () => Promise<AuthResult>;
  /** The same check and the caller's profile, read in one statement when it comes first (getProfile). */
  authWithProfile: () => Promise<AuthWithProfile>;
}

export function createContextFactory(deps: ContextDeps) {
  return (request: RequestInfo): Context => {
    let auth: Promise<AuthResult> | undefined;
    let withProfile: Promise<AuthWithProfile> | undefined;
    return {
      deps,
      request,
      auth: () => (auth ??= withProfile ? withProfile.then((r) => r.auth) : deps.authService.authenticate(request.authorization)),
      authWithProfile() {
        if (withProfile) return withProfile;
        if (auth) {
          // The session was checked already (a batch): read only the profile.
          withProfile = auth.then(async (a) => ({ auth: a, profile: a.valid ? await deps.store.profile(a.userId) : undefined }));
        } else {
          withProfile = deps.authService.authenticateWithProfile(request.authorization);
        }
        return withProfile;
      },
    };
  };
}
