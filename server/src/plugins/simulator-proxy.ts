import http from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';

/**
 * In a cluster worker in simulator mode: `/__wechat/*` forwarded to the one simulator the primary runs, so a code
 * minted through any worker is known to whichever worker exchanges it (the simulator keeps its state in memory).
 */
const proxy: FastifyPluginAsync<{ upstream: string }> = async (app, options) => {
  const upstream = new URL(options.upstream);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  app.addHook('onClose', async () => agent.destroy());
  // Bodies pass through as bytes, whatever their type.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.all('/*', (request, reply) => {
    const path = request.url.replace(/^\/__wechat/, '');
    const headers: http.OutgoingHttpHeaders = {};
    for (const name of ['content-type', 'content-length', 'accept']) {
      const value = request.headers[name];
      if (value !== undefined) headers[name] = value;
    }
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: request.method, path: `${upstream.pathname.replace(/\/$/, '')}${path}`, headers, agent },
      (answer) => {
        void reply.code(answer.statusCode ?? 502);
        const type = answer.headers['content-type'];
        if (type) void reply.header('content-type', type);
        void reply.send(answer);
      },
    );
    forward.on('error', (error: NodeJS.ErrnoException) => {
      if (!reply.sent) void reply.code(502).send({ error: `the shared WeChat simulator did not answer (${error.code ?? error.message}): restart the server` });
    });
    forward.end(Buffer.isBuffer(request.body) ? request.body : undefined);
    return reply;
  });
};

export const simulatorProxyPlugin = fp<{ upstream: string }>(
  async (app, options) => {
    await app.register(proxy, { ...options, prefix: '/__wechat' });
  },
  { name: 'wechat-simulator' },
);
