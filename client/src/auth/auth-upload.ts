import Taro from '@tarojs/taro';
import { TRPCClientError } from '@trpc/client';
// At run time too: @trpc/client imports it itself, so the weapp bundle has it already.
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import type { AppRouter } from '@wxkit/server';
import { NetworkError } from '../api/taro-fetch.ts';
import type { AuthSession } from './auth-session.ts';
import { isSessionFailure, platformErrorDetail, toApiError, type ApiError } from './errors.ts';
import { abortError } from './flight.ts';

interface ErrorEnvelope {
  error: { message: string; data: { code: string; httpStatus: number; reason?: string } };
}

function isErrorEnvelope(value: unknown): value is ErrorEnvelope {
  const error = (value as Partial<ErrorEnvelope> | null)?.error;
  return typeof error?.message === 'string' && typeof error.data?.code === 'string';
}

/** The server's error envelope (`{ error: { message, data: { code, httpStatus, reason } } }`) as the client's error type. */
function envelopeError(envelope: ErrorEnvelope): ApiError {
  const { message, data } = envelope.error;
  // Turned into the same class with the same fields (and the JSON-RPC code tRPC gives the error's key) as a tRPC
  // call's error: `reasonOf`, `data.code` and the messages work unchanged.
  const code = (TRPC_ERROR_CODES_BY_KEY as Record<string, number>)[data.code] ?? TRPC_ERROR_CODES_BY_KEY.INTERNAL_SERVER_ERROR;
  return TRPCClientError.from<AppRouter>({ error: { message, code, data } });
}

export interface UploadOptions {
  signal?: AbortSignal;
}

interface AuthUpload {
  /**
   * Uploads a local file (a wx temp path, or a blob: URL on H5) as multipart/form-data field `file` to `path`, with
   * the session's token; parses the JSON answer with `parse` (which throws when it is not the expected shape).
   * A session failure logs in again and retries once, exactly as for a tRPC call; errors are ApiErrors with `reason`.
   */
  <T>(path: string, filePath: string, parse: (json: unknown) => T, options?: UploadOptions): Promise<T>;
}

/** Taro.uploadFile (wx.uploadFile) through the auth session: the token is injected, a session failure re-logs in once. */
export function createAuthUpload(deps: { session: AuthSession; apiUrl: string }): AuthUpload {
  const base = deps.apiUrl.replace(/\/+$/, '');

  function attempt<T>(url: string, filePath: string, token: string, parse: (json: unknown) => T, signal: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal.aborted) return reject(abortError());
      const task = Taro.uploadFile({ url, filePath, name: 'file', header: { authorization: `Bearer ${token}` } });
      const onAbort = () => {
        task.abort?.();
        reject(abortError());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      task.then(
        (res) => {
          signal.removeEventListener('abort', onAbort);
          const status = Number(res.statusCode);
          const body = typeof res.data === 'string' ? res.data : JSON.stringify(res.data ?? null);
          let json: unknown;
          try {
            json = JSON.parse(body);
          } catch {
            return reject(new NetworkError(`POST ${url} answered HTTP ${status} with a body that is not JSON (${body.slice(0, 80)}…): check TARO_APP_API_URL points at the wxkit server.`));
          }
          if (status >= 200 && status < 300) {
            try {
              resolve(parse(json));
            } catch (error) {
              reject(new NetworkError(`POST ${url} answered something unexpected (${(error as Error).message}): the server may be another version; update the app or the server.`));
            }
            return;
          }
          if (isErrorEnvelope(json)) return reject(envelopeError(json));
          reject(new NetworkError(`POST ${url} answered HTTP ${status} without an API error body: check TARO_APP_API_URL points at the wxkit server.`));
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          if (signal.aborted) return reject(abortError());
          reject(new NetworkError(`POST ${url} failed before any answer (${platformErrorDetail(error)}): check the network, and that the server is reachable (on weapp: its domain is in the uploadFile whitelist).`));
        },
      );
    });
  }

  return async function upload<T>(path: string, filePath: string, parse: (json: unknown) => T, options: UploadOptions = {}): Promise<T> {
    const url = `${base}${path}`;
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    if (options.signal?.aborted) throw toApiError(abortError());
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const token = await deps.session.ready(controller.signal);
      try {
        return await attempt(url, filePath, token, parse, controller.signal);
      } catch (error) {
        if (!isSessionFailure(error) || controller.signal.aborted) throw error;
        // The same rule as the auth link: one renewal (shared with every other call), one retry.
        const renewed = await deps.session.renew(token, controller.signal);
        return await attempt(url, filePath, renewed, parse, controller.signal);
      }
    } catch (error) {
      throw toApiError(error);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  };
}
