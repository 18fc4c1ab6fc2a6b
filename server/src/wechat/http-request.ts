import http from 'node:http';
import https from 'node:https';

/** A transport failure with a literal code to switch on; `detail` is safe to log (no URL, no query, no body). */
export class HttpRequestError extends Error {
  constructor(
    readonly code: 'timeout' | 'network' | 'too_large',
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`);
    this.name = 'HttpRequestError';
  }
}

export interface HttpAnswer {
  status: number;
  text: string;
}

export interface HttpRequester {
  get(url: URL, timeoutMs: number): Promise<HttpAnswer>;
  /** POSTs `body` as JSON (`content-type: application/json`). */
  postJson(url: URL, body: unknown, timeoutMs: number): Promise<HttpAnswer>;
  /** Closes kept-alive connections. */
  close(): void;
}

/** WeChat's answers are a few hundred bytes; anything past this is not an answer. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * GET and JSON POST over node:http(s) with keep-alive agents. Measured against `fetch` + `AbortSignal.timeout` on the
 * login path: less than half the CPU per call, and nothing is held for the full timeout once the answer is in.
 * URLs carry the AppSecret or the access_token, so no error raised here ever mentions the URL.
 */
export function createHttpRequester(): HttpRequester {
  const agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 128 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 128 }),
  };

  function send(url: URL, timeoutMs: number, method: 'GET' | 'POST', payload?: Buffer): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (error: HttpRequestError | undefined, value?: HttpAnswer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve(value as HttpAnswer);
      };
      const secure = url.protocol === 'https:';
      const headers: http.OutgoingHttpHeaders = payload
        ? { 'content-type': 'application/json', 'content-length': payload.length }
        : {};
      const request = (secure ? https : http).request(url, { method, headers, agent: secure ? agents.https : agents.http }, (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BODY_BYTES) {
            finish(new HttpRequestError('too_large', `answer longer than ${MAX_BODY_BYTES} bytes`));
            request.destroy();
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () => finish(undefined, { status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', (error: NodeJS.ErrnoException) => finish(new HttpRequestError('network', error.code ?? error.name)));
      });
      const timer = setTimeout(() => {
        finish(new HttpRequestError('timeout', `no answer within ${timeoutMs} ms`));
        request.destroy();
      }, timeoutMs);
      request.on('error', (error: NodeJS.ErrnoException) => finish(new HttpRequestError('network', error.code ?? error.name)));
      request.end(payload);
    });
  }

  return {
    get: (url, timeoutMs) => send(url, timeoutMs, 'GET'),
    postJson: (url, body, timeoutMs) => send(url, timeoutMs, 'POST', Buffer.from(JSON.stringify(body), 'utf8')),
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
