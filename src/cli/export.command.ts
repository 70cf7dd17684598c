import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { EXPORT_KINDS, exportText, type ExportKind } from '../engagement/index.js';
import { openStore } from '../platform/database/index.js';
import type { Command } from './commands.js';

const USAGE = `Usage: parley export <${EXPORT_KINDS.join('|')}> [--since ISO] [--format jsonl|csv] [--out file]
  Writes the export records of CONTRACT.md to stdout (or --out): interactions in creation order (oldest
  first), or with --since in change order (oldest change first); consents and messages oldest first.
  --since keeps records changed (interactions), recorded (consents) or created (messages) at or after it.
`;

/** Waits for a full stream buffer to drain, so a 10M-row export runs in constant memory. */
async function write(out: Writable, chunk: string): Promise<void> {
  if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', resolve));
}

/**
 * `parley export <kind>`: every record of the kind as JSON Lines (default) or CSV with the same columns.
 * Exit 0; 2 on usage errors. Reading is not a state change, so an export is not audited.
 */
export function exportCommandWith(io: { stdout: Writable; err(text: string): void }): Command {
  return {
    summary: 'export <interactions|consents|messages> [--since ISO] [--format jsonl|csv] [--out file]',
    async run(args, config) {
      let parsed;
      try {
        parsed = parseArgs({
          args,
          allowPositionals: true,
          options: {
            since: { type: 'string' },
            format: { type: 'string', default: 'jsonl' },
            out: { type: 'string' },
          },
        });
      } catch (error) {
        io.err(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
        return 2;
      }
      const [kind] = parsed.positionals;
      const { since, format } = parsed.values;
      if (!kind || !(EXPORT_KINDS as readonly string[]).includes(kind) || parsed.positionals.length > 1) {
        io.err(USAGE);
        return 2;
      }
      if (format !== 'jsonl' && format !== 'csv') {
        io.err('parley export: --format must be jsonl or csv\n');
        return 2;
      }
      const sinceIso = since === undefined ? undefined : new Date(since);
      if (sinceIso && Number.isNaN(sinceIso.getTime())) {
        io.err('parley export: --since must be an ISO 8601 time, e.g. 2026-03-01T00:00:00Z\n');
        return 2;
      }
      const store = await openStore(config.databaseUrl);
      const out = parsed.values.out ? createWriteStream(parsed.values.out) : io.stdout;
      try {
        // One write per page (thousands of lines), not per record: far fewer stream calls.
        for await (const text of exportText(store, kind as ExportKind, {
          since: sinceIso?.toISOString(),
          format,
        }))
          await write(out, text);
        if (out !== io.stdout) {
          out.end();
          await finished(out);
        }
        return 0;
      } finally {
        await store.close();
      }
    },
  };
}

export const exportCommand = exportCommandWith({
  stdout: process.stdout,
  err: (text) => process.stderr.write(text),
});
