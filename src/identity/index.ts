export { ROLES } from './principal.js';
export type { Access, Principal, Role } from './principal.js';
export { installAccessGuard, principalOf, registeredRoutes, SESSION_COOKIE } from './access-guard.js';
export type { AccessGuardDeps, RegisteredRoute } from './access-guard.js';
export { createSession, loadPrincipal, resolveSession, revokeSession } from './sessions.store.js';
export { registerIdentityRoutes } from './auth.routes.js';
export { createThrottles } from './throttle.js';
export type { Throttle, ThrottleRule } from './throttle.js';
export type { Me } from './sign-in.js';
