import type { BareClient } from '../api/create-api.ts';
import { LoginCodeError } from './errors.ts';
import type { AuthPlatform } from './platform.ts';
import { postToSimulator } from './simulator-request.ts';

/** The simulated user from the page's `?user=` (in the query or after the hash route), default `dev-user`. */
export function simulatedUser(location: { search: string; hash: string } | undefined): string {
  const queries = [location?.search ?? '', (location?.hash ?? '').split('?')[1] ?? ''];
  for (const query of queries) {
    const user = new URLSearchParams(query.replace(/^\?/, '')).get('user');
    if (user) return user;
  }
  return 'dev-user';
}

/**
 * H5 (simulator mode only): Taro.login gives no code in a browser, so codes are minted by the server's WeChat
 * simulator (`POST /__wechat/dev/login`) for the user named in `?user=`; sessions are checked with the server's
 * `checkSession` procedure, since Taro.checkSession means nothing here. This module is never in the weapp bundle.
 */
export function createH5Platform(deps: { apiUrl: string; bare: BareClient; user: string }): AuthPlatform {
  const { apiUrl, bare, user } = deps;
  return {
    // One stored session per simulated user, so `?user=bob` never reuses alice's token.
    storageKey: `wxkit.session.${user}`,
    async getCode(signal) {
      const res = await postToSimulator(apiUrl, '/dev/login', { user }, signal, {
        unreachable: (url, detail) => new LoginCodeError(`Could not reach the login simulator at ${url} (${detail}): check that the server is running, then reload.`),
        notSimulator: () =>
          new LoginCodeError('The server is not in simulator mode, and the H5 build can only log in through the simulator: unset WECHAT_APPID/WECHAT_SECRET, or use the mini-program.'),
      });
      const code = res.data?.code;
      if (res.statusCode !== 200 || typeof code !== 'string') {
        throw new LoginCodeError(`The login simulator answered HTTP ${res.statusCode} without a code: check the ?user= value (letters, digits, _ . @ -) and reload.`);
      }
      return code;
    },
    async checkSession(token, signal) {
      const result = await bare.client.checkSession.query(undefined, { ...bare.withToken(token), signal });
      return result.valid;
    },
  };
}
