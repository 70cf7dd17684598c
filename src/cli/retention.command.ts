import { systemClock, type Clock } from '../platform/clock/index.js';
import { openStore } from '../platform/database/index.js';
import { runRetention } from '../privacy/index.js';
import { contextOf } from '../parley.js';
import type { Command } from './commands.js';

const USAGE = 'Usage: parley retention run [--dry-run] [--json]\n';

/**
 * `parley retention run [--dry-run] [--json]`: the retention job of docs/privacy.md on the database
 * `PARLEY_DATABASE_URL` names, once, now. Prints how many records of each kind were past their period
 * (and removed, unless `--dry-run`, which changes and audits nothing). Exit 0; 2 on usage errors or when
 * the store cannot be read.
 */
export function retentionCommandWith(
  io: { out(text: string): void; err(text: string): void },
  clock: Clock = systemClock,
): Command {
  return {
    summary:
      'retention run [--dry-run] [--json]: remove records past the rulebook retention periods (never audit events)',
    async run(args, config) {
      const [sub, ...rest] = args;
      const flags = new Set(rest);
      if (sub !== 'run' || rest.some((a) => a !== '--dry-run' && a !== '--json')) {
        io.err(USAGE);
        return 2;
      }
      let store;
      try {
        store = await openStore(config.databaseUrl);
      } catch (error) {
        io.err(`parley retention: cannot open the database: ${messageOf(error)}\n`);
        return 2;
      }
      try {
        const run = await runRetention(contextOf(config, store, { clock }), {
          dryRun: flags.has('--dry-run'),
        });
        if (flags.has('--json')) io.out(`${JSON.stringify(run)}\n`);
        else {
          const verb = run.dryRun ? 'would remove' : 'removed';
          io.out(
            `retention ${run.dryRun ? '(dry run) ' : ''}at ${run.at}, rulebook v${run.rulebookVersion}:\n` +
              Object.entries(run.kinds)
                .map(([kind, k]) => `  ${kind}: ${verb} ${k.expired}\n`)
                .join(''),
          );
        }
        return 0;
      } catch (error) {
        io.err(`parley retention: ${messageOf(error)}\n`);
        return 2;
      } finally {
        await store.close();
      }
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export const retentionCommand = retentionCommandWith({
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
});
