import { createParley } from '../parley.js';
import type { Command } from './commands.js';

export const serveCommand: Command = {
  summary: 'migrate, seed demo data into an empty database (PARLEY_DEMO=1) and serve HTTP on PORT',
  async run(_args, config) {
    const started = performance.now();
    const parley = await createParley({ config });
    const { logger } = parley.context;
    for (const name of config.demoSecrets) {
      logger.warn(`${name} is the public demo value: set your own before real use`);
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
