import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import fp from 'fastify-plugin';

/**
 * Makes `app.close()` end once the requests in flight are answered. Node's `server.close()` closes only the
 * connections idle at that instant and then waits for every other one: a keep-alive connection whose request
 * finishes later would hold the close for Fastify's keepAliveTimeout (72 s), and a connection a client opened and
 * never used (HTTP clients pre-open them under load) for headersTimeout (60 s). So, once closing: connections
 * without a request in flight are dropped at once, and each busy one is closed right after its response (sent with
 * `Connection: close` when its headers are not out yet). Requests in flight always complete.
 * Nothing runs per request: only the connection set is kept, and the work happens at close.
 */
export const connectionDrainPlugin = fp(
  async (app) => {
    const sockets = new Set<Socket>();
    app.server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    app.addHook('preClose', (done) => {
      for (const socket of sockets) {
        // The response in flight on this connection, as Node's own closeIdleConnections reads it.
        const response = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
        if (!response || response.writableFinished) {
          socket.destroy();
          continue;
        }
        if (!response.headersSent) response.setHeader('connection', 'close');
        response.once('close', () => socket.destroySoon());
      }
      done();
    });
  },
  { name: 'connection-drain' },
);
