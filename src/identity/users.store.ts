import type { DbOrTx, UsersTable } from '../platform/database/index.js';
import type { Principal } from './principal.js';

/** A user as sign-in sees it: enough to check the password and start a session. */
export type SignInCandidate = Pick<UsersTable, 'id' | 'email' | 'name' | 'role' | 'password_hash' | 'active'>;

/** The user with this work address (stored lower-cased), if any. */
export async function findUserByEmail(db: DbOrTx, email: string): Promise<SignInCandidate | undefined> {
  return db
    .selectFrom('users')
    .select(['id', 'email', 'name', 'role', 'password_hash', 'active'])
    .where('email', '=', email.trim().toLowerCase())
    .executeTakeFirst();
}

/**
 * The territories a principal works, for `/api/me`: their own, and for a manager also those of the reps
 * they lead (the same reach the HCP scoping rule gives them).
 */
export async function territoriesOf(
  db: DbOrTx,
  principal: Pick<Principal, 'id'>,
): Promise<Array<{ id: string; name: string }>> {
  return db
    .selectFrom('territories')
    .select(['territories.id', 'territories.name'])
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('user_territories')
          .innerJoin('users', 'users.id', 'user_territories.user_id')
          .select('user_territories.territory_id')
          .whereRef('user_territories.territory_id', '=', 'territories.id')
          .where((w) => w.or([w('users.id', '=', principal.id), w('users.manager_id', '=', principal.id)])),
      ),
    )
    .orderBy('territories.name')
    .orderBy('territories.id')
    .execute();
}
