import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { RouteModule } from '../context.js';
import { principalOf, SESSION_COOKIE } from './access-guard.js';
import { ROLES } from './principal.js';
import { describeMe, signIn, signOut } from './sign-in.js';
import { createThrottles } from './throttle.js';

// Guessing budget: a person who mistypes a few times never meets these; a script does at once. The
// per-IP budget leaves room for an office behind one NAT address signing in at the start of the day.
const LOGINS_PER_IP_PER_MINUTE = 30;
const LOGINS_PER_EMAIL_PER_15_MINUTES = 10;

const meSchema = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  markets: z.array(z.string()),
  territories: z.array(z.object({ id: z.string(), name: z.string() })),
});

const loginBody = z.object({
  email: z.string().trim().min(3).max(320),
  password: z.string().min(1).max(1024),
});

/** Sign-in, sign-out and `/api/me`. */
export const registerIdentityRoutes: RouteModule = async (app, ctx) => {
  const throttle = await createThrottles(app, ctx);
  const perIp = throttle({
    name: 'login_per_ip',
    max: LOGINS_PER_IP_PER_MINUTE,
    timeWindow: '1 minute',
    keyOf: (request) => request.ip,
  });
  const perEmail = throttle({
    name: 'login_per_email',
    max: LOGINS_PER_EMAIL_PER_15_MINUTES,
    timeWindow: '15 minutes',
    // Counted by a hash, so the counter's keys hold no address.
    keyOf: (request) =>
      createHash('sha256')
        .update(
          String((request.body as { email?: unknown } | undefined)?.email ?? '')
            .trim()
            .toLowerCase(),
        )
        .digest('base64url'),
  });

  app.post(
    '/api/auth/login',
    {
      config: { access: 'public' },
      schema: {
        tags: ['identity'],
        summary: 'Sign in: a bearer token and an HTTP-only session cookie',
        body: loginBody,
        response: { 200: z.object({ token: z.string(), expiresAt: z.string(), user: meSchema }) },
      },
      preHandler: [perIp, perEmail],
    },
    async (request, reply) => {
      const { token, expiresAt, principal } = await signIn(ctx, request.body, {
        ip: request.ip,
        method: request.method,
        route: request.routeOptions.url,
      });
      reply.setCookie(SESSION_COOKIE, token, {
        httpOnly: true,
        sameSite: 'strict',
        secure: ctx.config.secureCookies,
        path: '/',
        maxAge: Math.round(ctx.config.sessionHours * 3600),
      });
      return { token, expiresAt, user: await describeMe(ctx, principal) };
    },
  );

  app.post(
    '/api/auth/logout',
    {
      config: { access: 'user' },
      schema: {
        tags: ['identity'],
        summary: 'Sign out: the session is revoked and its cookie cleared',
        response: { 204: z.null() },
      },
    },
    async (request, reply) => {
      await signOut(ctx, principalOf(request));
      reply.clearCookie(SESSION_COOKIE, {
        httpOnly: true,
        sameSite: 'strict',
        secure: ctx.config.secureCookies,
        path: '/',
      });
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/api/me',
    {
      config: { access: 'user' },
      schema: { tags: ['identity'], summary: 'The signed-in user', response: { 200: meSchema } },
    },
    async (request) => describeMe(ctx, principalOf(request)),
  );
};
