import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { notFound } from '../errors.js';

// GET /console/: the operator console, files built by Vite from console/ (npm run build).
// The page and its assets load without a key; the page then calls the admin routes with
// the key the operator types. Only the service's own scripts, styles and API may be used.
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

export async function installConsole(app: FastifyInstance, { folder }: { folder: string }): Promise<void> {
  if (!existsSync(path.join(folder, 'index.html'))) {
    // A checkout that was never built: say so instead of a bare 404.
    const notBuilt = async () => {
      throw notFound('CONSOLE_NOT_BUILT', 'The console is not built: run `npm run build` (the Docker image contains it)');
    };
    app.get('/console', { schema: { hide: true } }, notBuilt);
    app.get('/console/*', { schema: { hide: true } }, notBuilt);
    return;
  }
  // The page's URLs are relative to /console/.
  app.get('/console', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/console/', 301));
  await app.register(fastifyStatic, {
    root: folder,
    prefix: '/console/',
    decorateReply: false,
    index: ['index.html'],
    // Vite names assets by their content's hash: they never change; the page itself always revalidates.
    cacheControl: false,
    setHeaders(reply, filePath) {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
      const immutable = filePath.includes(`${path.sep}assets${path.sep}`);
      reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
}
