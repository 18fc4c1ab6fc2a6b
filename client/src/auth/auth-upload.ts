import Taro from '@tarojs/taro';
import { TRPCClientError } from '@trpc/client';
import type { AppRouter } from '@wxkit/server';
import type { AuthSession } from './auth-session.ts';
import { isSessionFailure, platformErrorDetail, toApiError, type ApiError } from './errors.ts';
import { abortError } from './flight.ts';

/** The JSON-RPC codes tRPC gives its error shapes, so an upload error looks exactly like a procedure's. */
const jsonRpcCodes: Record<string, number> = {
  BAD_REQUEST: -32600,
  UNAUTHORIZED: -32001,
  FORBIDDEN: -32003,
  NOT_FOUND: -32004,
  PAYLOAD_TOO_LARGE: -32013,
  UNSUPPORTED_MEDIA_TYPE: -32015,
  TOO_MANY_REQUESTS: -32029,
  SERVICE_UNAVAILABLE: -32603,
  INTERNAL_SERVER_ERROR: -32603,
};

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
  const shape = { message, code: jsonRpcCodes[data.code] ?? -32603, data };
  // Turned into the same class with the same fields as a tRPC call's error: `reasonOf`, `data.code` and the
  // messages work unchanged.
  return TRPCClientError.from<AppRouter>({ error: { message, code: jsonRpcCodes[data.code] ?? -32603, data } });
}

/** A request that never reached an answer the API would give (offline, timeout, a proxy's page, a server too old). */
class UploadNetworkError extends Error {
  override readonly name = 'NetworkError';
}

export interface UploadOptions {
  signal?: AbortSignal;
}

export interface AuthUpload {
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
            return reject(new UploadNetworkError(`POST ${url} answered HTTP ${status} with a body that is not JSON (${body.slice(0, 80)}…): check TARO_APP_API_URL points at the wxkit server.`));
          }
          if (status >= 200 && status < 300) {
            try {
              resolve(parse(json));
            } catch (error) {
              reject(new UploadNetworkError(`POST ${url} answered something unexpected (${(error as Error).message}): the server may be another version; update the app or the server.`));
            }
            return;
          }
          if (isErrorEnvelope(json)) return reject(envelopeError(json));
          reject(new UploadNetworkError(`POST ${url} answered HTTP ${status} without an API error body: check TARO_APP_API_URL points at the wxkit server.`));
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          if (signal.aborted) return reject(abortError());
          reject(new UploadNetworkError(`POST ${url} failed before any answer (${platformErrorDetail(error)}): check the network, and that the server is reachable (on weapp: its domain is in the uploadFile whitelist).`));
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
