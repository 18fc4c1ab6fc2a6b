import type { SyncWeRunInput } from '@wxkit/shared';
import { WeChatApiError } from '../auth/errors.ts';
import { postToSimulator } from '../auth/simulator-request.ts';
import type { WeChatData } from './wechat-data.ts';

/** The phone number the H5 dev button binds (the simulator accepts any mainland mobile number). */
const DEV_PHONE = '13800138000';

/** Steps for the last `count` days up to today, the same for a user and a day every time (so a re-sync is stable). */
function devWeRunDays(user: string, today = new Date(), count = 7): Array<{ date: string; steps: number }> {
  const days: Array<{ date: string; steps: number }> = [];
  for (let i = count - 1; i >= 0; i--) {
    const day = new Date(Date.UTC(today.getFullYear(), today.getMonth(), today.getDate() - i));
    const date = day.toISOString().slice(0, 10);
    let hash = 2166136261;
    for (const ch of `${user}:${date}`) hash = Math.imul(hash ^ ch.charCodeAt(0), 16777619) >>> 0;
    days.push({ date, steps: 2000 + (hash % 11000) });
  }
  return days;
}

async function postSimulator<T>(apiUrl: string, path: string, body: Record<string, unknown>, signal: AbortSignal, what: string): Promise<T> {
  const res = await postToSimulator(apiUrl, path, body, signal, {
    unreachable: (url, detail) =>
      new WeChatApiError('wechat_api_failed', `Could not reach the WeChat simulator for ${what} at ${url} (${detail}): check that the server is running, then try again.`),
    notSimulator: () =>
      new WeChatApiError('wechat_api_failed', `The server is not in simulator mode, so the H5 build has no stand-in for ${what}: use the mini-program, or run the server without WECHAT_APPID.`),
  });
  if (res.statusCode !== 200) {
    throw new WeChatApiError('wechat_api_failed', `The WeChat simulator answered HTTP ${res.statusCode} for ${what}: check the ?user= value (letters, digits, _ . @ -) and try again.`);
  }
  return res.data as T;
}

/**
 * H5 (simulator mode only): stand-ins for what only WeChat can give, minted by the server's simulator for the
 * `?user=` user. This module is never in the weapp bundle.
 */
export function createH5WeChatData(deps: { apiUrl: string; user: string }): WeChatData {
  const { apiUrl, user } = deps;
  return {
    async weRunData(signal) {
      // Encrypted with the user's latest session_key, exactly as wx.getWeRunData would be.
      const data = await postSimulator<Partial<SyncWeRunInput>>(apiUrl, '/dev/werun', { user, days: devWeRunDays(user) }, signal, 'WeRun data');
      if (typeof data.encryptedData !== 'string' || typeof data.iv !== 'string') {
        throw new WeChatApiError('wechat_api_failed', 'The WeChat simulator gave no WeRun data: update the server, then try again.');
      }
      return { encryptedData: data.encryptedData, iv: data.iv };
    },
    async devPhoneCode(signal) {
      const data = await postSimulator<{ code?: unknown }>(apiUrl, '/dev/phone-code', { user, phone: DEV_PHONE }, signal, 'a phone number code');
      if (typeof data.code !== 'string') {
        throw new WeChatApiError('wechat_api_failed', 'The WeChat simulator gave no phone number code: update the server, then try again.');
      }
      return data.code;
    },
  };
}
