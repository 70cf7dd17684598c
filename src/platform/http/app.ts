import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import helmet from 'helmet';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { isDomainError, type ErrorCode } from '../errors/index.js';
import type { Logger } from '../logging/index.js';
import { NUL_REFUSED, pathToNul } from '../text/index.js';
import { httpStatusOf } from './error-map.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** False on a route whose answers are read by machines (Meta's webhooks): no security headers. */
    securityHeaders?: boolean;
  }
}

export type HttpApp = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger, ZodTypeProvider>;

export interface HttpAppOptions {
  logger: Logger;
  /** Largest body accepted, in bytes; larger ones are refused with 413 before they are read whole. */
  bodyLimit?: number;
  /** Tells whether the store answers, for /healthz. */
  isDatabaseUp: () => Promise<boolean>;
}

/** The error body every route answers with: `{ error: { code, message, details? } }`. */
export function errorBody(code: ErrorCode | string, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/** The body of a 400 `validation_failed`: every bad field's path and why, in the message and in `details`. */
function validationFailed(where: string, details: { path: string; message: string }[]) {
  return errorBody(
    'validation_failed',
    `The ${where} is not valid: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`,
    details,
  );
}

/**
 * The Fastify app with the edge concerns every route shares: zod validation and serialisation, one
 * error-to-HTTP map (no stack trace ever reaches a client), security headers, the OpenAPI document at
 * /api/docs and /healthz. Capabilities register their routes on it.
 */
export async function createHttpApp(options: HttpAppOptions): Promise<HttpApp> {
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    trustProxy: true,
    // Opaque request ids make log lines joinable without carrying anything personal.
    genReqId: () => crypto.randomUUID(),
    // Slow clients (slowloris: a connection that says nothing, trickles its headers, or its body a byte at
    // a time) must not hold a socket for ever. Node answers them 408 and closes the socket: when the
    // headers are not complete 10 s after the connection opened (a silent one included), or the whole
    // request not received 30 s after it began (3 MB, Meta's largest delivery, at 100 KB/s). These bound
    // receiving the request only: a slow handler (an export) is not cut. Checked every 2 s (Node's 30 s
    // default would let a 10 s limit run to 40 s). No cap on connections or on requests per socket: a cap
    // would let slow clients crowd Meta out, and Meta reuses its connections; each open connection costs
    // one file descriptor, so run with `ulimit -n` well above the connections expected (docs/whatsapp-receiving.md).
    http: { headersTimeout: 10_000, connectionsCheckingInterval: 2_000 },
    requestTimeout: 30_000,
    // Idle keep-alive sockets close after 72 s: longer than the 60 s idle timeout of common load balancers,
    // so one in front closes first and never sends on a socket Parley is closing.
    keepAliveTimeout: 72_000,
    // No idle timeout on an open request beyond the two above: it would also cut a handler that works
    // silently for a while.
    connectionTimeout: 0,
    maxRequestsPerSocket: 0,
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  await app.register(cookie);
  // Security headers from helmet, its middleware built once. (@fastify/helmet builds it anew for every
  // request: 24 µs and 16 KB of garbage a request, measured on this project's machines.) A route that
  // answers machines, not browsers, opts out with `config: { securityHeaders: false }`.
  const securityHeaders = helmet({
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
      },
    },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
  });
  app.addHook('onRequest', (request, reply, done) => {
    if (request.routeOptions.config.securityHeaders === false) return done();
    securityHeaders(request.raw, reply.raw, (error?: unknown) => done(error as Error | undefined));
  });

  // Text holding a NUL is refused on every route before its schema is checked, alike on both stores
  // (platform/text says why). A body read as bytes (Meta's webhooks, an uploaded file) is not walked.
  app.addHook('preValidation', async (request, reply) => {
    const parts = [
      ['body', request.body],
      ['querystring', request.query],
      ['params', request.params],
    ] as const;
    for (const [where, value] of parts) {
      const path = pathToNul(value);
      if (!path) continue;
      return reply
        .status(400)
        .send(validationFailed(where, [{ path: [where, ...path].join('.'), message: NUL_REFUSED }]));
    }
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Parley API',
        version: '0.1.0',
        description: 'A governed WhatsApp channel between pharmaceutical field reps and HCPs.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          session: { type: 'apiKey', in: 'cookie', name: 'parley_session' },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
    transform: jsonSchemaTransform,
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(error)) {
      const where = error.validationContext ?? 'request';
      const details = error.validation.map((v) => ({
        path: [where, ...v.instancePath.split('/').filter(Boolean)].join('.'),
        message: v.message ?? 'invalid',
      }));
      return reply.status(400).send(validationFailed(where, details));
    }
    if (isDomainError(error)) {
      const status = httpStatusOf[error.code];
      if (status >= 500) request.log.error({ err: error }, 'domain failure');
      return reply.status(status).send(errorBody(error.code, error.message, error.details));
    }
    const status = error.statusCode ?? 500;
    if (status === 413)
      return reply.status(413).send(errorBody('payload_too_large', 'The request body is too large.'));
    if (status === 415)
      return reply
        .status(415)
        .send(errorBody('unsupported_media_type', 'Send JSON (content-type: application/json).'));
    if (status === 429)
      return reply
        .status(429)
        .send(errorBody('rate_limited', error.message || 'Too many requests; try again later.'));
    if (status >= 400 && status < 500) {
      // Fastify's own client errors (malformed JSON, empty body with a JSON content type, ...).
      return reply.status(status).send(errorBody('bad_request', error.message));
    }
    if (isUnavailable(error)) {
      request.log.error({ err: error }, 'store unavailable');
      return reply
        .status(503)
        .send(errorBody('unavailable', 'The service is briefly unavailable; try again.'));
    }
    request.log.error({ err: error }, 'unhandled failure');
    return reply
      .status(500)
      .send(errorBody('internal', 'Something went wrong on our side; it has been logged.'));
  });

  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(errorBody('not_found', `No route ${request.method} ${request.url.split('?')[0]}`)),
  );

  app.get('/healthz', { config: { access: 'public' }, schema: { hide: true } }, async (_request, reply) => {
    const up = await options.isDatabaseUp().catch(() => false);
    return reply.status(up ? 200 : 503).send({ status: up ? 'ok' : 'database unavailable' });
  });

  app.get('/api/docs', { config: { access: 'public' }, schema: { hide: true } }, async () => app.swagger());

  return app;
}

/** Connection-level failures of the store: the client may retry (Meta does), so 503, never 500 or 200. */
function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return (
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === '57P01' || // admin_shutdown
    code === '57P03' || // cannot_connect_now
    code === 'SQLITE_BUSY' ||
    (error instanceof Error &&
      /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect/.test(
        error.message,
      ))
  );
}
