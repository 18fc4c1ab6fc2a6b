import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ErrorReason } from '@wxkit/shared';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { AppError } from '../trpc/app-error.ts';
import { INPUT_AS_JSON, INTERNAL_ERROR_MESSAGE } from '../trpc/format-error.ts';

type TRPCCodeKey = keyof typeof TRPC_ERROR_CODES_BY_KEY;

/**
 * A tRPC error envelope for answers given before tRPC runs (body too large, rate limit, unsupported media type).
 * One object, not an array, even for `?batch=1`: the tRPC client applies a non-array error to every call of the batch.
 */
export function trpcErrorBody(input: { code: TRPCCodeKey; httpStatus: number; reason: ErrorReason; message: string; path?: string }) {
  return {
    error: {
      message: input.message,
      code: TRPC_ERROR_CODES_BY_KEY[input.code],
      data: { code: input.code, httpStatus: input.httpStatus, path: input.path, reason: input.reason },
    },
  };
}

/** The procedure names of a tRPC request (`/trpc/login,getProfile` → ['login', 'getProfile']), as the adapter reads them. */
export function trpcProcedures(request: FastifyRequest): string[] | undefined {
  if (request.routeOptions.url !== '/trpc/:path') return undefined;
  const path = (request.params as { path?: unknown } | undefined)?.path;
  if (typeof path !== 'string') return undefined;
  // Decoded once more: tRPC's resolveResponse decodes the (already decoded) param again, so `log%2569n` reaches login.
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // not valid percent-encoding: the handler will refuse it too
  }
  return decoded === path ? path.split(',') : [...path.split(','), ...decoded.split(',')];
}

/**
 * Answers one of our typed errors outside tRPC (the login rate limit, the media routes) in tRPC's envelope: its HTTP
 * status, its `reason`, Retry-After when it has one, and the procedure's path when the request named exactly one.
 */
export function sendAppError(request: FastifyRequest, reply: FastifyReply, error: AppError): FastifyReply {
  const httpStatus = getHTTPStatusCodeFromError(error);
  const procedures = trpcProcedures(request);
  if (error.retryAfterSeconds !== undefined) void reply.header('retry-after', String(error.retryAfterSeconds));
  return reply
    .code(httpStatus)
    .send(trpcErrorBody({ code: error.code, httpStatus, reason: error.reason, message: error.message, ...(procedures?.length === 1 ? { path: procedures[0] } : {}) }));
}

const BODY_LIMIT_TEXT = (limit: number) => `${Math.round(limit / 1024)} KiB`;

/**
 * Errors Fastify raises before the tRPC handler runs (body over `bodyLimit`, unknown content type, unreadable body)
 * get a tRPC envelope on `/trpc/*`, so clients see `error.data.reason` and a message saying what to do.
 */
export const httpErrorsPlugin = fp(
  async (app: FastifyInstance) => {
    // `/trpc`, `/trpc/` and `/trpc/a/b` name no procedure: answer like tRPC's own 404 rather than Fastify's.
    const noProcedure = async (request: FastifyRequest, reply: FastifyReply) => {
      // A procedure list over the router's maxParamLength lands here too (the wildcard catches what the param refused).
      const segment = request.url.split('?')[0]?.slice('/trpc/'.length) ?? '';
      if (segment.length > MAX_PARAM_LENGTH && !segment.includes('/')) return reply.code(414).send(tooLongBody());
      return reply.code(404).send(
        trpcErrorBody({
          code: 'NOT_FOUND',
          httpStatus: 404,
          reason: 'invalid_input',
          message: `No procedure in ${request.method} ${request.url.split('?')[0]?.slice(0, 80)}: call /trpc/<procedure> (e.g. POST /trpc/login); the procedures are listed at GET /openapi.json.`,
        }),
      );
    };
    app.all('/trpc', noProcedure);
    app.all('/trpc/*', noProcedure);

    app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      // Our typed errors raised outside tRPC (the login rate limit's database): same envelope.
      if (error instanceof AppError) return sendAppError(request, reply, error);
      const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
      if (status >= 500) {
        request.log.error({ err: error }, 'request failed before reaching a route');
        return reply.code(500).send(
          trpcErrorBody({
            code: 'INTERNAL_SERVER_ERROR',
            httpStatus: 500,
            reason: 'internal',
            message: INTERNAL_ERROR_MESSAGE,
          }),
        );
      }
      const procedures = trpcProcedures(request);
      if (!procedures) {
        // Not tRPC (the simulator, /healthz): Fastify's usual error shape.
        return reply.code(status).send({ statusCode: status, error: STATUS_CODES[status], message: error.message });
      }
      const path = procedures.length === 1 ? procedures[0] : undefined;
      if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        return reply.code(413).send(
          trpcErrorBody({
            code: 'PAYLOAD_TOO_LARGE',
            httpStatus: 413,
            reason: 'invalid_input',
            message: `Request body is larger than ${BODY_LIMIT_TEXT(app.initialConfig.bodyLimit ?? 1048576)}: procedure inputs are small JSON objects; send only the input (e.g. {"code":"…"}), not files or images.`,
            ...(path ? { path } : {}),
          }),
        );
      }
      if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
        return reply.code(415).send(
          trpcErrorBody({
            code: 'UNSUPPORTED_MEDIA_TYPE',
            httpStatus: 415,
            reason: 'invalid_input',
            message: 'Unsupported Content-Type: send mutations as `content-type: application/json` with the JSON input as body.',
            ...(path ? { path } : {}),
          }),
        );
      }
      return reply.code(status).send(
        trpcErrorBody({
          code: status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST',
          httpStatus: status,
          reason: 'invalid_input',
          message: `${error.message}: send ${INPUT_AS_JSON}.`,
          ...(path ? { path } : {}),
        }),
      );
    });
  },
  { name: 'http-errors' },
);

/**
 * Fastify's router errors (a path param over `maxParamLength`, broken percent-encoding): a tRPC envelope that says
 * what to do, without echoing the URL back.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  request.log.info({ code: error.code }, 'URL refused by the router');
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    void reply.code(414).send(tooLongBody());
    return;
  }
  void reply.code(400).send(
    trpcErrorBody({
      code: 'BAD_REQUEST',
      httpStatus: 400,
      reason: 'invalid_input',
      message: 'The URL is not valid percent-encoding: encode the procedure names and ?input= with encodeURIComponent.',
    }),
  );
}

/** The router's maxParamLength (set in app.ts): batched procedure lists longer than it are refused. */
export const MAX_PARAM_LENGTH = 5000;

function tooLongBody() {
  return trpcErrorBody({
    code: 'BAD_REQUEST',
    httpStatus: 414,
    reason: 'invalid_input',
    message: `The URL path is too long (over ${MAX_PARAM_LENGTH} characters): send fewer calls per batch (httpBatchLink maxURLLength / maxItems).`,
  });
}

/**
 * Replaces Fastify's client-error handler (malformed HTTP, headers over Node's 16 KiB `maxHeaderSize`): same status
 * codes, but the body says what to do. These requests never reach a route, so there is no procedure to name.
 */
export function clientErrorHandler(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  let status: number;
  let message: string;
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408;
    message = 'The request took too long to arrive: send it again.';
  } else if (error.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    message = 'Request headers are larger than 16 KiB: a token from login is a few hundred bytes; send only `Authorization: Bearer <token>` and the usual headers.';
  } else {
    status = 400;
    message = 'Malformed HTTP request: send a well-formed HTTP/1.1 request.';
  }
  this.log.debug({ code: error.code, status }, 'client error before routing');
  const body = JSON.stringify(
    trpcErrorBody({ code: status === 408 ? 'TIMEOUT' : 'BAD_REQUEST', httpStatus: status, reason: 'invalid_input', message }),
  );
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
