import { verifyAuditChain } from '../audit/index.js';
import { openStore } from '../platform/database/index.js';
import type { Command } from './commands.js';

/** Where the verb writes; the real command writes to the process's streams, tests to arrays. */
export interface CommandOutput {
  out(text: string): void;
  err(text: string): void;
}

const USAGE = 'Usage: parley audit verify [--json] [--anchor <seq>:<hash>]...\n';
const ANCHOR = /^(\d{1,15}):([0-9a-f]{64})$/;

/**
 * `parley audit verify [--json]`: walks the whole audit chain of the database `PARLEY_DATABASE_URL`
 * names. Exit 0 when it is whole; 1 naming the first broken row (seq and id) otherwise; 2 when the
 * trail cannot be read (wrong database, schema not migrated). Reading is not a state change, so the run
 * itself is not audited. `--json` prints the report as one JSON line, for scripts. `--anchor seq:hash`
 * (repeatable) names heads printed by earlier runs and kept outside Parley: the chain must still pass
 * through each, so even a rewrite by someone past the database's guards is found.
 */
export function auditCommandWith(io: CommandOutput): Command {
  return {
    summary:
      'audit verify [--json] [--anchor seq:hash]: verify the hash-chained audit trail; exit 1 naming the first broken row',
    async run(args, config) {
      const [sub, ...rest] = args;
      let json = false;
      const anchors: Array<{ seq: number; hash: string }> = [];
      let usable = sub === 'verify';
      for (let i = 0; i < rest.length && usable; i += 1) {
        const arg = rest[i];
        if (arg === '--json') json = true;
        else if (arg === '--anchor') {
          const match = ANCHOR.exec(rest[(i += 1)] ?? '');
          if (match) anchors.push({ seq: Number(match[1]), hash: match[2] ?? '' });
          else usable = false;
        } else usable = false;
      }
      if (!usable) {
        io.err(USAGE);
        return 2;
      }
      let store;
      try {
        store = await openStore(config.databaseUrl);
      } catch (error) {
        io.err(`parley audit verify: cannot open the database: ${messageOf(error)}\n`);
        return 2;
      }
      try {
        const report = await verifyAuditChain(store.db, { anchors });
        if (json) {
          (report.ok ? io.out : io.err)(`${JSON.stringify(report)}\n`);
        } else if (report.ok) {
          const head = report.head ? `; head seq ${report.head.seq}, hash ${report.head.hash}` : '';
          io.out(`audit chain verified: ${report.checked} events${head}\n`);
        } else {
          io.err(
            `audit chain BROKEN at seq ${report.firstBrokenSeq ?? '?'}` +
              `${report.firstBrokenId ? `, id ${report.firstBrokenId}` : ''} [${report.problem ?? ''}]\n` +
              `  ${report.message ?? ''}\n  ${report.checked} events verified before it\n`,
          );
        }
        return report.ok ? 0 : 1;
      } catch (error) {
        io.err(`parley audit verify: cannot read the audit trail: ${messageOf(error)}\n`);
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

export const auditCommand = auditCommandWith({
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
});
