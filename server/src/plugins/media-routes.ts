import multipart from '@fastify/multipart';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { AuthService } from '../auth/auth-service.ts';
import { profileToWire } from '../auth/profile-wire.ts';
import { ImageRejected, MAX_UPLOAD_BYTES, processAvatar } from '../media/avatar-image.ts';
import { contentTypeOf, IMMUTABLE_CACHE, isMediaKey } from '../media/media-storage.ts';
import { AppError, unauthorized } from '../trpc/app-error.ts';
import { INTERNAL_ERROR_MESSAGE } from '../trpc/format-error.ts';
import { sendAppError } from './http-errors.ts';

/** wx.uploadFile's `formData` rides along as text fields: a few, small. */
const MAX_FIELDS = 20;
const MAX_FIELD_BYTES = 4 * 1024;
/** The whole request: the file plus fields plus multipart framing. A declared length over this is refused unread. */
const MAX_BODY_BYTES = MAX_UPLOAD_BYTES + MAX_FIELDS * MAX_FIELD_BYTES + 16 * 1024;
/** After a refusal the rest of the body is read and dropped (so the client sees the answer), up to this much. */
const MAX_DISCARD_BYTES = 16 * 1024 * 1024;
const DISCARD_TIMEOUT_MS = 10_000;

/** A Host header we are willing to put into a stored URL (when PUBLIC_URL is not set). */
const HOST = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const MIB = `${MAX_UPLOAD_BYTES / 1024 / 1024} MiB`;
const HOW = 'send the image as multipart/form-data in the field named "file" (wx.uploadFile / Taro.uploadFile with name: \'file\')';

/** A refused media request: one of our typed errors, answered in tRPC's envelope (see sendAppError). */
const invalid = (message: string) => new AppError('BAD_REQUEST', 'invalid_input', message);
const tooLarge = () =>
  new AppError(
    'PAYLOAD_TOO_LARGE',
    'too_large',
    `The file is larger than ${MIB}: send a smaller image (compress a photo first, e.g. with wx.compressImage; a chooseAvatar image is far below the limit).`,
  );
const notFound = () =>
  new AppError('NOT_FOUND', 'invalid_input', 'No such image: stored images are at /media/<64 hex>.<jpg|png|webp>, exactly as a profile\'s avatarUrl gives them.');

/** How @fastify/multipart and busboy report what they refused, in our words. */
function refusalFromMultipart(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const code = (error as { code?: string }).code;
  switch (code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return tooLarge();
    case 'FST_FILES_LIMIT':
      return invalid(`The request holds more than one file: ${HOW}, one file per request.`);
    case 'FST_FIELDS_LIMIT':
    case 'FST_PARTS_LIMIT':
      return invalid(`The request holds more than ${MAX_FIELDS} form fields: ${HOW}, with at most ${MAX_FIELDS} small text fields beside it.`);
    case 'FST_PROTO_VIOLATION':
      return invalid(`A form field is named after a JavaScript prototype property: rename it, then ${HOW}.`);
    case 'FST_INVALID_JSON_FIELD_ERROR':
      return invalid('A form field declared as application/json is not valid JSON: send text fields as plain text.');
    default:
      return invalid(`The multipart body is malformed (${error instanceof Error ? error.message : 'unreadable'}): ${HOW}.`);
  }
}

export interface MediaRoutesOptions {
  authService: AuthService;
  /** `PUBLIC_URL`: the origin stored avatar URLs start with; undefined: the origin each upload was sent to. */
  publicUrl: string | undefined;
}

/**
 * `POST /media/avatar` and `GET /media/<key>`.
 *
 * A plain route, not a tRPC procedure: the mini-program uploads with `wx.uploadFile`, which can only send a
 * multipart POST (the file plus text `formData` fields) and cannot speak tRPC's wire format, and tRPC's FormData
 * support would only work through its stock adapter, not our fast handler. Success answers the `Profile` itself
 * (not wrapped in tRPC's `result.data`); failures use tRPC's `{"error":{…,"data":{"reason"}}}` envelope, so the
 * client's error handling is the same as for a procedure.
 *
 * Encapsulated: @fastify/multipart (its content-type parser and hooks) and this error handler apply here only.
 */
export const mediaRoutesPlugin = fp<MediaRoutesOptions>(
  async (app, options) => {
    const media = app.mediaService;
    const storage = app.mediaStorage;

    /**
     * Answers a refused upload. The body may still be arriving: it is read and dropped first (bounded), because many
     * HTTP clients (wx.uploadFile among them) report a broken connection instead of an answer sent while they are
     * still writing. Past the bound the connection is closed after the answer.
     */
    async function refuse(request: FastifyRequest, reply: FastifyReply, refusal: AppError) {
      const raw = request.raw;
      if (!raw.readableEnded && !raw.destroyed) {
        const declared = Number(request.headers['content-length'] ?? 0);
        const drained = declared <= MAX_DISCARD_BYTES && (await discard(raw, MAX_DISCARD_BYTES, DISCARD_TIMEOUT_MS));
        if (!drained) {
          reply.header('connection', 'close');
          reply.raw.once('finish', () => raw.socket?.destroySoon());
        }
      }
      return sendAppError(request, reply, refusal);
    }

    // Only multipart is read here; every other body is left unread and answered 415 by the handler.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', (_request, _payload, done) => done(null));
    await app.register(multipart, { limits: { fileSize: MAX_UPLOAD_BYTES } });

    app.setErrorHandler(async (error: FastifyError, request, reply) => {
      // Ours (the database unreachable: 503 database_unavailable), answered as such.
      if (error instanceof AppError) return refuse(request, reply, error);
      const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
      if (status === 500) {
        request.log.error({ err: error }, 'media request failed');
        return refuse(request, reply, new AppError('INTERNAL_SERVER_ERROR', 'internal', INTERNAL_ERROR_MESSAGE));
      }
      return refuse(request, reply, invalid(`${error.message}: ${HOW}.`));
    });

    app.post('/media/avatar', async (request, reply) => {
      const started = performance.now();
      // First, before the body is read (no parser here reads it): a request without a live session never gets its upload looked at.
      const auth = await options.authService.authenticate(request.headers.authorization);
      if (!auth.valid) return refuse(request, reply, unauthorized(auth.reason));
      const userId = auth.userId;
      if (!request.isMultipart()) {
        return refuse(request, reply, new AppError('UNSUPPORTED_MEDIA_TYPE', 'invalid_input', `The request is not multipart/form-data: ${HOW}.`));
      }
      if (Number(request.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return refuse(request, reply, tooLarge());
      const base = options.publicUrl ?? originOf(request);
      if (!base) return refuse(request, reply, invalid('The Host header is not a valid host name: send the request to the server\'s own address (operators: set PUBLIC_URL).'));

      let upload: Buffer | undefined;
      try {
        const parts = request.parts({
          limits: { fileSize: MAX_UPLOAD_BYTES, files: 1, fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES, fieldNameSize: 200, parts: MAX_FIELDS + 1, headerPairs: 20 },
        });
        for await (const part of parts) {
          if (part.type === 'field') {
            if (part.valueTruncated) throw invalid(`The form field "${part.fieldname.slice(0, 40)}" is longer than ${MAX_FIELD_BYTES / 1024} KiB: send only small text fields beside the file.`);
            continue; // wx.uploadFile's formData: accepted, unused
          }
          if (part.fieldname !== 'file') {
            part.file.resume();
            throw invalid(`The file came in the field "${part.fieldname.slice(0, 40)}": ${HOW}.`);
          }
          upload = await part.toBuffer();
        }
      } catch (error) {
        return refuse(request, reply, refusalFromMultipart(error));
      }
      if (!upload) return refuse(request, reply, invalid(`The request has no file in the field "file": ${HOW}.`));

      let image;
      try {
        image = await processAvatar(upload);
      } catch (error) {
        if (error instanceof ImageRejected) return refuse(request, reply, invalid(error.message));
        throw error;
      }
      const stored = await media.setAvatar(userId, image, base);
      if (!stored) return refuse(request, reply, unauthorized('invalid'));
      request.log.info(
        { key: stored.key, inputFormat: image.inputFormat, inputBytes: upload.length, outputBytes: image.bytes.length, width: image.width, height: image.height, ms: Math.round(performance.now() - started) },
        'avatar stored',
      );
      return reply.send(profileToWire(stored.profile));
    });

    // Anything under /media that is not exactly a key (`..`, percent-encoding, wrong length, upper-case, unknown
    // extension, the folder itself) is a 404: the raw URL is matched, so nothing is decoded into a path.
    const serve = async (request: FastifyRequest, reply: FastifyReply) => {
      const path = request.url.split('?')[0] ?? '';
      const key = path.startsWith('/media/') ? path.slice('/media/'.length) : '';
      if (!isMediaKey(key)) return sendAppError(request, reply, notFound());
      // The key is the sha256 of the bytes: they never change, so caches keep them for good and the key is the ETag.
      const etag = `"${key}"`;
      // A cache revalidating needs only to know the key is still stored, not its bytes (a whole GET on a bucket).
      const notModified = matchesEtag(request.headers['if-none-match'], etag);
      const bytes = notModified ? undefined : await storage.get(key);
      if (notModified ? !(await storage.exists(key)) : !bytes) return sendAppError(request, reply, notFound());
      reply.header('cache-control', IMMUTABLE_CACHE).header('x-content-type-options', 'nosniff').header('etag', etag);
      if (notModified) return reply.code(304).send();
      return reply.type(contentTypeOf(key)).send(bytes);
    };
    app.get('/media', serve);
    app.get('/media/*', serve);
  },
  { name: 'media-routes', dependencies: ['media-storage'], encapsulate: true },
);

function originOf(request: FastifyRequest): string | undefined {
  return HOST.test(request.host) ? `${request.protocol}://${request.host}` : undefined;
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === etag || t === `W/${etag}`;
  });
}

/** Reads and drops the rest of a request body; true when it ended within the byte and time bounds. */
function discard(raw: FastifyRequest['raw'], maxBytes: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let seen = 0;
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      raw.off('data', onData).off('end', onEnd).off('error', onEnd).off('close', onClose);
      if (!ok) raw.pause();
      resolve(ok);
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) finish(false);
    };
    const onEnd = () => finish(raw.readableEnded);
    const onClose = () => finish(raw.readableEnded);
    const timer = setTimeout(() => finish(false), timeoutMs);
    raw.unpipe();
    raw.on('data', onData).once('end', onEnd).once('error', onEnd).once('close', onClose);
    raw.resume();
  });
}
