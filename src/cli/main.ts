import { ConfigError, readConfigFromEnvironment } from '../platform/config/index.js';
import { commands } from './commands.js';

/**
 * `parley <verb> [args]`. Configuration is read once here; a bad variable stops with one line naming it.
 */
async function main(argv: string[]): Promise<number> {
  const [verb, ...args] = argv;
  const command = verb ? commands[verb] : undefined;
  if (!command) {
    if (verb && verb !== 'help' && verb !== '--help')
      process.stderr.write(`parley: unknown verb '${verb}'\n\n`);
    process.stderr.write(usage());
    return verb && verb !== 'help' && verb !== '--help' ? 2 : 0;
  }
  let config;
  try {
    config = readConfigFromEnvironment();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`parley: configuration error: ${error.message}\n`);
      return 78; // EX_CONFIG
    }
    throw error;
  }
  return command.run(args, config);
}

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `Usage: parley <verb> [options]\n\n${lines.join('\n')}\n`;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined && code !== 0) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`parley: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
