import Taro from '@tarojs/taro';

/** What we keep between launches. The token is our own session token, never WeChat's session_key. */
export interface StoredSession {
  token: string;
  expiresAt: string;
  userId: string;
}

export interface TokenStore {
  read(): StoredSession | undefined;
  write(session: StoredSession): void;
  clear(): void;
}

function isStoredSession(value: unknown): value is StoredSession {
  const v = value as Partial<StoredSession> | null;
  return typeof v === 'object' && v !== null && typeof v.token === 'string' && v.token.length > 0 && typeof v.expiresAt === 'string' && typeof v.userId === 'string';
}

/** Taro's synchronous storage (wx.setStorageSync on weapp, localStorage on H5). */
export function taroTokenStore(key: string): TokenStore {
  return {
    read() {
      const value: unknown = Taro.getStorageSync(key);
      return isStoredSession(value) ? value : undefined;
    },
    write(session) {
      Taro.setStorageSync(key, session);
    },
    clear() {
      Taro.removeStorageSync(key);
    },
  };
}
