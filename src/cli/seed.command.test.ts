import { describe, expect, it } from 'vitest';
import { parseConfig } from '../platform/config/index.js';
import { seedCommand } from './seed.command.js';

// The seeding itself is tested on both stores in src/demo; here, what the command refuses before it
// opens any store (the database URL points nowhere usable, so reaching it would fail differently).
describe('parley seed', () => {
  const config = parseConfig({ PARLEY_DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });

  it.each([
    ['a count that is not a number', ['--hcps', 'many']],
    ['zero HCPs', ['--hcps', '0']],
    ['a negative number of interactions', ['--interactions', '-5']],
    ['an unknown option', ['--users', '3']],
    ['a stray argument', ['world']],
  ])('exits 2 with usage on %s', async (_name, args) => {
    expect(await seedCommand.run(args, config)).toBe(2);
  });
});
