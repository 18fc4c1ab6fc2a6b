import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appRouter } from '../src/router.ts';
import { mintCode, startTestServer, type TestServer } from './support/server.ts';

type Json = Record<string, any>;

// ajv-formats is CommonJS: its default export is the plugin function.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

let server: TestServer;
let doc: Json;
/** The same document with every `$ref` resolved, so schemas can be compiled one by one. */
let resolved: Json;

beforeAll(async () => {
  server = await startTestServer();
  const response = await fetch(`${server.url}/openapi.json`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  doc = (await response.json()) as Json;
  const validator = new Validator();
  const result = await validator.validate(structuredClone(doc));
  if (!result.valid) throw new Error(`openapi.json is not valid OpenAPI: ${JSON.stringify(result.errors, null, 2)}`);
  resolved = validator.resolveRefs() as Json;
});
afterAll(() => server.close());

/** The wire shape of every procedure, read from the router itself: a new procedure must be documented. */
const routerProcedures = Object.entries(appRouter._def.procedures as Record<string, { _def: { type: string } }>).map(
  ([name, p]) => ({ name, method: p._def.type === 'query' ? 'get' : 'post' }),
);

const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));

function responseSchema(path: string, method: string, status: string): Json {
  const response = resolved.paths[path]?.[method]?.responses?.[status];
  if (!response) throw new Error(`${method.toUpperCase()} ${path} documents no ${status} response`);
  return response.content['application/json'].schema;
}

/** Asserts a real body matches the schema the document gives for that operation and status. */
function expectMatches(body: unknown, path: string, method: string, status: string) {
  const validate = ajv.compile(responseSchema(path, method, status));
  if (!validate(body)) throw new Error(`${method} ${path} ${status}: body ${JSON.stringify(body)} does not match: ${ajv.errorsText(validate.errors)}`);
}

/** Builds a real request from the document alone: server URL, method, input encoding and security scheme. */
async function callFromDocument(name: string, input: unknown, token?: string): Promise<{ status: number; body: Json }> {
  const path = `/trpc/${name}`;
  const [method, op] = Object.entries(doc.paths[path] as Record<string, Json>)[0]!;
  const url = new URL(doc.servers[0].url + path);
  const headers: Record<string, string> = {};
  const schemes = (op.security ?? []) as Record<string, string[]>[];
  if (token && schemes.some((s) => 'bearerAuth' in s)) {
    const scheme = doc.components.securitySchemes.bearerAuth;
    expect(scheme).toMatchObject({ type: 'http', scheme: 'bearer' });
    headers.authorization = `Bearer ${token}`;
  }
  let body: string | undefined;
  for (const parameter of (op.parameters ?? []) as Json[]) {
    // A parameter with `content` is serialized as that media type: here, JSON, then URL-encoded by URL.
    if (parameter.in === 'query' && parameter.content?.['application/json'] && input !== undefined) {
      url.searchParams.set(parameter.name, JSON.stringify(input));
    }
  }
  if (op.requestBody) {
    const [mediaType, media] = Object.entries(op.requestBody.content as Record<string, Json>)[0]!;
    headers['content-type'] = mediaType;
    body = JSON.stringify(input ?? media.example ?? {});
  }
  const response = await fetch(url, { method: method.toUpperCase(), headers, ...(body !== undefined ? { body } : {}) });
  return { status: response.status, body: (await response.json()) as Json };
}

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document pointing back at the server it came from', () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.servers).toEqual([{ url: server.url }]);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('documents every procedure of the router, with the method tRPC answers on, and nothing else under /trpc', () => {
    expect(routerProcedures.length).toBeGreaterThanOrEqual(5);
    for (const { name, method } of routerProcedures) {
      const item = doc.paths[`/trpc/${name}`];
      expect(item, `procedure ${name} is missing from openapi.json`).toBeDefined();
      expect(Object.keys(item)).toEqual([method]);
      expect(item[method].operationId).toBe(name);
    }
    const documented = Object.keys(doc.paths).filter((p) => p.startsWith('/trpc/'));
    expect(documented.sort()).toEqual(routerProcedures.map((p) => `/trpc/${p.name}`).sort());
  });

  it('describes inputs from the shared zod schemas and the security of each procedure', () => {
    const login = resolved.paths['/trpc/login'].post;
    expect(login.requestBody.content['application/json'].schema).toMatchObject({
      type: 'object',
      required: ['code'],
      properties: { code: { type: 'string', minLength: 1, maxLength: 128 } },
    });
    const update = resolved.paths['/trpc/updateProfile'].post;
    expect(update.security).toEqual([{ bearerAuth: [] }]);
    expect(update.requestBody.content['application/json'].schema.properties.avatarUrl).toMatchObject({ type: 'string', format: 'uri' });
    expect(resolved.paths['/trpc/getProfile'].get.responses['401']).toBeDefined();
    expect(resolved.paths['/trpc/login'].post.responses['401']).toBeUndefined();
    const reason = resolved.components.schemas.errorEnvelope.properties.error.properties.data.properties.reason;
    expect(reason.enum).toEqual(expect.arrayContaining(['missing', 'revoked', 'code_used', 'invalid_input']));
  });

  it('lets a request built from the document alone log in and read the profile, and every body matches its schema', async () => {
    const code = await mintCode(server.url, 'openapi-user');
    const login = await callFromDocument('login', { code });
    expect(login.status).toBe(200);
    expectMatches(login.body, '/trpc/login', 'post', '200');
    const token = login.body.result.data.token as string;

    const profile = await callFromDocument('getProfile', undefined, token);
    expect(profile.status).toBe(200);
    expectMatches(profile.body, '/trpc/getProfile', 'get', '200');
    expect(profile.body.result.data.id).toBe(login.body.result.data.user.id);

    const updated = await callFromDocument('updateProfile', { nickname: 'Docs' }, token);
    expect(updated.status).toBe(200);
    expectMatches(updated.body, '/trpc/updateProfile', 'post', '200');
    expect(updated.body.result.data.nickname).toBe('Docs');

    const session = await callFromDocument('checkSession', undefined, token);
    expectMatches(session.body, '/trpc/checkSession', 'get', '200');
    expect(session.body.result.data.valid).toBe(true);

    const logout = await callFromDocument('logout', undefined, token);
    expect(logout.status).toBe(200);
    expectMatches(logout.body, '/trpc/logout', 'post', '200');

    const after = await callFromDocument('checkSession', undefined, token);
    expect(after.body.result.data).toEqual({ valid: false, reason: 'revoked' });
  });

  it('describes the errors as they come: the 401 envelope with its reason, and the 400 for a bad input', async () => {
    const missing = await callFromDocument('getProfile', undefined);
    expect(missing.status).toBe(401);
    expectMatches(missing.body, '/trpc/getProfile', 'get', '401');
    expect(missing.body.error.data.reason).toBe('missing');

    const bad = await callFromDocument('login', { code: '' });
    expect(bad.status).toBe(400);
    expectMatches(bad.body, '/trpc/login', 'post', '400');
    expect(bad.body.error.data.reason).toBe('invalid_input');
  });

  it('documents the simulator login in simulator mode only', async () => {
    expect(doc.paths['/__wechat/dev/login']?.post).toBeDefined();
    const real = await startTestServer({ WECHAT_APPID: 'wx0000000000000000', WECHAT_SECRET: 'real-mode-secret', JWT_SECRET: 'x'.repeat(48) });
    try {
      const realDoc = (await (await fetch(`${real.url}/openapi.json`)).json()) as Json;
      expect(Object.keys(realDoc.paths).filter((p) => p.startsWith('/__wechat'))).toEqual([]);
      expect(Object.keys(realDoc.paths).filter((p) => p.startsWith('/trpc/')).length).toBe(routerProcedures.length);
    } finally {
      await real.close();
    }
  });
});

describe('GET /docs', () => {
  it('serves Swagger UI from this server only (no CDN) and points it at /openapi.json', async () => {
    const page = await fetch(`${server.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    const references = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(references.length).toBeGreaterThanOrEqual(3);
    for (const reference of references) {
      expect(reference, 'every asset is local').toMatch(/^\/docs\//);
      const asset = await fetch(`${server.url}${reference}`);
      expect(asset.status, reference).toBe(200);
      expect((await asset.arrayBuffer()).byteLength, reference).toBeGreaterThan(0);
    }
    const init = await (await fetch(`${server.url}/docs/init.js`)).text();
    expect(init).toContain("url: '/openapi.json'");
    expect(init).toContain('validatorUrl: null');
  });

  it('answers 404 for files it does not serve, and sends /docs/ to /docs', async () => {
    const response = await fetch(`${server.url}/docs/package.json`);
    expect(response.status).toBe(404);
    expect(await response.text()).toContain('/docs');
    const slash = await fetch(`${server.url}/docs/`, { redirect: 'manual' });
    expect(slash.status).toBe(302);
    expect(slash.headers.get('location')).toBe('/docs');
  });
});
