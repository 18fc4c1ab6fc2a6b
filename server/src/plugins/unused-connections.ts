import type { Socket } from 'node:net';
import fp from 'fastify-plugin';

/**
 * On close, drops connections that never delivered a request. Node's `server.close()` waits for every connection,
 * but only closes the idle keep-alive ones: a socket a client opened and never used (HTTP clients pre-open them
 * under load; slowloris-style clients too) would hold graceful shutdown for `headersTimeout` (60 s).
 * Connections with a request in flight are left alone, so those requests still complete.
 */
export const unusedConnectionsPlugin = fp(
  async (app) => {
    const unused = new Set<Socket>();
    app.server.on('connection', (socket: Socket) => {
      unused.add(socket);
      socket.once('close', () => unused.delete(socket));
    });
    app.server.on('request', (request: { socket: Socket }) => {
      unused.delete(request.socket);
    });
    app.addHook('preClose', (done) => {
      for (const socket of unused) socket.destroy();
      unused.clear();
      done();
    });
  },
  { name: 'unused-connections' },
);
