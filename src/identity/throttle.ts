import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { logSecurityEvent } from '../audit/index.js';
import type { ParleyContext } from '../context.js';
import { DomainError } from '../platform/errors/index.js';
import type { HttpApp } from '../platform/http/index.js';

export interface ThrottleRule {
  /** Names the rule in the security log (`login_per_ip`, `hcp_search_per_user`, …). */
  name: string;
  /** Requests allowed per key and window. */
  max: number;
  /** A window in milliseconds or as @fastify/rate-limit reads it ('1 minute'). */
  timeWindow: number | string;
  /** What is counted: an IP, a user id, a keyed hash of an email. Never a personal value in clear. */
  keyOf: (request: FastifyRequest) => string;
}

/** Counts a request against a rule; throws `rate_limited` (429) once the rule's budget is spent. */
export type Throttle = (request: FastifyRequest) => Promise<void>;

/**
 * Throttles built on @fastify/rate-limit's counters. The plugin is registered in a scope of its own with
 * `global: false`, so it touches no other route, and each rule is checked explicitly: one route may need
 * several (login counts per IP and per email), which the plugin's per-route config cannot express.
 * Every refusal writes a `throttled` line to the security log, the alert brute force and bulk
 * extraction raise. Counters live in this process: behind a load balancer each instance counts its own.
 */
export async function createThrottles(
  app: HttpApp,
  ctx: Pick<ParleyContext, 'db' | 'clock'>,
): Promise<(rule: ThrottleRule) => Throttle> {
  let scope: FastifyInstance | undefined;
  await app.register(async (child) => {
    await child.register(rateLimit, { global: false });
    scope = child;
  });
  const limiterScope = scope!;
  return (rule) => {
    const check = limiterScope.createRateLimit({
      max: rule.max,
      timeWindow: rule.timeWindow,
      keyGenerator: (request) => `${rule.name}:${rule.keyOf(request)}`,
    });
    return async (request) => {
      const result = await check(request);
      if (result.isAllowed || !result.isExceeded) return;
      await logSecurityEvent(ctx.db, ctx.clock.now(), {
        kind: 'throttled',
        actorId: request.principal?.id ?? null,
        ip: request.ip,
        method: request.method,
        route: request.routeOptions.url ?? null,
        detail: { rule: rule.name, max: rule.max },
      });
      throw new DomainError('rate_limited', 'Too many requests; try again later.', {
        retryAfterSeconds: result.ttlInSeconds,
      });
    };
  };
}
