import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { findLeaks, mintCode, SIMULATOR_SECRET } from '../support/server.ts';

/** Known to the tests so they can forge tokens with it; scanned for like any other secret. */
export const JWT_SECRET = 'hardening-jwt-secret-0123456789-abcdefghijklmnop';

/** Most suites log in far more than the default 30 a minute from 127.0.0.1; the rate-limit suite sets its own. */
export const hardeningEnv = (extra: Record<string, string> = {}) => ({ JWT_SECRET, LOGIN_RATE_LIMIT_PER_MINUTE: '100000', ...extra });

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  json: unknown;
}

export async function toRaw(response: Response): Promise<RawResponse> {
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** A tRPC call over plain HTTP, without the client: tests control every byte of the envelope. */
export async function trpcGet(url: string, path: string, options: { input?: unknown; query?: string; headers?: Record<string, string> } = {}) {
  const query = options.query ?? (options.input === undefined ? '' : `input=${encodeURIComponent(JSON.stringify(options.input))}`);
  return toRaw(await fetch(`${url}/trpc/${path}${query ? `?${query}` : ''}`, { headers: options.headers ?? {} }));
}

export async function trpcPost(url: string, path: string, options: { body?: string; query?: string; headers?: Record<string, string> } = {}) {
  return toRaw(
    await fetch(`${url}/trpc/${path}${options.query ? `?${options.query}` : ''}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...options.headers },
      ...(options.body !== undefined ? { body: options.body } : {}),
    }),
  );
}

export async function loginRaw(url: string, user: string, headers: Record<string, string> = {}) {
  return trpcPost(url, 'login', { body: JSON.stringify({ code: await mintCode(url, user) }), headers });
}

/** `error` of a tRPC error envelope (single call or the first of a batch). */
export function envelopeError(body: unknown): { message: string; data: { code: string; httpStatus: number; reason?: string } } | undefined {
  const first = Array.isArray(body) ? body[0] : body;
  const error = (first as { error?: unknown } | undefined)?.error;
  return error as ReturnType<typeof envelopeError>;
}

/**
 * Counts calls into the store methods only procedure bodies use (updateProfile → updateProfile, logout →
 * revokeSession; `profile` for any other reader of profiles). Authentication uses none of them, so a request rejected
 * by the auth middleware leaves the count at zero. getProfile's body reads nothing: its profile comes with the
 * session check (profileProcedure), so only its 401 shows it was refused. Tests pair it with a positive control, so a
 * refactor that bypasses these methods fails loudly rather than making the check vacuous.
 */
export function countProcedureCalls(app: FastifyInstance) {
  const store = app.store as unknown as Record<string, (...args: unknown[]) => unknown>;
  let calls = 0;
  for (const name of ['profile', 'updateProfile', 'revokeSession']) {
    const original = store[name];
    if (typeof original !== 'function') throw new Error(`store.${name} is gone: update countProcedureCalls`);
    store[name] = (...args: unknown[]) => {
      calls++;
      return original.apply(store, args);
    };
  }
  return {
    get calls() {
      return calls;
    },
    reset() {
      calls = 0;
    },
  };
}

/** Fails when any app response body or log line of this worker holds an issued openid/unionid/session_key or a secret. */
export function expectNoLeaks(extra: string[] = []) {
  const leaks = findLeaks([SIMULATOR_SECRET, JWT_SECRET, ...extra]);
  expect(leaks.map((text) => text.slice(0, 300))).toEqual([]);
}

/**
 * Sends raw bytes (for requests fetch will not send: 1 MB headers, broken HTTP) in chunks, stops writing as soon as
 * the server answers, and resolves with everything read until the server closes.
 */
export function rawHttp(url: string, head: string, options: { chunkSize?: number } = {}): Promise<string> {
  const { hostname, port } = new URL(url);
  const chunkSize = options.chunkSize ?? 16 * 1024;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    let received = '';
    let answered = false;
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => {
      received += data;
      answered = true;
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // The server closes as soon as it has answered; a reset after its answer is expected.
      if (answered) resolve(received);
      else reject(error);
    });
    socket.on('close', () => resolve(received));
    socket.on('connect', async () => {
      const bytes = Buffer.from(head, 'latin1');
      for (let offset = 0; offset < bytes.length && !answered && !socket.destroyed; offset += chunkSize) {
        const ok = socket.write(bytes.subarray(offset, offset + chunkSize));
        if (!ok) {
          await new Promise((r) => {
            socket.once('drain', r);
            socket.once('close', r);
          });
        }
        await new Promise((r) => setTimeout(r, 1));
      }
      if (!socket.destroyed) socket.end();
    });
  });
}
