import { demoLogins, isStoreEmpty, seedDemoWorld } from '../demo/index.js';
import { createParley } from '../parley.js';
import type { Command } from './commands.js';
import { describeSeed } from './seed.command.js';

export const serveCommand: Command = {
  summary: 'migrate, seed demo data into an empty database (PARLEY_DEMO=1) and serve HTTP on PORT',
  async run(_args, config) {
    const started = performance.now();
    const parley = await createParley({ config });
    const { logger, db } = parley.context;
    for (const name of config.demoSecrets) {
      logger.warn(`${name} is the public demo value: set your own before real use`);
    }
    let demo = '';
    if (config.demo.enabled) {
      if (await isStoreEmpty(db)) {
        const summary = await seedDemoWorld(parley.context);
        demo = describeSeed(summary, config.demo.password);
      } else {
        // Seeded on an earlier start: say how to sign in again, if the demo users are still there.
        const emails = demoLogins().map((l) => l.email);
        const present = await db.selectFrom('users').select('email').where('email', 'in', emails).execute();
        if (present.length > 0) {
          const width = Math.max(...emails.map((e) => e.length));
          demo = [
            `Demo logins (password "${config.demo.password}" unless changed since the seed):`,
            ...demoLogins()
              .filter((l) => present.some((p) => p.email === l.email))
              .map((l) => `  ${l.email.padEnd(width)}  ${l.role}`),
            '',
          ].join('\n');
        }
      }
    }
    const address = await parley.app.listen({ port: config.port, host: config.host });
    const url = address.replace('0.0.0.0', '127.0.0.1').replace('[::]', '127.0.0.1');
    process.stdout.write(
      [
        '',
        `Parley is running at ${url} (ready in ${Math.round(performance.now() - started)} ms)`,
        `  API docs (OpenAPI): ${url}/api/docs`,
        `  Database: ${config.databaseUrl.replace(/\/\/[^@]*@/, '//…@')}`,
        '',
        demo,
      ].join('\n'),
    );
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await parley.close();
    return 0;
  },
};
