import { logSecurityEvent } from '../audit/index.js';
import type { ParleyContext } from '../context.js';
import { hashPassword, verifyPassword } from '../platform/crypto/index.js';
import { DomainError } from '../platform/errors/index.js';
import type { Principal } from './principal.js';
import { createSession, loadPrincipal, revokeSession } from './sessions.store.js';
import { findUserByEmail, territoriesOf } from './users.store.js';

/** The `/api/me` shape (CONTRACT.md); login answers it as `user`. */
export interface Me {
  id: string;
  email: string;
  name: string;
  role: Principal['role'];
  markets: string[];
  territories: Array<{ id: string; name: string }>;
}

/** Where a request came from, for the security log (never a personal value). */
export interface RequestOrigin {
  ip?: string;
  method?: string;
  route?: string;
}

type Deps = Pick<ParleyContext, 'db' | 'clock' | 'config' | 'audit'>;

// One message for an unknown email and a wrong password, so the answer never tells which it was.
const SIGN_IN_FAILED = 'The email or password is not right.';

// A hash to verify against when the email is unknown, so that answer takes as long as a wrong password.
let decoyHash: Promise<string> | undefined;

export async function describeMe(deps: Pick<ParleyContext, 'db'>, principal: Principal): Promise<Me> {
  return {
    id: principal.id,
    email: principal.email,
    name: principal.name,
    role: principal.role,
    markets: [...principal.marketCodes],
    territories: await territoriesOf(deps.db, principal),
  };
}

/**
 * Checks an email and password and starts a new session (a new id and token on every sign-in, so a
 * session id planted before sign-in is never promoted). A bad email, a bad password and an inactive
 * account fail alike, with a `login_failed` line in the security log.
 */
export async function signIn(
  deps: Deps,
  credentials: { email: string; password: string },
  origin: RequestOrigin,
): Promise<{ token: string; expiresAt: string; principal: Principal }> {
  const user = await findUserByEmail(deps.db, credentials.email);
  decoyHash ??= hashPassword('parley-decoy-password');
  const passwordOk = await verifyPassword(credentials.password, user?.password_hash ?? (await decoyHash));
  if (!user || !passwordOk || user.active !== 1) {
    await logSecurityEvent(deps.db, deps.clock.now(), {
      kind: 'login_failed',
      actorId: null,
      ip: origin.ip ?? null,
      method: origin.method ?? null,
      route: origin.route ?? null,
      target: user?.id ?? null,
      detail: { reason: !user ? 'unknown_user' : !passwordOk ? 'bad_password' : 'inactive_user' },
    });
    throw new DomainError('unauthenticated', SIGN_IN_FAILED);
  }
  const now = deps.clock.now();
  return deps.db.transaction().execute(async (tx) => {
    const session = await createSession(tx, user.id, now, deps.config.sessionHours);
    const principal = await loadPrincipal(tx, {
      id: user.id,
      email: user.email,
      name: user.name,
      role: user.role,
      sessionId: session.sessionId,
    });
    await deps.audit.record(tx, {
      actor: principal,
      action: 'session.started',
      target: { type: 'session', id: session.sessionId },
      after: { userId: user.id, expiresAt: session.expiresAt },
    });
    return { token: session.token, expiresAt: session.expiresAt, principal };
  });
}

/** Ends the caller's session: its token and cookie stop working at once. */
export async function signOut(deps: Deps, principal: Principal): Promise<void> {
  await deps.db.transaction().execute(async (tx) => {
    await revokeSession(tx, principal.sessionId, deps.clock.now());
    await deps.audit.record(tx, {
      actor: principal,
      action: 'session.ended',
      target: { type: 'session', id: principal.sessionId },
      after: { userId: principal.id },
    });
  });
}
