import { createApi, type CreateApiOptions } from './create-api.ts';
import { createH5Platform, simulatedUser } from '../auth/h5-platform.ts';
import { createWeappPlatform } from '../auth/weapp-platform.ts';
import { createH5WeChatData } from './h5-wechat-data.ts';

/** Inlined at build time from client/.env* (empty on H5: the origin that served the page). */
const configuredUrl = process.env.TARO_APP_API_URL;

function apiUrl(): string {
  if (configuredUrl) return configuredUrl;
  if (process.env.TARO_ENV === 'h5') return window.location.origin;
  return 'http://127.0.0.1:3000';
}

/** The H5 stand-ins (the simulated `?user=`) or WeChat itself. */
function platformOptions(): Pick<CreateApiOptions, 'platform' | 'wechatData'> {
  if (process.env.TARO_ENV === 'h5') {
    const user = simulatedUser(window.location);
    return { platform: (deps) => createH5Platform({ ...deps, user }), wechatData: (deps) => createH5WeChatData({ ...deps, user }) };
  }
  return { platform: () => createWeappPlatform() };
}

/**
 * The app's one API client. `process.env.TARO_ENV` is replaced by a constant at build time and the dead branch
 * is never compiled in, so the weapp bundle has no H5 code path (the built-bundle test checks it).
 */
export const api = createApi({ apiUrl: apiUrl(), ...platformOptions() });

export { reasonOf, retryAfterOf, type ApiError, type ClientErrorReason } from '../auth/errors.ts';
