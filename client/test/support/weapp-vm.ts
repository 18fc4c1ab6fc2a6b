/**
 * Runs the built mini-program (client/dist/weapp) the way WeChat does, in a `node:vm` context that has only
 * ECMAScript built-ins, timers and console, plus the mini-program globals (App, Page, Component, getApp,
 * getCurrentPages) as recorders and a `wx` whose login mints simulator codes and whose request does real HTTP.
 * Anything else the bundle reaches for (fetch, AbortController, process, URL, TextEncoder…) is a ReferenceError
 * here, as it would be on a phone.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import vm from 'node:vm';

export interface WxRequestRecord {
  method: string;
  url: string;
  path: string;
  authorization: string | undefined;
}

export interface MiniProgram {
  wx: Record<string, unknown>;
  requests: WxRequestRecord[];
  logins: number;
  checkSessions: number;
  storage: Map<string, unknown>;
  toasts: unknown[];
  errors: unknown[];
  /** What App() and Page() were given. */
  appConfig: Record<string, unknown> | undefined;
  pageConfigs: Map<string, Record<string, unknown>>;
  launch(): void;
  show(): void;
  loadPage(route: string): PageInstance;
}

export interface PageInstance {
  route: string;
  data: Record<string, unknown>;
  setDataCalls: number;
  /** Every string shown on the page (the text nodes of Taro's rendered tree). */
  texts(): string[];
  /** Calls the handler Taro bound for an element's event (like a tap in the view layer). */
  trigger(elementId: string, event: string, detail?: Record<string, unknown>): void;
}

interface Options {
  distDir: string;
  /** The API base baked into the bundle (TARO_APP_API_URL); requests to it go to `serverUrl`. */
  builtApiUrl: string;
  serverUrl: string;
  user: string;
}

/** Applies `setData({'root.cn.[0].v': 'x'})`-style paths to a plain object, as the view layer does. */
function applyPath(target: Record<string, unknown>, path: string, value: unknown) {
  const keys = path
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((k) => k !== '');
  let node: Record<string, unknown> = target;
  keys.forEach((key, i) => {
    if (i === keys.length - 1) {
      node[key] = value;
      return;
    }
    const nextIsIndex = /^\d+$/.test(keys[i + 1]!);
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = nextIsIndex ? [] : {};
    node = node[key] as Record<string, unknown>;
  });
}

function collectTexts(node: unknown, out: string[]) {
  if (Array.isArray(node)) node.forEach((n) => collectTexts(n, out));
  else if (node && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    if (typeof record.v === 'string') out.push(record.v);
    for (const [key, value] of Object.entries(record)) if (key !== 'v') collectTexts(value, out);
  }
}

function findById(node: unknown, id: string): Record<string, unknown> | undefined {
  if (Array.isArray(node)) {
    for (const n of node) {
      const found = findById(n, id);
      if (found) return found;
    }
  } else if (node && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    if (record.uid === id || record.id === id) return record;
    for (const value of Object.values(record)) {
      const found = findById(value, id);
      if (found) return found;
    }
  }
  return undefined;
}

export function createMiniProgram(options: Options): MiniProgram {
  const { distDir } = options;
  const requests: WxRequestRecord[] = [];
  const storage = new Map<string, unknown>();
  const toasts: unknown[] = [];
  const errors: unknown[] = [];
  const pageConfigs = new Map<string, Record<string, unknown>>();
  const pages: PageInstance[] = [];
  let appConfig: Record<string, unknown> | undefined;
  let currentFile = '';
  const counters = { logins: 0, checkSessions: 0 };

  type Callbacks = { success?: (res: unknown) => void; fail?: (err: unknown) => void; complete?: (res: unknown) => void };
  const settle = (o: Callbacks, ok: boolean, res: unknown) => {
    try {
      if (ok) o.success?.(res);
      else o.fail?.(res);
    } finally {
      o.complete?.(res);
    }
  };

  const wx = {
    request(o: Callbacks & { url: string; method?: string; header?: Record<string, string>; data?: unknown; dataType?: string }) {
      const controller = new AbortController();
      if (!o.url.startsWith(options.builtApiUrl)) {
        setTimeout(() => settle(o, false, { errMsg: `request:fail url not in domain list: ${o.url}` }));
        return { abort() {} };
      }
      const target = options.serverUrl + o.url.slice(options.builtApiUrl.length);
      const header = o.header ?? {};
      const url = new URL(target);
      requests.push({
        method: o.method ?? 'GET',
        url: target,
        path: decodeURIComponent(url.pathname.replace(/^\/trpc\//, '')),
        authorization: Object.entries(header).find(([k]) => k.toLowerCase() === 'authorization')?.[1],
      });
      const body = o.data === undefined ? undefined : typeof o.data === 'string' ? o.data : JSON.stringify(o.data);
      fetch(target, { method: o.method ?? 'GET', headers: header, ...(body !== undefined ? { body } : {}), signal: controller.signal })
        .then(async (response) => {
          const text = await response.text();
          const headers: Record<string, string> = {};
          response.headers.forEach((value, key) => (headers[key] = value));
          let data: unknown = text;
          if (o.dataType === 'json' || o.dataType === undefined) {
            try {
              data = JSON.parse(text);
            } catch {
              data = text;
            }
          }
          settle(o, true, { statusCode: response.status, header: headers, data, errMsg: 'request:ok' });
        })
        .catch((error: Error) => settle(o, false, { errMsg: controller.signal.aborted ? 'request:fail abort' : `request:fail ${error.message}` }));
      return { abort: () => controller.abort() };
    },
    login(o: Callbacks) {
      counters.logins++;
      fetch(`${options.serverUrl}/__wechat/dev/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: options.user }),
      })
        .then((r) => r.json() as Promise<{ code: string }>)
        .then(({ code }) => settle(o, true, { code, errMsg: 'login:ok' }))
        .catch((error: Error) => settle(o, false, { errMsg: `login:fail ${error.message}` }));
    },
    checkSession(o: Callbacks) {
      counters.checkSessions++;
      setTimeout(() => settle(o, true, { errMsg: 'checkSession:ok' }));
    },
    getStorageSync: (key: string) => (storage.has(key) ? structuredClone(storage.get(key)) : ''),
    setStorageSync: (key: string, value: unknown) => void storage.set(key, structuredClone(value)),
    removeStorageSync: (key: string) => void storage.delete(key),
    showToast(o: Callbacks & { title: string }) {
      toasts.push({ title: o.title });
      setTimeout(() => settle(o, true, { errMsg: 'showToast:ok' }));
    },
    getSystemInfoSync: () => ({ platform: 'devtools', windowWidth: 375, windowHeight: 667, pixelRatio: 2, SDKVersion: '3.4.0' }),
  };

  const sandbox: Record<string, unknown> = {
    console,
    setTimeout,
    clearTimeout,
    setInterval,
    clearInterval,
    wx,
    App(config: Record<string, unknown>) {
      appConfig = config;
    },
    Page(config: Record<string, unknown>) {
      pageConfigs.set(currentFile.replace(/\.js$/, ''), config);
    },
    Component(config: Record<string, unknown>) {
      void config;
    },
    getApp: () => appConfig,
    getCurrentPages: () => pages,
  };
  const context = vm.createContext(sandbox, { name: 'weapp' });

  const modules = new Map<string, { exports: unknown }>();
  function requireFile(file: string): unknown {
    const rel = normalize(file.endsWith('.js') ? file : `${file}.js`);
    const cached = modules.get(rel);
    if (cached) return cached.exports;
    const module = { exports: {} as unknown };
    modules.set(rel, module);
    const code = readFileSync(join(distDir, rel), 'utf8');
    const fn = vm.runInContext(`(function (require, module, exports) {${code}\n})`, context, { filename: join(distDir, rel) }) as (
      r: (p: string) => unknown,
      m: { exports: unknown },
      e: unknown,
    ) => void;
    const previous = currentFile;
    currentFile = rel;
    try {
      fn((p) => requireFile(join(dirname(rel), p)), module, module.exports);
    } finally {
      currentFile = previous;
    }
    return module.exports;
  }

  const program: MiniProgram = {
    wx,
    requests,
    storage,
    toasts,
    errors,
    get logins() {
      return counters.logins;
    },
    get checkSessions() {
      return counters.checkSessions;
    },
    get appConfig() {
      return appConfig;
    },
    pageConfigs,
    launch() {
      requireFile('app.js');
      if (!appConfig) throw new Error('app.js did not call App()');
      const launchOptions = { path: 'pages/index/index', query: {}, scene: 1001 };
      (appConfig.onLaunch as ((o: unknown) => void) | undefined)?.call(appConfig, launchOptions);
      program.show();
    },
    show() {
      (appConfig?.onShow as ((o: unknown) => void) | undefined)?.call(appConfig, { path: 'pages/index/index', query: {}, scene: 1001 });
    },
    loadPage(route) {
      requireFile(`${route}.js`);
      const config = pageConfigs.get(route);
      if (!config) throw new Error(`${route}.js did not call Page()`);
      let setDataCalls = 0;
      const instance = Object.create(config) as Record<string, unknown>;
      const data = structuredClone((config.data as Record<string, unknown> | undefined) ?? {});
      Object.assign(instance, {
        route,
        __route__: route,
        data,
        setData(patch: Record<string, unknown>, callback?: () => void) {
          setDataCalls++;
          for (const [path, value] of Object.entries(patch)) applyPath(data, path, structuredClone(value));
          if (callback) setTimeout(callback);
        },
      });
      const page: PageInstance = {
        route,
        data,
        get setDataCalls() {
          return setDataCalls;
        },
        texts() {
          const out: string[] = [];
          collectTexts(data, out);
          return out;
        },
        trigger(elementId, event, detail = {}) {
          const node = findById(data, elementId);
          if (!node) throw new Error(`no element with id ${elementId} on the page`);
          const handler = (instance as Record<string, unknown>).eh as ((e: unknown) => void) | undefined;
          if (!handler) throw new Error('the page has no event handler (eh)');
          handler.call(instance, {
            type: event,
            timeStamp: Date.now(),
            detail,
            target: { id: elementId, dataset: {} },
            currentTarget: { id: elementId, dataset: { sid: node.sid ?? elementId } },
            mpEvent: undefined,
          });
        },
      };
      pages.push(page);
      const call = (name: string, ...args: unknown[]) => (instance[name] as ((...a: unknown[]) => void) | undefined)?.call(instance, ...args);
      call('onLoad', {});
      call('onShow');
      call('onReady');
      return page;
    },
  };
  return program;
}
