import { WeChatError, reasonForErrcode } from './errors.ts';
import { createHttpGetter, HttpGetError } from './http-get.ts';

export interface Code2SessionResult {
  openid: string;
  sessionKey: string;
  unionid: string | null;
}

export interface WeChatClientOptions {
  appId: string;
  secret: string;
  /** Resolved per call: in simulator mode the base is our own address, known only after listen. */
  apiBase: () => string;
  timeoutMs: number;
}

export interface WeChatClient {
  code2Session(code: string): Promise<Code2SessionResult>;
  /** Closes kept-alive connections. */
  close(): void;
}

/**
 * `auth.code2Session` over HTTP. One request per call: a code is never sent twice, because WeChat
 * burns it on the first attempt and a resend would only turn a transient failure into 40163.
 */
export function createWeChatClient(options: WeChatClientOptions): WeChatClient {
  const http = createHttpGetter();
  return {
    close: () => http.close(),
    async code2Session(code) {
      const url = new URL('sns/jscode2session', ensureTrailingPath(options.apiBase()));
      url.search = new URLSearchParams({
        appid: options.appId,
        secret: options.secret,
        js_code: code,
        grant_type: 'authorization_code',
      }).toString();

      let status: number;
      let text: string;
      try {
        ({ status, text } = await http.get(url, options.timeoutMs));
      } catch (error) {
        if (error instanceof HttpGetError) {
          throw new WeChatError('wechat_unavailable', error.code === 'network' ? `network error: ${error.detail}` : error.detail);
        }
        throw error;
      }
      if (status >= 500) throw new WeChatError('wechat_unavailable', `HTTP ${status}`);
      if (status !== 200) throw new WeChatError('wechat_unavailable', `unexpected HTTP ${status}`);

      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new WeChatError('wechat_unavailable', `unreadable body (${text.length} bytes, not JSON)`);
      }
      if (typeof body !== 'object' || body === null) throw new WeChatError('wechat_unavailable', 'unreadable body (not an object)');
      const b = body as Record<string, unknown>;
      const errcode = typeof b.errcode === 'number' ? b.errcode : 0;
      if (errcode !== 0) {
        // errmsg is WeChat's text about the request; it does not echo the secret, but keep only a short prefix.
        const errmsg = typeof b.errmsg === 'string' ? b.errmsg.slice(0, 80) : '';
        throw new WeChatError(reasonForErrcode(errcode), `errcode ${errcode}${errmsg ? `: ${errmsg}` : ''}`, errcode);
      }
      if (typeof b.openid !== 'string' || b.openid === '' || typeof b.session_key !== 'string' || b.session_key === '') {
        throw new WeChatError('wechat_unavailable', 'unreadable body (no openid/session_key)');
      }
      return {
        openid: b.openid,
        sessionKey: b.session_key,
        unionid: typeof b.unionid === 'string' && b.unionid !== '' ? b.unionid : null,
      };
    },
  };
}

function ensureTrailingPath(base: string): string {
  // A relative path keeps a base's own path (the simulator lives under `/__wechat`).
  return base.replace(/\/+$/, '') + '/';
}
