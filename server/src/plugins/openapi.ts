import { createReadStream, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import fp from 'fastify-plugin';
import { buildOpenApiDocument } from '../openapi/document.ts';
import { serverRoot } from '../paths.ts';

/**
 * `GET /openapi.json`: the OpenAPI 3.1 document of the tRPC surface, generated from the router at startup.
 * `GET /docs`: Swagger UI rendering it, served from the swagger-ui-dist package (no CDN, works offline).
 */
export const openapiPlugin = fp<{ simulator: boolean }>(
  async (app, options) => {
    const version = (JSON.parse(readFileSync(join(serverRoot, 'package.json'), 'utf8')) as { version: string }).version;
    const document = buildOpenApiDocument({ simulator: options.simulator, version });

    app.get('/openapi.json', async (request, reply) => {
      // Absolute server URL, so Postman / Apifox imports point back at this server.
      const servers = [{ url: `${request.protocol}://${request.host}` }];
      return reply.type('application/json; charset=utf-8').send(JSON.stringify({ ...document, servers }));
    });

    const uiDir = swaggerUiDir();
    const assets: Record<string, string> = {
      'swagger-ui.css': 'text/css; charset=utf-8',
      'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
      'favicon-32x32.png': 'image/png',
    };

    app.get('/docs', async (_request, reply) => {
      if (!uiDir) return reply.code(503).type('text/plain; charset=utf-8').send(missingUi);
      return reply.type('text/html; charset=utf-8').send(page);
    });
    app.get('/docs/init.js', async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(init));
    app.get<{ Params: { file: string } }>('/docs/:file', async (request, reply) => {
      if (request.params.file === '') return reply.redirect('/docs'); // `/docs/` typed by hand
      const type = assets[request.params.file];
      if (!type) return reply.code(404).type('text/plain; charset=utf-8').send('Not found: the API docs are at /docs.\n');
      if (!uiDir) return reply.code(503).type('text/plain; charset=utf-8').send(missingUi);
      return reply.type(type).header('cache-control', 'public, max-age=3600').send(createReadStream(join(uiDir, request.params.file)));
    });
  },
  { name: 'openapi' },
);

function swaggerUiDir(): string | undefined {
  try {
    return dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  } catch {
    return undefined;
  }
}

const missingUi = 'The API docs page needs the swagger-ui-dist package: run `npm install` at the repository root, then restart. The raw document is at /openapi.json.\n';

const page = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>wxkit API</title>
  <link rel="icon" href="/docs/favicon-32x32.png">
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="api-docs"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

// validatorUrl: null keeps Swagger UI from sending the document to validator.swagger.io.
const init = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#api-docs',
  validatorUrl: null,
  deepLinking: true,
  persistAuthorization: true,
  tryItOutEnabled: true,
  displayRequestDuration: true,
});
`;
