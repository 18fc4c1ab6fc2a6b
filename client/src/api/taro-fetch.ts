import Taro from '@tarojs/taro';
import { platformErrorDetail } from '../auth/errors.ts';
import { abortError } from '../auth/flight.ts';

/** The subset of `fetch`'s Response that tRPC's httpBatchLink reads. */
export interface TaroResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  readonly headers: { get(name: string): string | null; has(name: string): boolean };
  text(): Promise<string>;
  json(): Promise<unknown>;
}

/** What httpBatchLink passes: a method, plain headers, a string body, a signal. */
export interface TaroFetchInit {
  method?: string;
  headers?: unknown;
  body?: unknown;
  signal?: AbortSignal | null;
}

/** A request that never reached an HTTP answer (offline, DNS, TLS, timeout, domain not whitelisted). */
export class NetworkError extends Error {
  override readonly name = 'NetworkError';
}

function headerMap(header: unknown) {
  const map = new Map<string, string>();
  if (header && typeof header === 'object') {
    for (const [key, value] of Object.entries(header as Record<string, unknown>)) {
      map.set(key.toLowerCase(), Array.isArray(value) ? value.join(', ') : String(value));
    }
  }
  return {
    get: (name: string) => map.get(name.toLowerCase()) ?? null,
    has: (name: string) => map.has(name.toLowerCase()),
  };
}

function plainHeaders(headers: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers || typeof headers !== 'object') return out;
  if (Array.isArray(headers)) {
    for (const [key, value] of headers as [string, string][]) out[key] = value;
  } else if (typeof (headers as { forEach?: unknown }).forEach === 'function') {
    (headers as { forEach(cb: (value: string, key: string) => void): void }).forEach((value, key) => (out[key] = value));
  } else {
    for (const [key, value] of Object.entries(headers as Record<string, unknown>)) out[key] = String(value);
  }
  return out;
}

/**
 * A fetch-shaped function over Taro.request (wx.request on weapp), for tRPC's httpBatchLink. The body is taken
 * as text and parsed here, so a non-JSON answer (a proxy's error page) becomes a clear error instead of a
 * silently null `data`. Aborting the signal aborts the underlying request task.
 */
export function taroFetch(url: unknown, init: TaroFetchInit = {}): Promise<TaroResponse> {
  const signal = init.signal ?? undefined;
  return new Promise<TaroResponse>((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const method = (init.method ?? 'GET').toUpperCase() as keyof Taro.request.Method;
    const target = String(url);
    const task = Taro.request<string>({
      url: target,
      method,
      header: plainHeaders(init.headers),
      // Sent as given: tRPC already serialised the input to JSON.
      ...(init.body === undefined || init.body === null ? {} : { data: init.body as string }),
      dataType: 'text',
      responseType: 'text',
    });
    const onAbort = () => {
      task.abort?.();
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    task.then(
      (res) => {
        signal?.removeEventListener('abort', onAbort);
        const status = Number(res.statusCode);
        const body = typeof res.data === 'string' ? res.data : JSON.stringify(res.data ?? null);
        resolve({
          ok: status >= 200 && status < 300,
          status,
          statusText: String(status),
          headers: headerMap(res.header),
          text: () => Promise.resolve(body),
          json: () =>
            new Promise((ok, ko) => {
              try {
                ok(JSON.parse(body));
              } catch {
                ko(new NetworkError(`${method} ${target} answered HTTP ${status} with a body that is not JSON (${body.slice(0, 80)}…): check TARO_APP_API_URL points at the wxkit server.`));
              }
            }),
        });
      },
      (error: unknown) => {
        signal?.removeEventListener('abort', onAbort);
        if (signal?.aborted) return reject(abortError());
        reject(new NetworkError(`${method} ${target} failed before any answer (${platformErrorDetail(error)}): check the network, and that the server is reachable (on weapp: its domain is in the request whitelist).`));
      },
    );
  });
}
