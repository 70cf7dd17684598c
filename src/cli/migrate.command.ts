import { migrateToLatest, openStore } from '../platform/database/index.js';
import type { Command } from './commands.js';

export const migrateCommand: Command = {
  summary: 'bring the database schema up to date',
  async run(_args, config) {
    const store = await openStore(config.databaseUrl);
    try {
      const ran = await migrateToLatest(store.db);
      process.stdout.write(ran.length ? `migrated: ${ran.join(', ')}\n` : 'schema is up to date\n');
      return 0;
    } finally {
      await store.close();
    }
  },
};
