import { createTRPCClient, httpBatchLink, type Operation, type TRPCClient } from '@trpc/client';
import type { AppRouter } from '@wxkit/server';
import type { Profile, SyncWeRunOutput } from '@wxkit/shared';
import { authHeaders, authLink } from '../auth/auth-link.ts';
import { createAuthSession, type AuthSession } from '../auth/auth-session.ts';
import { createAuthUpload, type UploadOptions } from '../auth/auth-upload.ts';
import { mutateWithFreshInput } from '../auth/fresh-input.ts';
import type { AuthPlatform } from '../auth/platform.ts';
import { taroTokenStore, type TokenStore } from '../auth/token-store.ts';
import { parseProfile } from './profile-shape.ts';
import { taroFetch } from './taro-fetch.ts';
import { createWeappWeChatData, type WeChatData } from './wechat-data.ts';

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
  /** Where WeRun data (and on H5 phone codes) come from. Default: WeChat's own APIs (weapp). */
  wechatData?: (deps: { apiUrl: string }) => WeChatData;
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
  wechat: WeChatData;
  /** Uploads a chosen avatar (chooseAvatar's temp path, or a blob: URL on H5) to POST /media/avatar; the new Profile. */
  uploadAvatar(filePath: string, options?: UploadOptions): Promise<Profile>;
  /** Reads WeRun from WeChat and stores it; after a re-login (stale session_key) WeChat is asked again. */
  syncWeRun(options?: { signal?: AbortSignal }): Promise<SyncWeRunOutput>;
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
  const upload = createAuthUpload({ session, apiUrl: options.apiUrl });
  const wechat = options.wechatData ? options.wechatData({ apiUrl: options.apiUrl }) : createWeappWeChatData();
  return {
    client,
    session,
    platform,
    wechat,
    uploadAvatar: (filePath, uploadOptions) => upload('/media/avatar', filePath, parseProfile, uploadOptions),
    syncWeRun: (callOptions) => mutateWithFreshInput(client.syncWeRun, (signal) => wechat.weRunData(signal), callOptions),
  };
}
