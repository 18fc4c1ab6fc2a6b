/**
 * Runs the built mini-program (client/dist/weapp) the way WeChat does, in a `node:vm` context that has only
 * ECMAScript built-ins, timers and console, plus the mini-program globals (App, Page, Component, getApp,
 * getCurrentPages) as recorders and a `wx` whose login mints simulator codes, whose request and uploadFile do real
 * HTTP (uploadFile as multipart/form-data, from files the test puts in `tempFiles`), whose getWeRunData asks the
 * simulator for data encrypted with the user's latest session_key, and whose navigateTo/redirectTo/reLaunch/
 * navigateBack load and unload pages on a stack. Anything else the bundle reaches for (fetch, AbortController,
 * process, URL, TextEncoder…) is a ReferenceError here, as it would be on a phone.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import vm from 'node:vm';
import { werunPayload } from '../../../server/test/support/wechat-sim.ts';

export interface WxRequestRecord {
  method: string;
  url: string;
  path: string;
  authorization: string | undefined;
  /** `request` or `uploadFile`. */
  api: 'request' | 'uploadFile';
  /** The HTTP status answered (set when the answer arrived). */
  status?: number;
}

export interface MiniProgram {
  wx: Record<string, unknown>;
  requests: WxRequestRecord[];
  logins: number;
  checkSessions: number;
  storage: Map<string, unknown>;
  toasts: unknown[];
  errors: unknown[];
  /** Files the mini-program may upload, by temp path (what chooseAvatar hands over). */
  tempFiles: Map<string, { bytes: Uint8Array<ArrayBuffer>; type: string }>;
  /** What wx.getWeRunData reads (the simulator encrypts them with the user's latest session_key). */
  weRunDays: Array<{ date: string; steps: number }>;
  weRunCalls: number;
  /** Every navigation the app asked for (`navigateTo /pages/account/index`…). */
  navigations: string[];
  /** What App() and Page() were given. */
  appConfig: Record<string, unknown> | undefined;
  pageConfigs: Map<string, Record<string, unknown>>;
  launch(): void;
  show(): void;
  loadPage(route: string, query?: Record<string, string>): PageInstance;
  /** The page on top of the stack. */
  currentPage(): PageInstance | undefined;
}

export interface PageInstance {
  route: string;
  data: Record<string, unknown>;
  setDataCalls: number;
  /** Every string shown on the page (the text nodes of Taro's rendered tree). */
  texts(): string[];
  /** Calls the handler Taro bound for an element's event (like a tap in the view layer). */
  trigger(elementId: string, event: string, detail?: Record<string, unknown>): void;
  /** An attribute of an element as the view layer would get it (`src` of an image…), undefined when absent. */
  attribute(elementId: string, name: string): unknown;
  /** Whether an element with this id is on the page. */
  has(elementId: string): boolean;
  unloaded: boolean;
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

/**
 * Taro stores an element's attributes under short aliases (`src` of an image is `p4`); base.wxml, the bundle's own
 * templates, says which: `<image src="{{i.p4}}" …>` in `<template name="tmpl_0_4">`. Node name → attribute → key.
 */
function attributeAliases(distDir: string): Map<string, Map<string, string>> {
  const aliases = new Map<string, Map<string, string>>();
  const wxml = readFileSync(join(distDir, 'base.wxml'), 'utf8');
  const camel = (name: string) => name.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
  // `tmpl_0_33` may only dispatch to `tmpl_0_33_focus` / `_blur`, whose element holds the attributes.
  for (const match of wxml.matchAll(/<template name="tmpl_\d+_(\w+?)(?:_focus|_blur)?">\s*<([\w-]+) ([^>]*)>/g)) {
    if (match[2] === 'template') continue;
    const attributes = aliases.get(match[1]!) ?? new Map<string, string>();
    for (const attr of match[3]!.matchAll(/([\w-]+)="\{\{(?:[\w.]+\()?i\.(\w+)/g)) if (!attributes.has(camel(attr[1]!))) attributes.set(camel(attr[1]!), attr[2]!);
    aliases.set(match[1]!, attributes);
  }
  return aliases;
}

export function createMiniProgram(options: Options): MiniProgram {
  const { distDir } = options;
  const requests: WxRequestRecord[] = [];
  const storage = new Map<string, unknown>();
  const toasts: unknown[] = [];
  const errors: unknown[] = [];
  const pageConfigs = new Map<string, Record<string, unknown>>();
  const pages: PageInstance[] = [];
  const instances = new Map<PageInstance, Record<string, unknown>>();
  const navigations: string[] = [];
  const tempFiles = new Map<string, { bytes: Uint8Array<ArrayBuffer>; type: string }>();
  let appConfig: Record<string, unknown> | undefined;
  let aliases: Map<string, Map<string, string>> | undefined;
  let currentFile = '';
  const counters = { logins: 0, checkSessions: 0, weRunCalls: 0 };
  const settings = { weRunDays: [] as Array<{ date: string; steps: number }> };

  /** The request URL as the bundle built it (TARO_APP_API_URL) mapped to the test server, or undefined if foreign. */
  const serverUrlFor = (url: string) => (url.startsWith(options.builtApiUrl) ? options.serverUrl + url.slice(options.builtApiUrl.length) : undefined);
  const record = (api: WxRequestRecord['api'], method: string, target: string, header: Record<string, string>): WxRequestRecord => {
    const entry: WxRequestRecord = {
      api,
      method,
      url: target,
      path: decodeURIComponent(new URL(target).pathname.replace(/^\/trpc\//, '')),
      authorization: Object.entries(header).find(([k]) => k.toLowerCase() === 'authorization')?.[1],
    };
    requests.push(entry);
    return entry;
  };
  const routeOf = (url: string) => {
    const [path = '', query = ''] = url.replace(/^\//, '').split('?');
    return { route: path, query: Object.fromEntries(new URLSearchParams(query)) };
  };
  const unload = (page: PageInstance) => {
    const instance = instances.get(page);
    (instance?.onUnload as (() => void) | undefined)?.call(instance);
    page.unloaded = true;
    pages.splice(pages.indexOf(page), 1);
  };
  const navigate = (kind: string, o: Callbacks & { url?: string; delta?: number }) => {
    navigations.push(`${kind} ${o.url ?? ''}`.trim());
    // Asynchronous, as in WeChat: the caller's code after navigateTo runs first.
    setTimeout(() => {
      try {
        if (kind === 'navigateBack') {
          for (let i = 0; i < (o.delta ?? 1) && pages.length > 1; i++) unload(pages[pages.length - 1]!);
          const top = pages[pages.length - 1];
          const instance = top && instances.get(top);
          (instance?.onShow as (() => void) | undefined)?.call(instance);
        } else {
          if (kind === 'redirectTo' && pages.length > 0) unload(pages[pages.length - 1]!);
          if (kind === 'reLaunch') while (pages.length > 0) unload(pages[pages.length - 1]!);
          const { route, query } = routeOf(o.url ?? '');
          program.loadPage(route, query);
        }
        settle(o, true, { errMsg: `${kind}:ok` });
      } catch (error) {
        errors.push(error);
        settle(o, false, { errMsg: `${kind}:fail ${(error as Error).message}` });
      }
    });
  };

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
      const target = serverUrlFor(o.url);
      if (!target) {
        setTimeout(() => settle(o, false, { errMsg: `request:fail url not in domain list: ${o.url}` }));
        return { abort() {} };
      }
      const header = o.header ?? {};
      const entry = record('request', o.method ?? 'GET', target, header);
      const body = o.data === undefined ? undefined : typeof o.data === 'string' ? o.data : JSON.stringify(o.data);
      fetch(target, { method: o.method ?? 'GET', headers: header, ...(body !== undefined ? { body } : {}), signal: controller.signal })
        .then(async (response) => {
          const text = await response.text();
          entry.status = response.status;
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
    /** WeChat's uploadFile: multipart/form-data with the file under `name`; `data` is the body as text. */
    uploadFile(o: Callbacks & { url: string; filePath: string; name: string; header?: Record<string, string>; formData?: Record<string, string> }) {
      const controller = new AbortController();
      const target = serverUrlFor(o.url);
      const file = tempFiles.get(o.filePath);
      if (!target || !file) {
        setTimeout(() => settle(o, false, { errMsg: `uploadFile:fail ${!target ? `url not in domain list: ${o.url}` : `file not found: ${o.filePath}`}` }));
        return { abort() {}, onProgressUpdate() {} };
      }
      // Content-Type comes from the multipart body; a caller's own content-type would break the boundary.
      const header = Object.fromEntries(Object.entries(o.header ?? {}).filter(([k]) => k.toLowerCase() !== 'content-type'));
      const entry = record('uploadFile', 'POST', target, header);
      const form = new FormData();
      for (const [key, value] of Object.entries(o.formData ?? {})) form.append(key, value);
      form.append(o.name, new Blob([file.bytes], { type: file.type }), o.filePath.split('/').pop() ?? 'file');
      fetch(target, { method: 'POST', headers: header, body: form, signal: controller.signal })
        .then(async (response) => {
          const text = await response.text();
          entry.status = response.status;
          settle(o, true, { statusCode: response.status, data: text, errMsg: 'uploadFile:ok' });
        })
        .catch((error: Error) => settle(o, false, { errMsg: controller.signal.aborted ? 'uploadFile:fail abort' : `uploadFile:fail ${error.message}` }));
      return { abort: () => controller.abort(), onProgressUpdate() {}, offProgressUpdate() {} };
    },
    /** WeRun data for the simulated user, encrypted by the simulator with that user's latest session_key. */
    getWeRunData(o: Callbacks) {
      counters.weRunCalls++;
      werunPayload(options.serverUrl, options.user, settings.weRunDays)
        .then(({ encryptedData, iv }) => settle(o, true, { encryptedData, iv, errMsg: 'getWeRunData:ok' }))
        .catch((error: Error) => settle(o, false, { errMsg: `getWeRunData:fail ${error.message}` }));
    },
    /** The user always taps confirm. */
    showModal(o: Callbacks) {
      setTimeout(() => settle(o, true, { confirm: true, cancel: false, errMsg: 'showModal:ok' }));
    },
    showLoading(o: Callbacks) {
      setTimeout(() => settle(o, true, { errMsg: 'showLoading:ok' }));
    },
    hideLoading(o: Callbacks = {}) {
      setTimeout(() => settle(o, true, { errMsg: 'hideLoading:ok' }));
    },
    navigateTo: (o: Callbacks & { url: string }) => navigate('navigateTo', o),
    redirectTo: (o: Callbacks & { url: string }) => navigate('redirectTo', o),
    reLaunch: (o: Callbacks & { url: string }) => navigate('reLaunch', o),
    navigateBack: (o: Callbacks & { delta?: number } = {}) => navigate('navigateBack', o),
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
    getCurrentPages: () => pages.map((page) => instances.get(page)),
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
    tempFiles,
    navigations,
    get weRunDays() {
      return settings.weRunDays;
    },
    set weRunDays(days) {
      settings.weRunDays = days;
    },
    get weRunCalls() {
      return counters.weRunCalls;
    },
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
    currentPage() {
      return pages[pages.length - 1];
    },
    loadPage(route, query = {}) {
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
        unloaded: false,
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
        attribute(elementId, name) {
          const node = findById(data, elementId);
          if (!node) return undefined;
          aliases ??= attributeAliases(distDir);
          const key = aliases.get(String(node.nn))?.get(name) ?? name;
          return node[key];
        },
        has(elementId) {
          return findById(data, elementId) !== undefined;
        },
      };
      pages.push(page);
      instances.set(page, instance);
      const call = (name: string, ...args: unknown[]) => (instance[name] as ((...a: unknown[]) => void) | undefined)?.call(instance, ...args);
      Object.assign(instance, { options: query });
      call('onLoad', query);
      call('onShow');
      call('onReady');
      return page;
    },
  };
  return program;
}
