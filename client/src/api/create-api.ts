import { createTRPCClient, httpBatchLink, type Operation, type TRPCClient } from '@trpc/client';
import type { AppRouter } from '@wxkit/server';
import { authHeaders, authLink } from '../auth/auth-link.ts';
import { createAuthSession, type AuthSession } from '../auth/auth-session.ts';
import type { AuthPlatform } from '../auth/platform.ts';
import { taroTokenStore, type TokenStore } from '../auth/token-store.ts';
import { taroFetch } from './taro-fetch.ts';

export type ApiClient = TRPCClient<AppRouter>;

/** A tRPC client without the auth link: for `login` itself, and calls that name their token explicitly. */
export interface BareClient {
  client: ApiClient;
  /** Per-call context that sends `token` as the Authorization header. */
  withToken(token: string): { context: Record<string, unknown> };
}

export interface CreateApiOptions {
  /** The API origin, e.g. http://127.0.0.1:3000 (tRPC lives under /trpc). */
  apiUrl: string;
  /** Where codes come from and how sessions are checked; gets the bare client (H5 checks sessions on the server). */
  platform: (deps: { apiUrl: string; bare: BareClient }) => AuthPlatform;
  /** Default: Taro storage under the platform's key. */
  store?: TokenStore;
  retryBackoffMs?: number;
  onLogin?: Parameters<typeof createAuthSession>[0]['onLogin'];
}

export interface Api {
  /** Every procedure, through the auth link. */
  client: ApiClient;
  session: AuthSession;
  platform: AuthPlatform;
}

const EXPLICIT_TOKEN = 'wxkit.token';

function batchLink(url: string, headers: (opts: { opList: readonly Operation[] }) => Record<string, string>) {
  // httpBatchLink, not httpLink: httpLink touches FormData/Blob, which mini-programs lack.
  // maxURLLength keeps batched GETs under what every proxy accepts.
  return httpBatchLink<AppRouter>({ url, fetch: taroFetch, headers, maxURLLength: 2000 });
}

export function createApi(options: CreateApiOptions): Api {
  const url = `${options.apiUrl.replace(/\/+$/, '')}/trpc`;
  const bareClient = createTRPCClient<AppRouter>({
    links: [
      batchLink(url, ({ opList }): Record<string, string> => {
        const token = opList[0]?.context[EXPLICIT_TOKEN];
        return typeof token === 'string' ? { authorization: `Bearer ${token}` } : {};
      }),
    ],
  });
  const bare: BareClient = { client: bareClient, withToken: (token) => ({ context: { [EXPLICIT_TOKEN]: token } }) };
  const platform = options.platform({ apiUrl: options.apiUrl, bare });
  const session = createAuthSession({
    platform,
    store: options.store ?? taroTokenStore(platform.storageKey),
    login: (code, signal) => bareClient.login.mutate({ code }, { signal }),
    ...(options.retryBackoffMs !== undefined ? { retryBackoffMs: options.retryBackoffMs } : {}),
    ...(options.onLogin ? { onLogin: options.onLogin } : {}),
  });
  const client = createTRPCClient<AppRouter>({ links: [authLink(session), batchLink(url, authHeaders(session))] });
  return { client, session, platform };
}
