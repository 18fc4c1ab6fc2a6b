import Taro from '@tarojs/taro';
import type { SyncWeRunInput } from '@wxkit/shared';
import { platformErrorDetail, WeChatApiError } from '../auth/errors.ts';
import { abortError } from '../auth/flight.ts';

/**
 * What WeChat hands the app besides login codes, behind one interface: the weapp bundle asks WeChat itself; the H5
 * bundle (h5-wechat-data.ts, never in the weapp bundle) asks the server's simulator.
 */
export interface WeChatData {
  /** wx.getWeRunData: the user's steps, encrypted with the session_key of the current login. */
  weRunData(signal: AbortSignal): Promise<SyncWeRunInput>;
  /**
   * H5 only: a phone-number code minted by the simulator, standing in for the code that
   * `<Button openType="getPhoneNumber">` gives on weapp (which no API can ask for).
   */
  devPhoneCode?: (signal: AbortSignal) => Promise<string>;
}

/** `e.detail` of `<Button openType="getPhoneNumber" onGetPhoneNumber>`: the code, or why there is none. */
export function phoneCodeFrom(detail: { code?: string; errMsg?: string }): string {
  if (detail.code) return detail.code;
  const errMsg = detail.errMsg ?? '';
  if (/deny|denied|cancel/i.test(errMsg)) {
    throw new WeChatApiError('user_denied', 'You did not allow the phone number to be shared: tap "Bind phone number" again and choose Allow.');
  }
  throw new WeChatApiError(
    'wechat_api_failed',
    `WeChat gave no phone number code (${errMsg || 'no detail'}): update WeChat (the code needs base library 2.21.2 or later) and try again.`,
  );
}

/** weapp: the real WeChat APIs. */
export function createWeappWeChatData(): WeChatData {
  return {
    weRunData(signal) {
      return new Promise<SyncWeRunInput>((resolve, reject) => {
        if (signal.aborted) return reject(abortError());
        // wx.getWeRunData cannot be cancelled: an aborted caller stops waiting, the data is simply not used.
        const onAbort = () => reject(abortError());
        signal.addEventListener('abort', onAbort, { once: true });
        Taro.getWeRunData().then(
          (res) => {
            signal.removeEventListener('abort', onAbort);
            resolve({ encryptedData: res.encryptedData, iv: res.iv });
          },
          (error: unknown) => {
            signal.removeEventListener('abort', onAbort);
            const detail = platformErrorDetail(error);
            if (/auth deny|auth denied|authorize/i.test(detail)) {
              reject(new WeChatApiError('user_denied', `WeRun access is off (${detail}): allow WeRun in the mini-program's settings (… → Settings), then tap Sync again.`));
            } else {
              reject(new WeChatApiError('wechat_api_failed', `WeChat could not read your WeRun steps (${detail}): open WeRun in WeChat once, then tap Sync again.`));
            }
          },
        );
      });
    },
  };
}
