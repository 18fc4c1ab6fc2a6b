import {
  TRPCError,
  getErrorShape,
  getTRPCErrorFromUnknown,
  type AnyProcedure,
  type AnyRouter,
  type inferRouterContext,
} from '@trpc/server';
import { fastifyRequestHandler, type FastifyHandlerOptions } from '@trpc/server/adapters/fastify';
import { getHTTPStatusCode } from '@trpc/server/http';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';

/**
 * A Fastify-native tRPC handler for the requests an app actually sends: GET queries and POST JSON mutations, single
 * or batched, answered with plain JSON. It resolves procedures through the router's own table, calls them the way
 * tRPC's `resolveResponse` does (running each one's middleware list, made once at start, as tRPC's procedure caller
 * would), and formats errors with tRPC's `getErrorShape` / `getHTTPStatusCode`, so the wire bytes are the stock
 * adapter's. What it saves, per request: the web `Request`/`Headers`/`URL`/`Response` objects, three AbortControllers
 * and abort-signal plumbing, tRPC's per-level copies of the call options, and Fastify streaming a web `Response` back.
 * Optionally (`skipOutputValidation`) it leaves out the zod output check of procedures whose output cannot fail it.
 *
 * Anything outside that subset (HEAD and other methods, streaming `accept` / `trpc-accept`, multipart or octet
 * bodies, `connectionParams`, subscriptions, mixed batches, undecodable paths, odd URLs or Host headers) is passed
 * untouched to the stock adapter's `fastifyRequestHandler`, which owns those rules. `test/wire-compat.test.ts`
 * sends one corpus to both and compares status, headers and bodies.
 *
 * One deliberate difference: the body is sent with `content-length` instead of `transfer-encoding: chunked`.
 * Procedures get no abort `signal` on this path (none of ours reads it).
 */

type ProcedureType = 'query' | 'mutation' | 'subscription';
type CallType = ProcedureType | 'unknown';

export interface FastHandlerErrorInfo<TContext> {
  error: TRPCError;
  path: string | undefined;
  input: unknown;
  ctx: TContext | undefined;
  type: CallType;
  req: FastifyRequest;
}

export interface FastTRPCPluginOptions<TRouter extends AnyRouter> {
  router: TRouter;
  createContext: (req: FastifyRequest, reply: FastifyReply) => inferRouterContext<TRouter> | Promise<inferRouterContext<TRouter>>;
  onError?: (info: FastHandlerErrorInfo<inferRouterContext<TRouter>>) => void;
  /**
   * Procedures whose `.output()` check this handler leaves out (their output cannot fail it). The stock adapter, the
   * fallback, always runs it.
   */
  skipOutputValidation?: (procedure: AnyProcedure) => boolean;
}

/** tRPC's method map without method override: queries are GET, mutations POST. */
const acceptedMethod: Record<ProcedureType, 'GET' | 'POST'> = { query: 'GET', mutation: 'POST', subscription: 'GET' };
const VARY = 'trpc-accept, accept';
/** A Host value that `new URL()` in the stock adapter surely accepts; anything else goes the stock way. */
const plainHost = /^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/;

const passThrough = (payload: unknown) => payload as string;

function isJsonContentType(value: string): boolean {
  if (value === 'application/json') return true;
  return value.toLowerCase().split(';', 1)[0]?.trim() === 'application/json';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && !Array.isArray(value) && typeof value === 'object';
}

function isPromiseLike(value: unknown): boolean {
  return isObject(value) && typeof value.then === 'function';
}

function isAsyncIterable(value: unknown): boolean {
  return isObject(value) && Symbol.asyncIterator in value;
}

/** tRPC refuses stream-like data outside streaming links; same check as `resolveResponse`. */
function isDataStream(value: unknown): boolean {
  if (!isObject(value)) return false;
  if (isAsyncIterable(value)) return true;
  const values = Object.values(value);
  return values.some(isPromiseLike) || values.some(isAsyncIterable);
}

interface Plan {
  method: 'GET' | 'POST';
  isBatch: boolean;
  paths: string[];
  procedures: Array<AnyProcedure | undefined>;
  type: CallType;
  /** The raw input text: `?input=` for GET, the body for POST. */
  inputText: string | null;
}

type ResponseItem = { error: unknown } | { result: { data: unknown } };
type CallResult = [error: TRPCError, data: undefined] | [error: undefined, data: { data: unknown }];

/** What a tRPC middleware answers (`next()`'s result); see `callRecursive` in @trpc/server. */
type MiddlewareResult = { ok: true; data: unknown; ctx?: unknown; marker: string } | { ok: false; error: TRPCError; marker: string };
interface NextOptions {
  ctx?: Record<string, unknown>;
  input?: unknown;
  getRawInput?: () => Promise<unknown>;
}
type Middleware = (opts: MiddlewareCall) => Promise<MiddlewareResult>;
interface Pipeline {
  middlewares: Middleware[];
  meta: unknown;
}
const MIDDLEWARE_MARKER = 'middlewareMarker';

/**
 * What a middleware receives: tRPC's call options (`ctx`, `type`, `path`, `input`, `getRawInput`, `signal`,
 * `batchIndex`) with `meta` and `next`, as one object literal of one shape per level; tRPC's build copies the options
 * at each level through a transpiled object-spread helper (several times the cost).
 */
interface MiddlewareCall {
  ctx: Record<string, unknown> | undefined;
  type: ProcedureType;
  path: string;
  input: unknown;
  getRawInput: () => Promise<unknown>;
  signal: undefined;
  batchIndex: number;
  meta: unknown;
  next: (nextOpts?: NextOptions) => Promise<MiddlewareResult>;
}

function middlewareCall(
  pipeline: Pipeline,
  index: number,
  ctx: Record<string, unknown> | undefined,
  type: ProcedureType,
  path: string,
  input: unknown,
  getRawInput: () => Promise<unknown>,
  batchIndex: number,
): MiddlewareCall {
  return {
    ctx,
    type,
    path,
    input,
    getRawInput,
    // No abort signal: no procedure of ours reads it.
    signal: undefined,
    batchIndex,
    meta: pipeline.meta,
    // As tRPC's callRecursive: `ctx` merged, `input` and `getRawInput` replaced when given.
    next: (nextOpts) =>
      runMiddlewares(
        pipeline,
        index + 1,
        middlewareCall(
          pipeline,
          index + 1,
          nextOpts?.ctx ? { ...ctx, ...nextOpts.ctx } : ctx,
          type,
          path,
          nextOpts && 'input' in nextOpts ? nextOpts.input : input,
          nextOpts?.getRawInput ?? getRawInput,
          batchIndex,
        ),
      ),
  };
}

/** Runs one level of a procedure's middlewares, over a list made once at start; a throw becomes `{ ok: false }`. */
async function runMiddlewares(pipeline: Pipeline, index: number, call: MiddlewareCall): Promise<MiddlewareResult> {
  try {
    return await (pipeline.middlewares[index] as Middleware)(call);
  } catch (cause) {
    return { ok: false, error: getTRPCErrorFromUnknown(cause), marker: MIDDLEWARE_MARKER };
  }
}

/**
 * Registers `/:path` (under the plugin's prefix) like the stock `fastifyTRPCPlugin`: same content-type parsers,
 * same route, and the stock handler as the fallback for what the fast path does not take.
 */
export const fastTRPCPlugin: FastifyPluginCallback<FastTRPCPluginOptions<AnyRouter>> = (app, options, done) => {
  const { router, createContext, onError, skipOutputValidation } = options;
  const config = router._def._config;
  const procedureTable = router._def.procedures as Record<string, AnyProcedure | undefined>;
  // Each procedure's middleware list, made once (tRPC's output validators left out where allowed).
  const pipelines = new Map<AnyProcedure, Pipeline>();
  for (const procedure of Object.values(procedureTable)) {
    if (!procedure) continue;
    // tRPC keeps the middleware list on `_def` at runtime; its public type does not show it.
    const def = procedure._def as unknown as { middlewares: Array<Middleware & { _type?: string }>; meta?: unknown };
    const skipOutput = skipOutputValidation?.(procedure) === true;
    pipelines.set(procedure, { middlewares: def.middlewares.filter((m) => !(skipOutput && m._type === 'output')), meta: def.meta });
  }
  const separator: string = config.pathSeparator ?? '.';
  const hasLazy = Object.keys(router._def.lazy ?? {}).length > 0;
  const deserialize = (value: unknown) => config.transformer.input.deserialize(value) as unknown;
  // What tRPC's transformTRPCResponse makes of our items (the output transformer over each error shape and each
  // result's data), without its transpiled object-spread helper.
  const serializeOutput = (value: unknown) => config.transformer.output.serialize(value) as unknown;
  const serialized = (item: ResponseItem): ResponseItem => ('error' in item ? { error: serializeOutput(item.error) } : { result: { data: serializeOutput(item.result.data) } });

  const stockOptions: FastifyHandlerOptions<AnyRouter, FastifyRequest, FastifyReply> = {
    router,
    createContext: ({ req, res }) => createContext(req, res),
    ...(onError ? { onError: (o) => onError({ ...o, req: o.req }) } : {}),
  };

  // Same parsers as the stock plugin: the body reaches tRPC as text, and tRPC decides what is malformed.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, parsed) => parsed(null, body));
  app.removeContentTypeParser('multipart/form-data');
  app.addContentTypeParser('multipart/form-data', {}, (_req, body, parsed) => parsed(null, body));

  function plan(req: FastifyRequest<{ Params: { path: string } }>): Plan | undefined {
    const method = req.method;
    if (method !== 'GET' && method !== 'POST') return undefined;
    const headers = req.headers;
    if (headers['trpc-accept'] !== undefined) return undefined;
    const accept = headers.accept;
    if (accept !== undefined && accept.includes('application/jsonl')) return undefined;
    const host = headers.host;
    if (host === undefined || !plainHost.test(host)) return undefined;
    const contentType = headers['content-type'];
    if (contentType !== undefined ? !isJsonContentType(contentType) : method === 'POST') return undefined;
    if (method === 'POST' && typeof req.body !== 'string') return undefined;
    if (hasLazy) return undefined;

    const url = req.url;
    if (url.charCodeAt(0) !== 47 /* / */ || url.charCodeAt(1) === 47 || url.includes('#')) return undefined;
    const q = url.indexOf('?');
    let isBatch = false;
    let queryInput: string | null = null;
    if (q !== -1 && q < url.length - 1) {
      const search = new URLSearchParams(url.slice(q + 1));
      if (search.has('connectionParams')) return undefined;
      isBatch = search.get('batch') === '1';
      queryInput = search.get('input');
    }

    let path: string;
    try {
      path = decodeURIComponent(req.params.path);
    } catch {
      return undefined;
    }
    if (separator !== '.') path = path.split(separator).join('.');
    const paths = isBatch ? path.split(',') : [path];
    const procedures = paths.map((p) => procedureTable[p]);
    let type: CallType = 'unknown';
    for (const procedure of procedures) {
      if (!procedure) continue;
      const t = procedure._def.type as ProcedureType;
      if (t === 'subscription') return undefined;
      if (type === 'unknown') type = t;
      else if (type !== t) return undefined; // tRPC's "Cannot mix procedure types" answer comes from the stock path
    }
    return { method, isBatch, paths, procedures, type, inputText: method === 'GET' ? queryInput : (req.body as string) };
  }

  async function handle(req: FastifyRequest<{ Params: { path: string } }>, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const p = plan(req);
    if (!p) {
      await fastifyRequestHandler({ ...stockOptions, req, res: reply, path: req.params.path });
      return undefined;
    }
    const { method, isBatch, paths, procedures, type } = p;

    // Inputs are parsed once, lazily (a procedure without an input parser never reads them), as tRPC does.
    let inputs: Record<number, unknown> | undefined;
    let inputsError: TRPCError | undefined;
    const readInputs = (): Record<number, unknown> => {
      if (inputs) return inputs;
      if (inputsError) throw inputsError;
      try {
        const raw: unknown = p.inputText ? JSON.parse(p.inputText) : undefined;
        const acc: Record<number, unknown> = Object.create(null) as Record<number, unknown>;
        if (raw !== undefined) {
          if (!isBatch) {
            acc[0] = deserialize(raw);
          } else {
            if (!isObject(raw)) throw new TRPCError({ code: 'BAD_REQUEST', message: '"input" needs to be an object when doing a batch call' });
            for (let i = 0; i < paths.length; i++) {
              const value = raw[i];
              if (value !== undefined) acc[i] = deserialize(value);
            }
          }
        }
        inputs = acc;
        return acc;
      } catch (cause) {
        inputsError =
          cause instanceof TRPCError
            ? cause
            : new TRPCError({ code: 'BAD_REQUEST', message: cause instanceof Error ? cause.message : 'Invalid input', cause });
        throw inputsError;
      }
    };
    const inputAt = (index: number): unknown => inputs?.[index];

    let ctx: inferRouterContext<AnyRouter> | undefined;
    let ctxError: TRPCError | undefined;
    try {
      ctx = await createContext(req, reply);
    } catch (cause) {
      ctxError = getTRPCErrorFromUnknown(cause);
    }

    let allow: string | undefined;
    const call = async (index: number): Promise<CallResult> => {
      const procedure = procedures[index];
      const path = paths[index] as string;
      try {
        if (!procedure) throw new TRPCError({ code: 'NOT_FOUND', message: `No procedure found on path "${path}"` });
        const procedureType = procedure._def.type as ProcedureType;
        if (acceptedMethod[procedureType] !== method) {
          allow = acceptedMethod[procedureType];
          throw new TRPCError({ code: 'METHOD_NOT_SUPPORTED', message: `Unsupported ${method}-request to ${procedureType} procedure at path "${path}"` });
        }
        if (ctxError) throw ctxError;
        const pipeline = pipelines.get(procedure) as Pipeline;
        const first = middlewareCall(pipeline, 0, ctx as Record<string, unknown> | undefined, procedureType, path, undefined, async () => readInputs()[index], index);
        const result = await runMiddlewares(pipeline, 0, first);
        // As tRPC's procedure caller ends.
        if (!result) throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'No result from middlewares - did you forget to `return next()`?' });
        if (!result.ok) throw result.error;
        return [undefined, { data: result.data }];
      } catch (cause) {
        const error = getTRPCErrorFromUnknown(cause);
        onError?.({ error, path, input: inputAt(index), ctx, type: (procedure?._def.type as ProcedureType | undefined) ?? 'unknown', req });
        return [error, undefined];
      }
    };
    const shape = (error: TRPCError, index: number, callType: CallType) =>
      getErrorShape({ config, ctx, error, input: inputAt(index), path: paths[index], type: callType });

    let status: number;
    let body: string;
    if (!isBatch) {
      const [error, result] = await call(0);
      if (!error && isDataStream(result.data)) {
        // resolveResponse throws this outside the per-call handling: no path, no input in the shape.
        const streamError = new TRPCError({
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: 'Cannot use stream-like response in non-streaming request - use httpBatchStreamLink',
        });
        onError?.({ error: streamError, path: undefined, input: undefined, ctx, type, req });
        const res = { error: getErrorShape({ config, ctx, error: streamError, input: undefined, path: undefined, type }) };
        status = getHTTPStatusCode(res, [streamError]);
        body = JSON.stringify(serialized(res));
      } else {
        const res = error ? { error: shape(error, 0, type) } : { result: { data: result.data } };
        status = getHTTPStatusCode([res], error ? [error] : []);
        body = JSON.stringify(serialized(res));
      }
    } else {
      // Our client's usual request is a batch of one.
      const settled = paths.length === 1 ? [await call(0)] : await Promise.all(paths.map((_, index) => call(index)));
      const errors: Array<TRPCError | undefined> = [];
      const items = settled.map(([error, result], index) => {
        let e = error;
        if (!e && isDataStream(result?.data)) {
          e = new TRPCError({ code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Cannot use stream-like response in non-streaming request - use httpBatchStreamLink' });
        }
        errors.push(e);
        if (e) return { error: shape(e, index, (procedures[index]?._def.type as ProcedureType | undefined) ?? 'unknown') };
        return { result: { data: result?.data } };
      });
      status = getHTTPStatusCode(items, errors as TRPCError[]);
      body = JSON.stringify(items.map(serialized));
    }

    reply.code(status).header('vary', VARY).header('content-type', 'application/json');
    if (allow !== undefined) reply.header('allow', allow);
    // Through a pass-through serializer the string goes out as is: without one, Fastify appends `; charset=utf-8`
    // to a JSON content type, which the stock adapter does not send. (A string is written with the headers in one go.)
    return reply.serializer(passThrough).send(body);
  }

  app.all<{ Params: { path: string } }>('/:path', handle);
  done();
};
