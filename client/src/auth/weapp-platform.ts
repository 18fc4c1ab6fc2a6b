import Taro from '@tarojs/taro';
import { abortError } from './flight.ts';
import { LoginCodeError, platformErrorDetail } from './errors.ts';
import type { AuthPlatform } from './platform.ts';

const LOGIN_TIMEOUT_MS = 10_000;

/** Codes from wx.login (through Taro.login), session checks from wx.checkSession. */
export function createWeappPlatform(): AuthPlatform {
  return {
    storageKey: 'wxkit.session',
    getCode(signal) {
      return new Promise<string>((resolve, reject) => {
        if (signal.aborted) return reject(abortError());
        // wx.login cannot be cancelled: an unsubscribed caller stops waiting, the code is simply not used.
        const onAbort = () => finish(() => reject(abortError()));
        // Belt and braces: wx.login has its own timeout, but a call must never hang on it.
        const timer = setTimeout(
          () => finish(() => reject(new LoginCodeError(`wx.login did not answer within ${LOGIN_TIMEOUT_MS / 1000} s: check the network and try again.`))),
          LOGIN_TIMEOUT_MS + 1000,
        );
        let done = false;
        function finish(settle: () => void) {
          if (done) return;
          done = true;
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          settle();
        }
        signal.addEventListener('abort', onAbort, { once: true });
        Taro.login({ timeout: LOGIN_TIMEOUT_MS }).then(
          (res) => {
            if (res.code) finish(() => resolve(res.code));
            else finish(() => reject(new LoginCodeError(`wx.login gave no code (${res.errMsg}): reopen the mini-program and try again.`)));
          },
          (error: unknown) => {
            finish(() => reject(new LoginCodeError(`wx.login failed (${platformErrorDetail(error)}): check the network and that WeChat is logged in, then try again.`)));
          },
        );
      });
    },
    checkSession() {
      // Resolves while WeChat's session for this user is alive; rejects once it expired (then we log in again).
      return Taro.checkSession().then(
        () => true,
        () => false,
      );
    },
  };
}
