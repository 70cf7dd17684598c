import type { Config } from '../platform/config/index.js';
import { auditCommand } from './audit.command.js';
import { exportCommand } from './export.command.js';
import { importCommand } from './import.command.js';
import { migrateCommand } from './migrate.command.js';
import { retentionCommand } from './retention.command.js';
import { sandboxCommand } from './sandbox.command.js';
import { seedCommand } from './seed.command.js';
import { serveCommand } from './serve.command.js';

export interface Command {
  summary: string;
  /** Runs the verb; resolves to the exit code (a long-running verb resolves when it stops). */
  run(args: string[], config: Config): Promise<number>;
}

/** Every verb of `parley`. Add one file `<verb>.command.ts` and a line here. */
export const commands: Record<string, Command> = {
  import: importCommand,
  export: exportCommand,
  serve: serveCommand,
  migrate: migrateCommand,
  sandbox: sandboxCommand,
  audit: auditCommand,
  seed: seedCommand,
  retention: retentionCommand,
};
