import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import { authFailureReasons, errorReasons } from '@wxkit/shared';
import { z } from 'zod';
import { CONTENT_TYPES, IMMUTABLE_CACHE, MEDIA_KEY } from '../media/media-storage.ts';
import { listProcedures, sharedSchemaName, type ProcedureInfo } from './procedures.ts';

/**
 * The OpenAPI 3.1 description of the tRPC HTTP surface, exactly as the wire carries it (no transformer):
 * queries are `GET /trpc/<name>?input=<url-encoded JSON>`, mutations `POST /trpc/<name>` with a JSON body,
 * results come wrapped in `{"result":{"data":…}}` and errors in `{"error":{…,"data":{…,"reason"}}}`.
 * Everything is derived from the router and its zod schemas; nothing about a procedure is written here by hand.
 */
export interface OpenApiOptions {
  procedures?: ProcedureInfo[];
  /** Also describe the simulator's `POST /__wechat/dev/login` (simulator mode only: real mode answers 404). */
  simulator: boolean;
  version: string;
  /** `servers[0].url`; the plugin passes the origin the document was requested from. */
  serverUrl?: string;
}

type Json = Record<string, unknown>;

const SCHEMAS = '#/components/schemas/';
const ref = (name: string) => ({ $ref: `${SCHEMAS}${name}` });

/** Names each distinct schema after its export in `@wxkit/shared`, or `<procedure>Input` / `<procedure>Output`. */
function nameSchemas(procedures: ProcedureInfo[]) {
  const used = new Set<string>();
  const unique = (name: string) => {
    let candidate = name;
    for (let i = 2; used.has(candidate); i++) candidate = `${name}${i}`;
    used.add(candidate);
    return candidate;
  };
  const inputs = new Map<z.ZodType, string>();
  const outputs = new Map<z.ZodType, string>();
  for (const p of procedures) {
    if (p.input && !inputs.has(p.input)) inputs.set(p.input, unique(sharedSchemaName(p.input) ?? `${p.name}Input`));
  }
  for (const p of procedures) {
    // The same schema read as an output can differ (defaults, transforms): it gets its own entry.
    if (p.output && !outputs.has(p.output)) outputs.set(p.output, unique(sharedSchemaName(p.output) ?? `${p.name}Output`));
  }
  return { inputs, outputs };
}

/** One JSON Schema 2020-12 per named schema; a named schema nested in another becomes a `$ref`. */
function componentSchemas(names: Map<z.ZodType, string>, io: 'input' | 'output'): Record<string, Json> {
  if (names.size === 0) return {};
  const registry = z.registry<{ id: string }>();
  for (const [schema, id] of names) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
    uri: (id) => `${SCHEMAS}${id}`,
  }) as { schemas: Record<string, Json> };
  // Each entry is embedded in the document: drop the standalone-file keywords.
  return Object.fromEntries(Object.entries(schemas).map(([id, { $schema: _s, $id: _i, ...schema }]) => [id, schema]));
}

const errorEnvelope: Json = {
  type: 'object',
  description: 'Every failure. `error.data.reason` is a literal to switch on; `error.message` says what to do next.',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['message', 'code', 'data'],
      properties: {
        message: { type: 'string', description: 'What went wrong and what to do next.' },
        code: { type: 'integer', description: 'JSON-RPC 2.0 error code (e.g. -32001 for UNAUTHORIZED).' },
        data: {
          type: 'object',
          required: ['code', 'httpStatus'],
          properties: {
            code: { type: 'string', enum: Object.keys(TRPC_ERROR_CODES_BY_KEY), description: 'tRPC error code.' },
            httpStatus: { type: 'integer', description: 'The HTTP status of this error.' },
            path: { type: 'string', description: 'The procedure that failed.' },
            reason: { type: 'string', enum: [...errorReasons], description: 'Why, as a literal (see `shared/src/errors.ts`).' },
          },
        },
      },
    },
  },
  example: {
    error: {
      message: 'Not logged in: send `Authorization: Bearer <token>` from the login procedure.',
      code: -32001,
      data: { code: 'UNAUTHORIZED', httpStatus: 401, path: 'getProfile', reason: 'missing' },
    },
  },
};

const errorResponse = (description: string): Json => ({
  description,
  content: { 'application/json': { schema: ref('errorEnvelope') } },
});

const responses: Record<string, Json> = {
  badRequest: errorResponse('`BAD_REQUEST`: the input does not match the schema (`reason: invalid_input`), or the login code was rejected (`code_invalid`, `code_used`).'),
  unauthorized: errorResponse(`\`UNAUTHORIZED\`: no live session. \`reason\` says why: ${authFailureReasons.map((r) => `\`${r}\``).join(', ')}. Log in again.`),
  error: errorResponse('Any other failure, with its HTTP status in `error.data.httpStatus` and a literal `error.data.reason`.'),
};

const intro = `The [tRPC v11](https://trpc.io) HTTP protocol of the wxkit server, with no data transformer (plain JSON).

- **Queries**: \`GET /trpc/<name>?input=<url-encoded JSON>\` (leave \`input\` out when there is none).
- **Mutations**: \`POST /trpc/<name>\` with the JSON input as body and \`content-type: application/json\` (send \`{}\` when there is no input).
- **Results**: \`{"result":{"data":<output>}}\`. **Errors**: \`{"error":{"message","code","data":{"code","httpStatus","path","reason"}}}\`; \`data.reason\` is a literal to switch on.
- **Batching**: \`GET /trpc/a,b?batch=1&input={"0":<input of a>,"1":<input of b>}\` (POST likewise for mutations) answers a JSON array, one envelope per call.
- **Auth**: \`Authorization: Bearer <token>\`, the \`token\` that \`login\` returns.`;

const simulatorIntro = `

**Logging in without WeChat** (simulator mode): \`POST /__wechat/dev/login\` with \`{"user":"alice"}\` mints a one-time code, then \`POST /trpc/login\` with \`{"code":"…"}\` returns the token; use it as the Bearer token here.`;

function operation(p: ProcedureInfo, names: ReturnType<typeof nameSchemas>): Json {
  const inputRef = p.input ? ref(names.inputs.get(p.input)!) : undefined;
  const outputSchema = p.output ? ref(names.outputs.get(p.output)!) : {};
  const op: Json = {
    operationId: p.name,
    summary: `${p.name} (${p.type}, ${p.protected ? 'needs a Bearer token' : 'public'})`,
    tags: [p.protected ? 'protected' : 'public'],
    // checkSession-style public procedures still read the header when sent: say so with an optional scheme.
    security: p.protected ? [{ bearerAuth: [] }] : [{}, { bearerAuth: [] }],
    responses: {
      '200': {
        description: 'The result, wrapped as tRPC sends it.',
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['result'],
              properties: { result: { type: 'object', required: ['data'], properties: { data: outputSchema } } },
            },
          },
        },
      },
      ...(p.input ? { '400': { $ref: '#/components/responses/badRequest' } } : {}),
      ...(p.protected ? { '401': { $ref: '#/components/responses/unauthorized' } } : {}),
      default: { $ref: '#/components/responses/error' },
    },
  };
  if (p.type === 'query') {
    if (inputRef) {
      op.parameters = [
        {
          name: 'input',
          in: 'query',
          required: !p.inputOptional,
          description: 'The input as JSON, URL-encoded (curl: `-G --data-urlencode \'input={…}\'`).',
          content: { 'application/json': { schema: inputRef } },
        },
      ];
    }
  } else {
    op.requestBody = inputRef
      ? { required: !p.inputOptional, content: { 'application/json': { schema: inputRef } } }
      : {
          // tRPC refuses a POST without content-type: application/json (415), so even no input is a JSON body.
          required: true,
          description: 'No input: send `{}` (tRPC needs `content-type: application/json` on every POST).',
          content: { 'application/json': { schema: { type: 'object' }, example: {} } },
        };
  }
  return op;
}

const simulatorPaths: Record<string, Json> = {
  '/__wechat/dev/login': {
    post: {
      operationId: 'simulatorDevLogin',
      summary: 'Mint a one-time login code for a simulated user (stands in for wx.login)',
      description: 'Simulator mode only (no `WECHAT_APPID`): real mode answers 404. The same user always maps to the same WeChat identity. The code lives 5 minutes and works once: pass it to `login`.',
      tags: ['simulator'],
      security: [],
      requestBody: {
        required: false,
        content: {
          'application/json': {
            schema: { type: 'object', properties: { user: { type: 'string', pattern: '^[\\w.@-]{1,64}$', default: 'dev-user' } }, additionalProperties: false },
            example: { user: 'alice' },
          },
        },
      },
      responses: {
        '200': {
          description: 'A fresh code.',
          content: { 'application/json': { schema: { type: 'object', required: ['code'], properties: { code: { type: 'string' } } } } },
        },
        '400': { description: 'Bad user name.', content: { 'application/json': { schema: { type: 'object', properties: { error: { type: 'string' } } } } } },
      },
    },
  },
  '/__wechat/dev/phone-code': {
    post: {
      operationId: 'simulatorDevPhoneCode',
      summary: 'Mint a getPhoneNumber code for a simulated user (stands in for <Button openType="getPhoneNumber">)',
      description: 'Simulator mode only. The code lives 5 minutes and works once: pass it to `bindPhone`.',
      tags: ['simulator'],
      security: [],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['user', 'phone'],
              properties: { user: { type: 'string', pattern: '^[\\w.@-]{1,64}$' }, phone: { type: 'string', pattern: '^\\d{4,15}$' }, countryCode: { type: 'string', default: '86' } },
            },
            example: { user: 'alice', phone: '13800138000' },
          },
        },
      },
      responses: {
        '200': { description: 'A fresh code.', content: { 'application/json': { schema: { type: 'object', required: ['code'], properties: { code: { type: 'string' } } } } } },
        '400': { description: 'Bad input.', content: { 'application/json': { schema: { type: 'object', properties: { error: { type: 'string' } } } } } },
      },
    },
  },
  '/__wechat/dev/werun': {
    post: {
      operationId: 'simulatorDevWeRun',
      summary: "Encrypt WeRun steps with the user's latest session_key (stands in for wx.getWeRunData)",
      description: 'Simulator mode only. Encrypted exactly as WeChat does (AES-128-CBC, with a watermark): pass the answer to `syncWeRun` as is. The user must have logged in (a session_key exists).',
      tags: ['simulator'],
      security: [],
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['user', 'days'],
              properties: {
                user: { type: 'string' },
                days: { type: 'array', minItems: 1, maxItems: 31, items: { type: 'object', required: ['date', 'steps'], properties: { date: { type: 'string', format: 'date' }, steps: { type: 'integer', minimum: 0 } } } },
              },
            },
            example: { user: 'alice', days: [{ date: '2026-12-01', steps: 8000 }] },
          },
        },
      },
      responses: {
        '200': {
          description: 'What wx.getWeRunData hands the mini-program.',
          content: { 'application/json': { schema: { type: 'object', required: ['encryptedData', 'iv'], properties: { encryptedData: { type: 'string' }, iv: { type: 'string' } } } } },
        },
        '400': { description: 'Bad input, or the user never logged in.', content: { 'application/json': { schema: { type: 'object', properties: { error: { type: 'string' } } } } } },
      },
    },
  },
};

/**
 * The two plain HTTP routes beside tRPC (plugins/media-routes.ts): the avatar upload, multipart because that is what
 * wx.uploadFile sends, and the stored images. Written by hand: they are not procedures.
 */
function mediaPaths(profileSchema: Json): Record<string, Json> {
  const imageTypes = Object.values(CONTENT_TYPES);
  return {
    '/media/avatar': {
      post: {
        operationId: 'uploadAvatar',
        summary: 'Upload an avatar (multipart, needs a Bearer token)',
        description:
          'The image in the multipart field `file` (wx.uploadFile / Taro.uploadFile with `name: \'file\'`); other small text fields (`formData`) are accepted and ignored. JPEG, PNG or WebP recognised by content, at most 2 MiB and 40 megapixels. It is auto-rotated, resized to fit 512×512, stripped of metadata and stored as JPEG (PNG when it has transparency); the user\'s previous stored avatar is removed once no one uses it. Answers the updated `Profile` itself (not wrapped in `result.data`), its `avatarUrl` pointing at `GET /media/{key}`.',
        tags: ['media'],
        security: [{ bearerAuth: [] }],
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['file'],
                properties: { file: { type: 'string', contentMediaType: 'application/octet-stream', description: 'The image: JPEG, PNG or WebP, at most 2 MiB.' } },
                additionalProperties: { type: 'string', maxLength: 4096 },
              },
              encoding: { file: { contentType: imageTypes.join(', ') } },
            },
          },
        },
        responses: {
          '200': { description: 'The updated profile.', content: { 'application/json': { schema: profileSchema } } },
          '400': errorResponse('`invalid_input`: not a JPEG/PNG/WebP (text, SVG, GIF …), truncated or damaged, too many pixels, no `file` field, more than one file.'),
          '401': { $ref: '#/components/responses/unauthorized' },
          '413': errorResponse('`too_large`: the file is over 2 MiB.'),
          '415': errorResponse('`invalid_input`: the body is not multipart/form-data.'),
          default: { $ref: '#/components/responses/error' },
        },
      },
    },
    '/media/{key}': {
      get: {
        operationId: 'getMedia',
        summary: 'A stored image (public; cached for good)',
        description: 'Content-addressed: the key is the sha256 of the bytes, so they never change (`cache-control: ' + IMMUTABLE_CACHE + '`, ETag = the key). HEAD works too. Anything that is not exactly a stored key answers 404.',
        tags: ['media'],
        security: [],
        parameters: [{ name: 'key', in: 'path', required: true, schema: { type: 'string', pattern: MEDIA_KEY.source }, example: `${'0'.repeat(64)}.jpg` }],
        responses: {
          '200': {
            description: 'The image.',
            headers: {
              'cache-control': { schema: { type: 'string', const: IMMUTABLE_CACHE } },
              etag: { schema: { type: 'string' } },
              'x-content-type-options': { schema: { type: 'string', const: 'nosniff' } },
            },
            content: Object.fromEntries(imageTypes.map((type) => [type, { schema: { type: 'string', contentMediaType: type } }])),
          },
          '304': { description: 'Not modified (If-None-Match matched the ETag).' },
          '404': errorResponse('No such image.'),
        },
      },
    },
  };
}

/** The Profile schema as getProfile outputs it (a `$ref` to its component), for the upload's answer. */
function profileSchema(procedures: ProcedureInfo[], names: ReturnType<typeof nameSchemas>): Json {
  const output = procedures.find((p) => p.name === 'getProfile')?.output;
  const name = output ? names.outputs.get(output) : undefined;
  return name ? ref(name) : { type: 'object' };
}

export function buildOpenApiDocument(options: OpenApiOptions): Json {
  const procedures = options.procedures ?? listProcedures();
  const names = nameSchemas(procedures);
  const paths: Record<string, Json> = {};
  for (const p of procedures) {
    if (p.type === 'subscription') continue; // not served over plain HTTP
    paths[`/trpc/${p.name}`] = { [p.type === 'query' ? 'get' : 'post']: operation(p, names) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'wxkit API',
      version: options.version,
      description: intro + (options.simulator ? simulatorIntro : ''),
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    tags: [
      { name: 'public', description: 'No token needed.' },
      { name: 'protected', description: 'Needs `Authorization: Bearer <token>`; answers 401 with a `reason` otherwise.' },
      { name: 'media', description: 'Avatar upload and stored images: plain HTTP routes beside tRPC.' },
      ...(options.simulator ? [{ name: 'simulator', description: 'The embedded WeChat simulator (development and tests only).' }] : []),
    ],
    paths: { ...paths, ...mediaPaths(profileSchema(procedures, names)), ...(options.simulator ? simulatorPaths : {}) },
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The `token` returned by `login`.' },
      },
      schemas: {
        ...componentSchemas(names.inputs, 'input'),
        ...componentSchemas(names.outputs, 'output'),
        errorEnvelope,
      },
      responses,
    },
  };
}
