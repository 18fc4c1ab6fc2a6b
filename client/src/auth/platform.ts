/**
 * What differs between targets, behind one interface the auth session uses: where login codes come from and
 * how the session is checked once per app show. weapp: Taro.login / Taro.checkSession. H5: the simulator's
 * dev login and the server's checkSession (see h5-platform.ts).
 */
export interface AuthPlatform {
  /** Names the storage slot of the session (H5 keeps one per simulated user). */
  readonly storageKey: string;
  /** A fresh one-time login code. Rejects with LoginCodeError when none can be had. */
  getCode(signal: AbortSignal): Promise<string>;
  /** Whether the stored session is still worth using; false makes the link log in again before the call. */
  checkSession(token: string, signal: AbortSignal): Promise<boolean>;
}
