import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../platform/clock/index.js';
import type { DbOrTx } from '../platform/database/index.js';
import { DomainError } from '../platform/errors/index.js';
import type { HttpApp } from '../platform/http/index.js';
import type { Access, Principal } from './principal.js';
import { resolveSession } from './sessions.store.js';

export const SESSION_COOKIE = 'parley_session';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call this route; every route must say (see installAccessGuard). */
    access?: Access;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** The signed-in principal of a request whose route declared a non-public access. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new DomainError('unauthenticated', 'Sign in first.');
  return request.principal;
}

/** A route as the guard saw it registered: what the authorization matrix test walks. */
export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
  readonly access: Access;
}

const routeCatalogues = new WeakMap<object, RegisteredRoute[]>();

/** Every route registered after the guard was installed, with the access it declared. */
export function registeredRoutes(app: HttpApp): readonly RegisteredRoute[] {
  return [...(routeCatalogues.get(app) ?? [])];
}

export interface AccessGuardDeps {
  db: DbOrTx;
  clock: Clock;
  /** Writes an access denial to the security log. */
  onDenied: (request: FastifyRequest, kind: 'unauthenticated' | 'forbidden' | 'csrf') => Promise<void>;
}

/**
 * Authentication and function-level authorisation, in one hook for every route:
 * - a route that does not declare `config.access` fails at start-up, so no route is open by omission;
 * - the principal comes from `Authorization: Bearer <token>` or the session cookie;
 * - a state-changing request authenticated by cookie must come from Parley's own origin (CSRF), since a
 *   browser attaches cookies to cross-site requests but never a bearer header.
 * Object-level scoping (which HCPs) is not here: it lives in the data access path (hcps).
 */
export function installAccessGuard(app: HttpApp, deps: AccessGuardDeps): void {
  app.decorateRequest('principal', null);

  const catalogue: RegisteredRoute[] = [];
  routeCatalogues.set(app, catalogue);
  app.addHook('onRoute', (route) => {
    const access = (route.config as { access?: Access } | undefined)?.access;
    if (access === undefined && !route.url.startsWith('/documentation')) {
      throw new Error(`Route ${String(route.method)} ${route.url} declares no config.access`);
    }
    if (access === undefined) return;
    for (const method of [route.method].flat()) {
      // HEAD twins of GET routes are Fastify's own; they share the GET route's guard.
      if (method !== 'HEAD') catalogue.push({ method, url: route.url, access });
    }
  });

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const access = request.routeOptions.config?.access;
    if (access === undefined || access === 'public') return;
    const bearer = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const cookie = request.cookies?.[SESSION_COOKIE];
    const token = bearer ?? cookie;
    const principal = token ? await resolveSession(deps.db, token, deps.clock.now()) : undefined;
    if (!principal) {
      await deps.onDenied(request, 'unauthenticated');
      throw new DomainError(
        'unauthenticated',
        'Sign in first (POST /api/auth/login), then send the token as Authorization: Bearer <token>.',
      );
    }
    request.principal = principal;
    if (!bearer && isStateChanging(request.method) && !isSameOrigin(request)) {
      await deps.onDenied(request, 'csrf');
      throw new DomainError('csrf_rejected', 'A cross-site request with a session cookie was refused.');
    }
    if (access !== 'user' && !access.includes(principal.role)) {
      await deps.onDenied(request, 'forbidden');
      throw new DomainError('forbidden', `This action is not open to the ${principal.role} role.`);
    }
    void reply;
  });
}

function isStateChanging(method: string): boolean {
  return method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';
}

/**
 * Origin (or Referer) must name the host the request was sent to; browsers always send Origin on POST.
 * `request.host` is the Host header, or X-Forwarded-Host behind a proxy (trustProxy): a cross-site page
 * cannot set that header on a browser request, which CORS would stop at the preflight.
 */
function isSameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin ?? request.headers.referer;
  if (!origin) return false;
  try {
    return new URL(origin).host === request.host;
  } catch {
    return false;
  }
}
