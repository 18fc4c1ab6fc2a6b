/**
 * An in-memory stand-in for the mini-program platform behind `@tarojs/taro` (tests mock the module with it).
 * Only the platform is fake: `request` and `uploadFile` perform real HTTP to the real test server (uploadFile as
 * multipart/form-data, from files the test puts in `files`), `login` mints real codes from the server's WeChat
 * simulator, `getWeRunData` asks the simulator for data encrypted with the user's latest session_key, storage is a Map.
 */
import { werunPayload } from '../../../server/test/support/wechat-sim.ts';

export interface RecordedRequest {
  method: string;
  url: string;
  path: string;
  authorization: string | undefined;
  aborted: boolean;
  done: boolean;
  /** The HTTP status answered, once it arrived. */
  status?: number;
  /** `uploadFile` for uploads, `request` otherwise. */
  api: 'request' | 'uploadFile';
}

type Gate = { promise: Promise<void>; release: () => void };

function gate(): Gate {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  return { promise, release };
}

export const platform = {
  /** The test server (codes are minted from its simulator). */
  serverUrl: '',
  /** The simulated WeChat user Taro.login logs in as. */
  user: 'dev-user',
  storage: new Map<string, unknown>(),
  requests: [] as RecordedRequest[],
  loginCalls: 0,
  checkSessionCalls: 0,
  /** wx.checkSession: true resolves, false rejects (WeChat's session_key expired). */
  checkSessionValid: true,
  /** wx.login fails with this errMsg when set. */
  loginFailure: undefined as string | undefined,
  /** wx.login waits for this gate when set. */
  loginGate: undefined as Gate | undefined,
  /** Requests fail before any answer (no network) while true. */
  offline: false,
  /** Responses of requests matching this are held until released. */
  holds: [] as { match: (request: RecordedRequest) => boolean; gate: Gate }[],
  /** Requests matching this are not sent until released (recorded, with their headers, at once). */
  sendHolds: [] as { match: (request: RecordedRequest) => boolean; gate: Gate }[],
  /** Local files uploadFile can send, by path (what chooseAvatar hands over). */
  files: new Map<string, { bytes: Uint8Array<ArrayBuffer>; type: string }>(),
  /** What getWeRunData reads; the simulator encrypts it with the user's latest session_key. */
  weRunDays: [] as Array<{ date: string; steps: number }>,
  weRunCalls: 0,
  /** getWeRunData fails with this errMsg when set. */
  weRunFailure: undefined as string | undefined,
  /** Runs after a login response arrives and before the client sees it. */
  afterLoginResponse: undefined as ((token: string) => Promise<void>) | undefined,
  toasts: [] as unknown[],

  reset(serverUrl: string, user: string) {
    Object.assign(platform, {
      serverUrl,
      user,
      storage: new Map(),
      requests: [],
      loginCalls: 0,
      checkSessionCalls: 0,
      checkSessionValid: true,
      loginFailure: undefined,
      loginGate: undefined,
      offline: false,
      holds: [],
      afterLoginResponse: undefined,
      toasts: [],
      sendHolds: [],
      files: new Map(),
      weRunDays: [],
      weRunCalls: 0,
      weRunFailure: undefined,
    });
  },
  /** Holds matching requests before they are sent, until `release()`. */
  holdSend(match: (request: RecordedRequest) => boolean): () => void {
    const g = gate();
    platform.sendHolds.push({ match, gate: g });
    return g.release;
  },
  uploads(): RecordedRequest[] {
    return platform.requests.filter((r) => r.api === 'uploadFile');
  },
  /** Holds the responses of matching requests until `release()`. */
  hold(match: (request: RecordedRequest) => boolean): () => void {
    const g = gate();
    platform.holds.push({ match, gate: g });
    return g.release;
  },
  holdLogin(): () => void {
    platform.loginGate = gate();
    return platform.loginGate.release;
  },
  /** Requests to a procedure (batched paths count once per procedure named). */
  callsTo(procedure: string): number {
    return platform.requests.filter((r) => r.path.split(',').includes(procedure)).length;
  },
  httpRequests(): number {
    return platform.requests.filter((r) => r.url.includes('/trpc/')).length;
  },
  openRequests(): number {
    return platform.requests.filter((r) => !r.done).length;
  },
};

interface RequestOptions {
  url: string;
  method?: string;
  header?: Record<string, string>;
  data?: unknown;
  dataType?: string;
  responseType?: string;
}

/**
 * Records a request (in `platform.requests`, before it starts) and runs it: the promise, marked done when it settles,
 * with the platform's `abort()`, which marks it aborted and aborts `signal`.
 */
function tracked(
  fields: Pick<RecordedRequest, 'api' | 'method' | 'url' | 'path'> & { header: Record<string, string> },
  run: (recorded: RecordedRequest, signal: AbortSignal) => Promise<unknown>,
) {
  const { header, ...rest } = fields;
  const controller = new AbortController();
  const recorded: RecordedRequest = {
    ...rest,
    authorization: Object.entries(header).find(([k]) => k.toLowerCase() === 'authorization')?.[1],
    aborted: false,
    done: false,
  };
  platform.requests.push(recorded);
  const promise = run(recorded, controller.signal).finally(() => {
    recorded.done = true;
  }) as Promise<unknown> & { abort: () => void };
  promise.abort = () => {
    recorded.aborted = true;
    controller.abort();
  };
  return promise;
}

function request(options: RequestOptions) {
  const url = new URL(options.url);
  const header = options.header ?? {};
  const fields = { api: 'request' as const, method: options.method ?? 'GET', url: options.url, path: decodeURIComponent(url.pathname.replace(/^\/trpc\//, '')), header };
  return tracked(fields, async (recorded, signal) => {
    const abortedWait = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    for (const held of platform.sendHolds.filter((h) => h.match(recorded))) await Promise.race([held.gate.promise, abortedWait]);
    if (platform.offline) throw { errMsg: 'request:fail net::ERR_INTERNET_DISCONNECTED' };
    let body: string | undefined;
    if (options.data !== undefined) body = typeof options.data === 'string' ? options.data : JSON.stringify(options.data);
    let response: Response;
    try {
      response = await fetch(options.url, { method: recorded.method, headers: header, ...(body !== undefined ? { body } : {}), signal });
    } catch (error) {
      throw { errMsg: signal.aborted ? 'request:fail abort' : `request:fail ${(error as Error).message}` };
    }
    const text = await response.text();
    recorded.status = response.status;
    for (const held of platform.holds.filter((h) => h.match(recorded))) await Promise.race([held.gate.promise, abortedWait]);
    if (signal.aborted) throw { errMsg: 'request:fail abort' };
    if (recorded.path === 'login' && response.status === 200 && platform.afterLoginResponse) {
      const json = JSON.parse(text) as unknown;
      const item = (Array.isArray(json) ? json[0] : json) as { result: { data: { token: string } } };
      const token = item.result.data.token;
      await platform.afterLoginResponse(token);
    }
    let data: unknown = text;
    if (options.dataType === 'json' || options.dataType === undefined) {
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    }
    const responseHeader: Record<string, string> = {};
    response.headers.forEach((value, key) => (responseHeader[key] = value));
    return { statusCode: response.status, header: responseHeader, data, errMsg: 'request:ok' };
  });
}

interface UploadOptions {
  url: string;
  filePath: string;
  name: string;
  header?: Record<string, string>;
  formData?: Record<string, string>;
}

/** wx.uploadFile: a multipart/form-data POST with the file under `name`; `data` is the answer as text. */
function uploadFile(options: UploadOptions) {
  const header = options.header ?? {};
  const fields = { api: 'uploadFile' as const, method: 'POST', url: options.url, path: new URL(options.url).pathname, header };
  return tracked(fields, async (recorded, signal) => {
    if (platform.offline) throw { errMsg: 'uploadFile:fail net::ERR_INTERNET_DISCONNECTED' };
    const file = platform.files.get(options.filePath);
    if (!file) throw { errMsg: `uploadFile:fail file not found: ${options.filePath}` };
    const form = new FormData();
    for (const [key, value] of Object.entries(options.formData ?? {})) form.append(key, value);
    form.append(options.name, new Blob([file.bytes], { type: file.type }), options.filePath.split('/').pop() ?? 'file');
    let response: Response;
    try {
      response = await fetch(options.url, { method: 'POST', headers: header, body: form, signal });
    } catch (error) {
      throw { errMsg: signal.aborted ? 'uploadFile:fail abort' : `uploadFile:fail ${(error as Error).message}` };
    }
    const text = await response.text();
    recorded.status = response.status;
    return { statusCode: response.status, data: text, errMsg: 'uploadFile:ok' };
  });
}

/** wx.getWeRunData: the days, encrypted by the simulator with the user's latest session_key, as WeChat does. */
async function getWeRunData() {
  platform.weRunCalls++;
  if (platform.weRunFailure) throw { errMsg: `getWeRunData:fail ${platform.weRunFailure}` };
  try {
    const { encryptedData, iv } = await werunPayload(platform.serverUrl, platform.user, platform.weRunDays);
    return { encryptedData, iv, errMsg: 'getWeRunData:ok' };
  } catch (error) {
    throw { errMsg: `getWeRunData:fail ${(error as Error).message}` };
  }
}

async function login(_options?: { timeout?: number }) {
  platform.loginCalls++;
  if (platform.loginGate) await platform.loginGate.promise;
  if (platform.loginFailure) throw { errMsg: `login:fail ${platform.loginFailure}` };
  const response = await fetch(`${platform.serverUrl}/__wechat/dev/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: platform.user }),
  });
  const { code } = (await response.json()) as { code: string };
  return { code, errMsg: 'login:ok' };
}

async function checkSession() {
  platform.checkSessionCalls++;
  if (!platform.checkSessionValid) throw { errMsg: 'checkSession:fail session time out' };
  return { errMsg: 'checkSession:ok' };
}

/** What `import Taro from '@tarojs/taro'` gives the code under test. */
export const fakeTaro = {
  request,
  uploadFile,
  getWeRunData,
  login,
  checkSession,
  getStorageSync: (key: string) => (platform.storage.has(key) ? structuredClone(platform.storage.get(key)) : ''),
  setStorageSync: (key: string, value: unknown) => void platform.storage.set(key, structuredClone(value)),
  removeStorageSync: (key: string) => void platform.storage.delete(key),
  showToast: async (options: unknown) => void platform.toasts.push(options),
};

export const taroModule = { default: fakeTaro, ...fakeTaro };
