import Taro from '@tarojs/taro';
import { platformErrorDetail } from './errors.ts';
import { abortError } from './flight.ts';

/** The errors a simulator request fails with, made by the caller (each module has its own error class and words). */
export interface SimulatorErrors {
  /** No answer at all (the server is down, a wrong URL): `detail` is what the platform said. */
  unreachable(url: string, detail: string): Error;
  /** HTTP 404: the server runs with real WeChat credentials, so it has no simulator. */
  notSimulator(): Error;
}

/**
 * H5 (simulator mode only): POSTs `body` as JSON to the server's WeChat simulator (`${apiUrl}/__wechat${path}`) and
 * answers its response, any status but 404. Aborting `signal` aborts the request. Never in the weapp bundle.
 */
export async function postToSimulator(
  apiUrl: string,
  path: string,
  body: Record<string, unknown>,
  signal: AbortSignal,
  errors: SimulatorErrors,
): Promise<Taro.request.SuccessCallbackResult<Record<string, unknown>>> {
  const url = `${apiUrl}/__wechat${path}`;
  if (signal.aborted) throw abortError();
  const task = Taro.request<Record<string, unknown>>({ url, method: 'POST', header: { 'content-type': 'application/json' }, data: body, dataType: 'json' });
  const onAbort = () => task.abort?.();
  signal.addEventListener('abort', onAbort, { once: true });
  let res: Taro.request.SuccessCallbackResult<Record<string, unknown>>;
  try {
    res = await task;
  } catch (error) {
    if (signal.aborted) throw abortError();
    throw errors.unreachable(url, platformErrorDetail(error));
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  if (res.statusCode === 404) throw errors.notSimulator();
  return res;
}
