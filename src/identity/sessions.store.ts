import { sql } from 'kysely';
import { newId, hashToken, newToken } from '../platform/crypto/index.js';
import { preparedQuery, type DbOrTx } from '../platform/database/index.js';
import type { Principal, Role } from './principal.js';

/** Starts a session: the token is returned once and only its hash is stored. */
export async function createSession(
  db: DbOrTx,
  userId: string,
  now: Date,
  ttlHours: number,
): Promise<{ token: string; sessionId: string; expiresAt: string }> {
  const { token, tokenHash } = newToken();
  const sessionId = newId('ses');
  const expiresAt = new Date(now.getTime() + ttlHours * 3600_000).toISOString();
  await db
    .insertInto('sessions')
    .values({
      id: sessionId,
      user_id: userId,
      token_hash: tokenHash,
      created_at: now.toISOString(),
      expires_at: expiresAt,
      revoked_at: null,
    })
    .execute();
  return { token, sessionId, expiresAt };
}

export async function revokeSession(db: DbOrTx, sessionId: string, now: Date): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ revoked_at: now.toISOString() })
    .where('id', '=', sessionId)
    .where('revoked_at', 'is', null)
    .execute();
}

/** The principal behind a bearer token or session cookie; undefined when unknown, expired or revoked. */
export async function resolveSession(db: DbOrTx, token: string, now: Date): Promise<Principal | undefined> {
  const row = await sessionByTokenHash.first(db, { tokenHash: hashToken(token) });
  if (!row || row.revoked_at !== null || row.active !== 1 || row.expires_at <= now.toISOString())
    return undefined;
  return loadPrincipal(db, {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    sessionId: row.sessionId,
  });
}

// Every authenticated request runs these two reads: built and compiled once (preparedQuery).
const sessionByTokenHash = preparedQuery((db, $: { tokenHash: string }) =>
  db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select([
      'sessions.id as sessionId',
      'sessions.expires_at',
      'sessions.revoked_at',
      'users.id',
      'users.email',
      'users.name',
      'users.role',
      'users.active',
    ])
    .where('sessions.token_hash', '=', $.tokenHash),
);
const scopeOf = preparedQuery((db, $: { userId: string }) =>
  db
    .selectFrom('user_markets')
    .select([sql.lit('market').as('kind'), 'market_code as code'])
    .where('user_id', '=', $.userId)
    .unionAll(
      db
        .selectFrom('user_territories')
        .select([sql.lit('territory').as('kind'), 'territory_id as code'])
        .where('user_id', '=', $.userId),
    ),
);

/**
 * The principal's scope: their markets and territories, read in one statement (a union of the two
 * lists), since every authenticated request reads both.
 */
export async function loadPrincipal(
  db: DbOrTx,
  user: { id: string; email: string; name: string; role: Role; sessionId: string },
): Promise<Principal> {
  const scope = await scopeOf.all(db, { userId: user.id });
  const codesOf = (kind: string) =>
    scope
      .filter((s) => s.kind === kind)
      .map((s) => s.code)
      .sort();
  return { ...user, marketCodes: codesOf('market'), territoryIds: codesOf('territory') };
}
