import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

interface ErrorBody {
  error: { message: string; data: { code: string; httpStatus: number; reason?: string } };
}

async function send(path: string, init?: RequestInit) {
  const response = await fetch(`${server.url}${path}`, init);
  return { status: response.status, body: (await response.json()) as ErrorBody };
}

describe('requests that are not well-formed tRPC say how to send them', () => {
  it('an unknown procedure → 404, pointing at the list of procedures', async () => {
    const { status, body } = await send('/trpc/getProfiles');
    expect(status).toBe(404);
    expect(body.error.data).toMatchObject({ code: 'NOT_FOUND', reason: 'invalid_input' });
    expect(body.error.message).toMatch(/getProfiles.*openapi\.json/s);
  });

  it('a GET for a mutation → 405, explaining query vs mutation encoding', async () => {
    const { status, body } = await send('/trpc/login?input=%7B%22code%22%3A%22x%22%7D');
    expect(status).toBe(405);
    expect(body.error.data).toMatchObject({ code: 'METHOD_NOT_SUPPORTED', reason: 'invalid_input' });
    expect(body.error.message).toMatch(/mutations are POST/);
  });

  it('a mutation sent as text/plain → 415, asking for JSON', async () => {
    const { status, body } = await send('/trpc/login', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' });
    expect(status).toBe(415);
    expect(body.error.data).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', reason: 'invalid_input' });
    expect(body.error.message).toMatch(/application\/json/);
  });

  it('a body that is not JSON → 400 invalid_input, and the server keeps serving', async () => {
    const { status, body } = await send('/trpc/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"code": "abc' });
    expect(status).toBe(400);
    expect(body.error.data.reason).toBe('invalid_input');
    expect(body.error.message).toMatch(/as JSON/);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
