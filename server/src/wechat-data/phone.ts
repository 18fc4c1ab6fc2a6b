import type { Profile } from '@wxkit/shared';
import { profileToWire } from '../auth/profile-wire.ts';
import type { Store } from '../db/store.ts';
import { AppError, unauthorized } from '../trpc/app-error.ts';
import type { WeChatClient } from '../wechat/client.ts';
import { WeChatError } from '../wechat/errors.ts';
import type { AccessTokenManager } from './access-token.ts';

/** `+86` + `13800138000` → `+8613800138000`. */
export function toE164(countryCode: string, purePhoneNumber: string): string {
  return `+${countryCode.replace(/^\+/, '')}${purePhoneNumber}`;
}

/**
 * What a response may show of a number: the first 3 and last 4 digits (`138****8000`, as WeChat's own UI does);
 * numbers shorter than 9 digits keep only the last 2.
 */
export function maskPhone(purePhoneNumber: string): string {
  const digits = purePhoneNumber.replace(/\D/g, '');
  if (digits.length >= 9) return `${digits.slice(0, 3)}${'*'.repeat(digits.length - 7)}${digits.slice(-4)}`;
  return `${'*'.repeat(Math.max(0, digits.length - 2))}${digits.slice(-2)}`;
}

export interface PhoneServiceOptions {
  store: Store;
  wechat: Pick<WeChatClient, 'getPhoneNumber'>;
  accessTokens: AccessTokenManager;
  appId: string;
  now?: () => number;
}

/** getPhoneNumber: a one-time code from the mini-program's button → the user's verified number, stored. */
export function createPhoneService(options: PhoneServiceOptions) {
  const now = options.now ?? Date.now;
  return {
    /** Throws WeChatError for WeChat's failures (mapped by the router) and AppError for ours. */
    async bindPhone(userId: string, code: string): Promise<Profile> {
      const info = await options.accessTokens.withToken((token) => options.wechat.getPhoneNumber(token, code));
      if (info.watermarkAppId !== options.appId) {
        // A code minted for another mini-program: never store what it says.
        throw new WeChatError('phone_code_invalid', 'phone_info watermark names another appid', undefined, 'getuserphonenumber');
      }
      if (!/^\d{4,20}$/.test(info.purePhoneNumber) || !/^\+?\d{1,4}$/.test(info.countryCode)) {
        throw new AppError('SERVICE_UNAVAILABLE', 'wechat_unavailable', 'WeChat answered with a phone number that cannot be read: try again in a moment.');
      }
      const row = await options.store.setPhone(
        userId,
        { e164: toE164(info.countryCode, info.purePhoneNumber), masked: maskPhone(info.purePhoneNumber) },
        now(),
      );
      if (!row) throw unauthorized('invalid');
      return profileToWire(row);
    },
  };
}

export type PhoneService = ReturnType<typeof createPhoneService>;
