import { describe, expect, it } from 'vitest';
import { isOtherSchemaVanished } from './migrate.js';

/**
 * Kysely's migrator reads the catalogue of every PostgreSQL schema before it starts; test suites drop their
 * schemas side by side, so that read can fail on a schema, or a table of one, vanishing under it. Those
 * failures are repeated; a missing table of our own schema is a real error and is not.
 */
describe('a migration run that another schema vanished under', () => {
  it('is repeated when a schema, or a table of another schema, disappeared during the catalogue read', () => {
    expect(isOtherSchemaVanished({ code: '3F000', message: 'schema "t_1" does not exist' }, 't_2')).toBe(
      true,
    );
    expect(
      isOtherSchemaVanished(
        { code: '42P01', message: 'relation "t_6ec4089bf778.service_windows" does not exist' },
        't_2',
      ),
    ).toBe(true);
  });

  it('is not repeated for a missing table of its own schema, an unqualified one, or another error', () => {
    expect(
      isOtherSchemaVanished(
        { code: '42P01', message: 'relation "t_2.service_windows" does not exist' },
        't_2',
      ),
    ).toBe(false);
    expect(
      isOtherSchemaVanished({ code: '42P01', message: 'relation "service_windows" does not exist' }, 't_2'),
    ).toBe(false);
    expect(isOtherSchemaVanished({ code: '23505', message: 'duplicate key value' }, 't_2')).toBe(false);
  });
});
