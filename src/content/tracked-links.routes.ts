import { z } from 'zod';
import type { ParleyContext } from '../context.js';
import type { HttpApp } from '../platform/http/index.js';
import { openTrackedLink } from './tracked-links.store.js';

/**
 * `GET /l/:code`, the link an HCP taps in a message. Public (the HCP never signs in); the code is the
 * only key. Never cached: each open must reach Parley to be counted and to see the asset's state now.
 */
export function registerTrackedLinkHttp(app: HttpApp, ctx: ParleyContext): void {
  app.get(
    '/l/:code',
    {
      config: { access: 'public' },
      schema: { hide: true, params: z.object({ code: z.string().max(200) }) },
    },
    async (request, reply) => {
      const outcome = await openTrackedLink(ctx.db, ctx, request.params.code, {
        method: request.method,
        headers: request.headers,
      });
      reply.header('cache-control', 'no-store').header('x-robots-tag', 'noindex, nofollow');
      if (outcome.kind === 'redirect') return reply.redirect(outcome.location, 302);
      return reply.status(outcome.status).type('text/html; charset=utf-8').send(outcome.html);
    },
  );
}
