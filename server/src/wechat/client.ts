import { sessionKeySignature } from './encrypted-data.ts';
import { reasonForErrcode, STALE_SESSION_KEY_ERRCODE, WeChatError, type WeChatApi } from './errors.ts';
import { createHttpRequester, HttpRequestError, type HttpAnswer } from './http-request.ts';

/**
 * How long a process may hold a claim on a WeChat call (a login code's exchange, the access_token's refresh) before
 * the others take over: one call's timeout plus a margin, so a live owner is never overtaken.
 */
export const callLeaseMs = (timeoutMs: number) => timeoutMs + 5_000;

export interface Code2SessionResult {
  openid: string;
  sessionKey: string;
  unionid: string | null;
}

export interface StableTokenResult {
  accessToken: string;
  /** As WeChat said: seconds from the moment it answered. */
  expiresInSeconds: number;
}

/** WeChat's `phone_info`. The caller checks `watermarkAppId` against our AppID. */
export interface PhoneInfo {
  /** With the country code for numbers outside mainland China. */
  phoneNumber: string;
  /** Without the country code. */
  purePhoneNumber: string;
  /** e.g. "86" (WeChat sends a string or a number; always a string here). */
  countryCode: string;
  watermarkAppId: string;
  /** Unix seconds; null when WeChat sent none. */
  watermarkTimestamp: number | null;
}

export type SessionKeyCheck = { valid: true } | { valid: false };

export interface WeChatClientOptions {
  appId: string;
  secret: string;
  /** Resolved per call: in simulator mode the base is our own address, known only after listen. */
  apiBase: () => string;
  /** Per call. */
  timeoutMs: number;
}

export interface WeChatClient {
  /** `auth.code2Session`: a wx.login code → openid, session_key, unionid. */
  code2Session(code: string): Promise<Code2SessionResult>;
  /** `getStableAccessToken`. `forceRefresh` makes WeChat issue a new token and invalidate the previous one. */
  stableToken(options?: { forceRefresh?: boolean }): Promise<StableTokenResult>;
  /** `getPhoneNumber`: a code from `<Button openType="getPhoneNumber">` → the user's phone. */
  getPhoneNumber(accessToken: string, code: string): Promise<PhoneInfo>;
  /** `checkSessionKey`: is this session_key still the user's current one? (87009 → `{ valid: false }`) */
  checkSessionKey(accessToken: string, openid: string, sessionKey: string): Promise<SessionKeyCheck>;
  /** Closes kept-alive connections. */
  close(): void;
}

type WeChatBody = Record<string, unknown>;

/**
 * WeChat's server API over HTTP, one request per call and no retry here: a login code is burnt on the first attempt
 * (a resend would only turn a transient failure into 40163), and the access_token retry belongs to its manager.
 * Every failure is a `WeChatError` whose reason comes from `reasonForErrcode`; none of them carries the AppSecret,
 * the access_token, a code or a session_key.
 */
export function createWeChatClient(options: WeChatClientOptions): WeChatClient {
  const http = createHttpRequester();
  const url = (path: string, query: Record<string, string>) => {
    // A relative path keeps a base's own path (the simulator lives under `/__wechat`).
    const result = new URL(path, options.apiBase().replace(/\/+$/, '') + '/');
    result.search = new URLSearchParams(query).toString();
    return result;
  };

  /** Sends, then reads WeChat's JSON. Transport and shape problems throw; an errcode is returned for the caller. */
  async function call(api: WeChatApi, send: () => Promise<HttpAnswer>, secrets: string[]): Promise<{ errcode: number; errmsg: string; body: WeChatBody }> {
    let answer: HttpAnswer;
    try {
      answer = await send();
    } catch (error) {
      if (error instanceof HttpRequestError) {
        throw new WeChatError('wechat_unavailable', error.code === 'network' ? `network error: ${error.detail}` : error.detail, undefined, api);
      }
      throw error;
    }
    if (answer.status >= 500) throw new WeChatError('wechat_unavailable', `HTTP ${answer.status}`, undefined, api);
    if (answer.status !== 200) throw new WeChatError('wechat_unavailable', `unexpected HTTP ${answer.status}`, undefined, api);
    let body: unknown;
    try {
      body = JSON.parse(answer.text);
    } catch {
      throw new WeChatError('wechat_unavailable', `unreadable body (${answer.text.length} bytes, not JSON)`, undefined, api);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new WeChatError('wechat_unavailable', 'unreadable body (not an object)', undefined, api);
    }
    const b = body as WeChatBody;
    const errcode = typeof b.errcode === 'number' ? b.errcode : 0;
    // errmsg is WeChat's text about the request; it should not echo a secret, but make sure and keep it short.
    let errmsg = typeof b.errmsg === 'string' ? b.errmsg : '';
    for (const secret of secrets) if (secret.length >= 4) errmsg = errmsg.split(secret).join('[REDACTED]');
    return { errcode, errmsg: errmsg.slice(0, 80), body: b };
  }

  function failure(api: WeChatApi, errcode: number, errmsg: string): WeChatError {
    return new WeChatError(reasonForErrcode(errcode, api), `errcode ${errcode}${errmsg ? `: ${errmsg}` : ''}`, errcode, api);
  }

  function unreadable(api: WeChatApi, what: string): WeChatError {
    return new WeChatError('wechat_unavailable', `unreadable body (${what})`, undefined, api);
  }

  return {
    close: () => http.close(),

    async code2Session(code) {
      const api = 'jscode2session';
      const target = url('sns/jscode2session', { appid: options.appId, secret: options.secret, js_code: code, grant_type: 'authorization_code' });
      const { errcode, errmsg, body } = await call(api, () => http.get(target, options.timeoutMs), [options.secret, code]);
      if (errcode !== 0) throw failure(api, errcode, errmsg);
      if (!nonEmpty(body.openid) || !nonEmpty(body.session_key)) throw unreadable(api, 'no openid/session_key');
      return { openid: body.openid, sessionKey: body.session_key, unionid: nonEmpty(body.unionid) ? body.unionid : null };
    },

    async stableToken({ forceRefresh = false } = {}) {
      const api = 'stable_token';
      const payload = { grant_type: 'client_credential', appid: options.appId, secret: options.secret, force_refresh: forceRefresh };
      const { errcode, errmsg, body } = await call(api, () => http.postJson(url('cgi-bin/stable_token', {}), payload, options.timeoutMs), [options.secret]);
      if (errcode !== 0) throw failure(api, errcode, errmsg);
      const expiresIn = body.expires_in;
      if (!nonEmpty(body.access_token) || typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
        throw unreadable(api, 'no access_token/expires_in');
      }
      return { accessToken: body.access_token, expiresInSeconds: expiresIn };
    },

    async getPhoneNumber(accessToken, code) {
      const api = 'getuserphonenumber';
      const target = url('wxa/business/getuserphonenumber', { access_token: accessToken });
      const { errcode, errmsg, body } = await call(api, () => http.postJson(target, { code }, options.timeoutMs), [options.secret, accessToken, code]);
      if (errcode !== 0) throw failure(api, errcode, errmsg);
      const info = body.phone_info;
      if (typeof info !== 'object' || info === null) throw unreadable(api, 'no phone_info');
      const p = info as WeChatBody;
      const countryCode = typeof p.countryCode === 'number' ? String(p.countryCode) : p.countryCode;
      const watermark = typeof p.watermark === 'object' && p.watermark !== null ? (p.watermark as WeChatBody) : undefined;
      // The details name fields only: never a value, which could be the phone number.
      if (!nonEmpty(p.phoneNumber) || !nonEmpty(p.purePhoneNumber)) throw unreadable(api, 'phone_info without phoneNumber/purePhoneNumber');
      if (!nonEmpty(countryCode)) throw unreadable(api, 'phone_info without countryCode');
      if (!watermark || !nonEmpty(watermark.appid)) throw unreadable(api, 'phone_info without watermark.appid');
      return {
        phoneNumber: p.phoneNumber,
        purePhoneNumber: p.purePhoneNumber,
        countryCode,
        watermarkAppId: watermark.appid,
        watermarkTimestamp: typeof watermark.timestamp === 'number' ? watermark.timestamp : null,
      };
    },

    async checkSessionKey(accessToken, openid, sessionKey) {
      const api = 'checksession';
      const signature = sessionKeySignature(sessionKey);
      const target = url('wxa/checksession', { access_token: accessToken, openid, signature, sig_method: 'hmac_sha256' });
      const { errcode, errmsg } = await call(api, () => http.get(target, options.timeoutMs), [options.secret, accessToken, sessionKey, signature, openid]);
      if (errcode === STALE_SESSION_KEY_ERRCODE) return { valid: false };
      if (errcode !== 0) throw failure(api, errcode, errmsg);
      return { valid: true };
    },
  };
}

function nonEmpty(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}
