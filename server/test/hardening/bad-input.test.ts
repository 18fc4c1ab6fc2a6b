import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginAs, startTestServer, type TestServer } from '../support/server.ts';
import { envelopeError, expectNoLeaks, hardeningEnv, rawHttp, toRaw, type RawResponse } from './support.ts';

// Suite 5 (issue 6): property-based bad input over HTTP. Whatever arrives (wrong types, huge strings, unicode edge
// cases, prototype-pollution keys, deep nesting, numbers for strings, broken envelopes), the answer is a 4xx with a
// message (or a 2xx when the input happens to be valid), never a 5xx, and the server keeps serving.

const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const fcOptions = { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) };
/** A GET request line stays under Node's 16 KiB header limit: longer ones are the 431 case, tested on its own. */
const MAX_GET_QUERY = 12_000;

let server: TestServer;
let token: string;
let requestsSent = 0;
let users = 0;
/** The simulator allows 100 exchanges a minute per user, as WeChat does: sessions for logout come from many users. */
const freshUser = () => `fuzz-user-${users++}`;

beforeAll(async () => {
  server = await startTestServer(hardeningEnv());
  token = (await loginAs(server.url, 'fuzz-owner')).token;
});
afterAll(async () => {
  console.log(`bad-input: ${requestsSent} generated/malformed requests sent, none answered 5xx`);
  await server.close();
  // An unexpected error would be logged at level 50 even if it were answered with a 4xx.
  expect(server.logs.filter((line) => /"level":(50|60)/.test(line)).map((line) => line.slice(0, 300))).toEqual([]);
  expectNoLeaks();
});

// ---------- generators: raw JSON text, so keys like __proto__ and duplicate keys reach the server as written ----------

const protoKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'then');
const loneSurrogates = fc
  .array(fc.integer({ min: 0xd800, max: 0xdfff }), { minLength: 1, maxLength: 4 })
  .map((units) => String.fromCharCode(...units));
const edgeString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  loneSurrogates,
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '\u202e',
    '\ufeff',
    'e\u0301',
    '👨‍👩‍👧‍👦',
    '\u2028\u2029',
    'null',
    'undefined',
    'NaN',
    '<script>alert(1)</script>',
    "'; DROP TABLE users; --",
    '../../etc/passwd',
    '%00%ff',
    'https://example.com/a.png',
    'javascript:alert(1)',
    'https://',
    'http://example.com/a.png',
    `https://a${'.b'.repeat(1200)}.com`,
  ),
  fc.integer({ min: 100, max: 70_000 }).map((n) => 'x'.repeat(n)),
);
const numberText = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
  fc.bigInt().map(String),
  fc.constantFrom('0', '-0', '1e308', '1e309', '-1e309', '123456789012345678901234567890', '0.1', '5e-324'),
);
const scalarText = fc.oneof(edgeString.map((s) => JSON.stringify(s)), numberText, fc.constantFrom('true', 'false', 'null'));
const { value: jsonText } = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalarText, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 5 }).map((items) => `[${items.join(',')}]`),
  object: fc
    .array(fc.tuple(fc.oneof(protoKey, fc.constantFrom('code', 'nickname', 'avatarUrl', '0', '1', 'json'), edgeString), tie('value')), { maxLength: 5 })
    .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
}));
const deepNesting = fc.oneof(
  fc.integer({ min: 50, max: 20_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 50, max: 10_000 }).map((n) => '{"code":'.repeat(n) + '"x"' + '}'.repeat(n)),
  fc.integer({ min: 50, max: 10_000 }).map((n) => '{"__proto__":'.repeat(n) + '{}' + '}'.repeat(n)),
);
/** Inputs shaped like what a procedure expects, with wrong values or extra keys. */
const nearMiss = fc.oneof(
  fc.tuple(scalarText, fc.option(fc.tuple(protoKey, jsonText))).map(([v, extra]) => `{"code":${v}${extra ? `,${JSON.stringify(extra[0])}:${extra[1]}` : ''}}`),
  fc.tuple(scalarText, scalarText).map(([n, a]) => `{"nickname":${n},"avatarUrl":${a}}`),
  fc.tuple(scalarText, protoKey, jsonText).map(([n, k, v]) => `{"nickname":${n},${JSON.stringify(k)}:${v}}`),
  protoKey.chain((k) => jsonText.map((v) => `{${JSON.stringify(k)}:${v}}`)),
);
/** Not JSON at all, or JSON cut short. */
const brokenText = fc.oneof(
  fc.string({ unit: 'binary' }),
  jsonText.filter((t) => t.length > 1).chain((t) => fc.integer({ min: 1, max: t.length - 1 }).map((cut) => t.slice(0, cut))),
  fc.constantFrom('', '{', '}', '{"code":', 'undefined', "{'code':'x'}", '{"code":"x",}', 'NaN', '[1,2,', '\u0000', '{"a":1}{"b":2}'),
);
const inputText = fc.oneof({ weight: 4, arbitrary: jsonText }, { weight: 3, arbitrary: nearMiss }, { weight: 1, arbitrary: deepNesting }, { weight: 2, arbitrary: brokenText });

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 300 });
const authorization = fc.oneof(
  fc.constant<string | undefined>(undefined),
  fc.constant('valid'),
  printable.map((s) => s.trim()),
  printable.map((s) => `Bearer ${s.trim()}`),
);

// ---------- transport ----------

interface Call {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS';
  path: string;
  query?: string;
  body?: string;
  contentType?: string | undefined;
  authorization?: string | undefined;
}

async function send(call: Call): Promise<RawResponse> {
  requestsSent++;
  const headers: Record<string, string> = {};
  if (call.contentType !== undefined) headers['content-type'] = call.contentType;
  if (call.authorization !== undefined) headers.authorization = call.authorization === 'valid' ? `Bearer ${token}` : call.authorization;
  const url = `${server.url}/trpc/${call.path}${call.query ? `?${call.query}` : ''}`;
  return toRaw(await fetch(url, { method: call.method, headers, ...(call.method !== 'GET' && call.body !== undefined ? { body: call.body } : {}) }));
}

/** URLs carry UTF-8: a lone surrogate cannot be sent as such (fetch would send U+FFFD), so encode it as that. */
const wellFormed = (text: string) => text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');

function queryFor(input: string, batch: boolean): string {
  let encoded = encodeURIComponent(wellFormed(input));
  if (encoded.length > MAX_GET_QUERY) encoded = encoded.slice(0, MAX_GET_QUERY).replace(/%[0-9A-F]?$/i, '');
  return `${batch ? 'batch=1&' : ''}input=${encoded}`;
}

/** The property every answer must hold: not 5xx; an error carries a tRPC envelope with a message saying what to do. */
function expectWellBehaved(answer: RawResponse, call: Call) {
  const where = `${call.method} /trpc/${call.path.slice(0, 200)}?${(call.query ?? '').slice(0, 200)} body=${(call.body ?? '').slice(0, 200)} → ${answer.status} ${answer.text.slice(0, 300)}`;
  if (answer.status >= 500) throw new Error(`5xx: ${where}`);
  if (answer.status >= 400 || answer.status === 207) {
    const items = Array.isArray(answer.json) ? answer.json : [answer.json];
    const errors = items.map((item) => (item as { error?: unknown } | undefined)?.error).filter(Boolean);
    if (errors.length === 0) throw new Error(`error without a tRPC envelope: ${where}`);
    for (const error of errors) {
      const { message, data } = error as { message?: unknown; data?: { reason?: unknown; httpStatus?: unknown } };
      if (typeof message !== 'string' || message.length < 10) throw new Error(`error without a message: ${where}`);
      if (typeof data?.reason !== 'string') throw new Error(`error without a reason: ${where}`);
      if (typeof data.httpStatus === 'number' && data.httpStatus >= 500) throw new Error(`5xx inside a batch: ${where}`);
    }
  }
}

async function expectStillServing() {
  expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  const login = await loginAs(server.url, 'fuzz-alive');
  expect(login.token).toBeTypeOf('string');
}

// ---------- properties ----------

const contentType = fc.oneof(
  { weight: 8, arbitrary: fc.constant<string | undefined>('application/json') },
  { weight: 1, arbitrary: fc.constantFrom<string | undefined>(undefined, 'text/plain', 'application/json; charset=latin1', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/json\u00e9'.slice(0, 16)) },
);

describe(`single calls: ${RUNS} generated inputs per procedure`, () => {
  const procedures: Array<{ name: string; kind: 'query' | 'mutation' }> = [
    { name: 'login', kind: 'mutation' },
    { name: 'checkSession', kind: 'query' },
    { name: 'getProfile', kind: 'query' },
    { name: 'updateProfile', kind: 'mutation' },
    { name: 'logout', kind: 'mutation' },
  ];
  for (const procedure of procedures) {
    it(`${procedure.name}: never 5xx, errors say what to do`, { timeout: 300_000 }, async () => {
      await fc.assert(
        fc.asyncProperty(inputText, authorization, contentType, fc.boolean(), async (input, auth, type, asItIs) => {
          // logout revokes the session it is called with: give it one of its own.
          let authHeader = auth;
          if (procedure.name === 'logout' && auth === 'valid') authHeader = `Bearer ${(await loginAs(server.url, freshUser())).token}`;
          const call: Call =
            procedure.kind === 'query' || !asItIs
              ? { method: procedure.kind === 'query' ? 'GET' : 'POST', path: procedure.name, query: queryFor(input, false), authorization: authHeader }
              : { method: 'POST', path: procedure.name, body: input, contentType: type, authorization: authHeader };
          if (call.method === 'POST' && call.body === undefined) {
            // A mutation whose input travels in the query string (not the protocol): must still be a clean 4xx.
            call.body = '';
            call.contentType = 'application/json';
          }
          expectWellBehaved(await send(call), call);
        }),
        fcOptions,
      );
      await expectStillServing();
    });
  }
});

describe(`batched calls and malformed envelopes: ${RUNS} generated batches`, () => {
  const name = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('login', 'checkSession', 'getProfile', 'updateProfile', 'logout') },
    { weight: 1, arbitrary: fc.constantFrom('nope', '', 'login.login', '__proto__', 'constructor', 'toString', '%2e%2e', 'getProfile%00', 'ログイン') },
  );
  const batchBody = fc.oneof(
    // Index-keyed inputs, sometimes with gaps, extra indexes or pollution keys.
    fc.array(fc.tuple(fc.oneof(fc.nat({ max: 8 }).map(String), protoKey, fc.constantFrom('-1', '1.5', 'x')), inputText), { maxLength: 6 }).map(
      (entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`,
    ),
    inputText,
  );

  it('never 5xx, errors say what to do', { timeout: 300_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(name, { minLength: 1, maxLength: 6 }),
        batchBody,
        fc.constantFrom<'GET' | 'POST'>('GET', 'POST'),
        fc.constantFrom('batch=1', 'batch=1', 'batch=0', 'batch=true', 'batch=1&batch=1', ''),
        fc.option(authorization, { nil: undefined }),
        async (names, body, method, batchParam, auth) => {
          const authHeader = auth === 'valid' && names.includes('logout') ? `Bearer ${(await loginAs(server.url, freshUser())).token}` : auth;
          const path = names.map((n) => encodeURIComponent(wellFormed(n))).join(',');
          let call: Call;
          if (method === 'GET') {
            let encoded = encodeURIComponent(wellFormed(body));
            if (encoded.length > MAX_GET_QUERY) encoded = encoded.slice(0, MAX_GET_QUERY).replace(/%[0-9A-F]?$/i, '');
            call = { method, path, query: [batchParam, `input=${encoded}`].filter(Boolean).join('&'), authorization: authHeader };
          } else {
            call = { method, path, query: batchParam, body, contentType: 'application/json', authorization: authHeader };
          }
          expectWellBehaved(await send(call), call);
        },
      ),
      fcOptions,
    );
    await expectStillServing();
  });
});

describe('malformed envelopes, one by one', () => {
  const auth = () => `Bearer ${token}`;
  const cases: Array<{ name: string; call: () => Call; status?: number | RegExp }> = [
    // Our queries take no input and tRPC reads input lazily, so a query ignores a broken one; a mutation cannot.
    { name: 'bad input JSON in the query of a query', call: () => ({ method: 'GET', path: 'checkSession', query: 'input=%7B' }), status: /^(200|400)$/ },
    { name: 'input that is not URL-encoded', call: () => ({ method: 'GET', path: 'getProfile', query: 'input={"a":%}', authorization: auth() }), status: /^(200|400)$/ },
    { name: 'bad input JSON in the body of a mutation', call: () => ({ method: 'POST', path: 'updateProfile', body: '{"nickname":', contentType: 'application/json', authorization: auth() }), status: 400 },
    { name: 'bad input JSON in a batched mutation', call: () => ({ method: 'POST', path: 'updateProfile,updateProfile', query: 'batch=1', body: '{"0":{"nickname":"a"},"1":', contentType: 'application/json', authorization: auth() }), status: 400 },
    { name: 'broken percent-encoding in the path', call: () => ({ method: 'GET', path: 'getProfile%E0%A4%A' }), status: 400 },
    { name: 'no procedure at all', call: () => ({ method: 'GET', path: '' }), status: 404 },
    { name: 'a nested path', call: () => ({ method: 'POST', path: 'login/extra', body: '{}', contentType: 'application/json' }), status: 404 },
    { name: 'unknown procedure', call: () => ({ method: 'GET', path: 'dropTables' }), status: 404 },
    { name: 'unknown procedure in a batch', call: () => ({ method: 'GET', path: 'getProfile,dropTables', query: 'batch=1', authorization: auth() }), status: /^(207|404)$/ },
    { name: 'batch=1 with fewer inputs than calls', call: () => ({ method: 'POST', path: 'updateProfile,updateProfile,updateProfile', query: 'batch=1', body: '{"0":{"nickname":"a"}}', contentType: 'application/json', authorization: auth() }), status: /^(207|400)$/ },
    { name: 'batch=1 with more inputs than calls', call: () => ({ method: 'POST', path: 'updateProfile', query: 'batch=1', body: '{"0":{"nickname":"a"},"1":{"nickname":"b"},"7":{}}', contentType: 'application/json', authorization: auth() }), status: /^(200|400)$/ },
    { name: 'batch=1 with an array instead of an index object', call: () => ({ method: 'POST', path: 'login,login', query: 'batch=1', body: '[{"code":"a"},{"code":"b"}]', contentType: 'application/json' }), status: 400 },
    { name: 'batch=1 with a string body', call: () => ({ method: 'POST', path: 'login', query: 'batch=1', body: '"code"', contentType: 'application/json' }), status: 400 },
    { name: 'batch mixing queries and mutations', call: () => ({ method: 'POST', path: 'getProfile,logout', query: 'batch=1', body: '{}', contentType: 'application/json', authorization: auth() }), status: /^4\d\d$/ },
    { name: 'GET for a mutation', call: () => ({ method: 'GET', path: 'updateProfile', query: `input=${encodeURIComponent('{"nickname":"a"}')}`, authorization: auth() }), status: 405 },
    { name: 'GET for a mutation, batched', call: () => ({ method: 'GET', path: 'login,login', query: 'batch=1&input=%7B%7D' }), status: 405 },
    { name: 'POST for a query', call: () => ({ method: 'POST', path: 'getProfile', body: '{}', contentType: 'application/json', authorization: auth() }), status: 405 },
    { name: 'POST with an empty body', call: () => ({ method: 'POST', path: 'login', body: '', contentType: 'application/json' }), status: 400 },
    { name: 'POST with body null', call: () => ({ method: 'POST', path: 'login', body: 'null', contentType: 'application/json' }), status: 400 },
    { name: 'POST without a content-type', call: () => ({ method: 'POST', path: 'login', body: '{"code":"x"}', contentType: undefined }), status: /^4\d\d$/ },
    { name: 'POST as XML', call: () => ({ method: 'POST', path: 'login', body: '<code>x</code>', contentType: 'application/xml' }), status: 415 },
    { name: 'POST as a form', call: () => ({ method: 'POST', path: 'login', body: 'code=x', contentType: 'application/x-www-form-urlencoded' }), status: 415 },
    { name: 'POST as multipart', call: () => ({ method: 'POST', path: 'login', body: '--x\r\nContent-Disposition: form-data; name="code"\r\n\r\nx\r\n--x--', contentType: 'multipart/form-data; boundary=x' }), status: /^4\d\d$/ },
    { name: 'an empty procedure list', call: () => ({ method: 'GET', path: ',,,', query: 'batch=1' }), status: /^4\d\d$/ },
    { name: '300 calls in one batch', call: () => ({ method: 'GET', path: Array(300).fill('checkSession').join(','), query: 'batch=1' }), status: 200 },
    { name: '1,000 calls in one batch (a path over the router limit)', call: () => ({ method: 'GET', path: Array(1000).fill('checkSession').join(','), query: 'batch=1' }), status: 414 },
    { name: 'one name over the router limit', call: () => ({ method: 'GET', path: 'x'.repeat(6000) }), status: 414 },
  ];
  for (const c of cases) {
    it(`${c.name} → ${String(c.status ?? '4xx')} with a message`, async () => {
      const call = c.call();
      const answer = await send(call);
      expectWellBehaved(answer, call);
      if (typeof c.status === 'number') expect(answer.status, answer.text).toBe(c.status);
      else if (c.status) expect(String(answer.status), answer.text).toMatch(c.status);
    });
  }

  it('other HTTP methods (PUT, DELETE, PATCH, OPTIONS) → 4xx with a message; HEAD never 5xx', async () => {
    for (const method of ['PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const call: Call = { method: method as Call['method'], path: 'getProfile', body: '{}', contentType: 'application/json', authorization: `Bearer ${token}` };
      const answer = await send(call);
      expectWellBehaved(answer, call);
      expect(answer.status, method).toBeGreaterThanOrEqual(400);
    }
    requestsSent++;
    const head = await fetch(`${server.url}/trpc/getProfile`, { method: 'HEAD', headers: { authorization: `Bearer ${token}` } });
    expect(head.status).toBeLessThan(500);
  });

  it('a body over the 64 KiB limit → 413 saying what to send, for single and batched calls', async () => {
    for (const path of ['login', 'updateProfile,updateProfile']) {
      const call: Call = { method: 'POST', path, query: path.includes(',') ? 'batch=1' : '', body: JSON.stringify({ code: 'x'.repeat(70 * 1024) }), contentType: 'application/json', authorization: `Bearer ${token}` };
      const answer = await send(call);
      expect(answer.status).toBe(413);
      const error = envelopeError(answer.json);
      expect(error?.data).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', httpStatus: 413, reason: 'invalid_input' });
      expect(error?.message).toMatch(/larger than 64 KiB.*send only the input/);
    }
    // Exactly at the limit is still parsed (and rejected by the schema, not the size).
    const atLimit = JSON.stringify({ code: 'x'.repeat(64 * 1024 - 11) });
    expect(atLimit.length).toBe(64 * 1024);
    const answer = await send({ method: 'POST', path: 'login', body: atLimit, contentType: 'application/json' });
    expect(answer.status).toBe(400);
    expect(envelopeError(answer.json)?.data.reason).toBe('invalid_input');
  });

  it('a request line over 16 KiB → 431 with a message; the server keeps serving', async () => {
    requestsSent++;
    const { port } = new URL(server.url);
    const answer = await rawHttp(server.url, `GET /trpc/checkSession?input=${'a'.repeat(20_000)} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(answer).toMatch(/16 KiB/);
    await expectStillServing();
  });

  it('broken HTTP → 400 with a message; the server keeps serving', async () => {
    requestsSent++;
    const answer = await rawHttp(server.url, 'GET /trpc/checkSession HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toMatch(/Malformed HTTP request/);
    await expectStillServing();
  });

  it('prototype pollution keys do not pollute: Object.prototype is untouched after all of the above', () => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(Object.prototype)).toEqual([]);
  });
});
