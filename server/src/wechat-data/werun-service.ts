import type { GetWeRunOutput, SyncWeRunInput, SyncWeRunOutput } from '@wxkit/shared';
import type { Store } from '../db/store.ts';
import { AppError, sessionKeyStale, wechatRequired } from '../trpc/app-error.ts';
import { decryptWeChatData } from '../wechat/encrypted-data.ts';
import { parseWeRunData } from '../wechat/werun.ts';
import type { SessionKeyService } from './session-key.ts';

/** getWeRun answers the latest this many days (WeChat hands out 31). */
export const WERUN_DAYS_SHOWN = 30;

export interface WeRunServiceOptions {
  store: Store;
  sessionKeys: SessionKeyService;
  appId: string;
  now?: () => number;
  log?: { info(obj: object, msg: string): void };
}

/** WeRun steps: data WeChat encrypts with the user's session_key, decrypted strictly and stored per day. */
export function createWeRunService(options: WeRunServiceOptions) {
  const now = options.now ?? Date.now;
  return {
    async sync(userId: string, input: SyncWeRunInput): Promise<SyncWeRunOutput> {
      const key = await options.sessionKeys.current(userId);
      if (key.kind === 'no_wechat') throw wechatRequired('Syncing WeRun steps');
      if (key.kind === 'stale') throw sessionKeyStale();
      const decrypted = decryptWeChatData({ sessionKey: key.sessionKey, encryptedData: input.encryptedData, iv: input.iv, appId: options.appId });
      if (!decrypted.ok) {
        // Almost always data encrypted with an older session_key: the client logs in again and fetches it anew.
        options.log?.info({ problem: decrypted.problem }, 'WeRun data did not decrypt with the current session_key');
        throw sessionKeyStale();
      }
      const parsed = parseWeRunData(decrypted.data);
      if (!parsed.ok) {
        throw new AppError('BAD_REQUEST', 'invalid_input', `The WeRun data decrypted but is not step data (${parsed.problem}): pass wx.getWeRunData's result unchanged.`);
      }
      await options.store.saveWeRunDays(userId, parsed.days, now());
      const latest = parsed.days.at(-1) ?? null;
      return { days: parsed.days.length, latest };
    },

    async days(userId: string): Promise<GetWeRunOutput> {
      return { days: await options.store.weRunDays(userId, WERUN_DAYS_SHOWN) };
    },
  };
}

export type WeRunService = ReturnType<typeof createWeRunService>;
