export { ROLES } from './principal.js';
export type { Access, Principal, Role } from './principal.js';
export { installAccessGuard, principalOf, SESSION_COOKIE } from './access-guard.js';
export type { AccessGuardDeps } from './access-guard.js';
export { createSession, loadPrincipal, resolveSession, revokeSession } from './sessions.store.js';
