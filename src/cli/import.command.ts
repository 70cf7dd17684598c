import { createReadStream, createWriteStream } from 'node:fs';
import { basename, extname } from 'node:path';
import { parseArgs } from 'node:util';
import {
  IMPORT_KINDS,
  loadImportMapping,
  runImport,
  type ImportFormat,
  type ImportKind,
  type ImportSummary,
} from '../engagement/index.js';
import { migrateToLatest, openStore } from '../platform/database/index.js';
import { isDomainError } from '../platform/errors/index.js';
import { contextOf } from '../parley.js';
import type { Command } from './commands.js';

/** Where the verb writes; the real command writes to the process's streams, tests to arrays. */
export interface ImportIo {
  out(text: string): void;
  err(text: string): void;
  /** A terminal gets a progress line, rewritten in place. */
  isTTY: boolean;
}

const USAGE = `Usage: parley import <${IMPORT_KINDS.join('|')}> <file> [--format csv|jsonl] [--mapping name|file.yaml]
                     [--skip-invalid] [--rejects file] [--batch N]
  All or nothing by default: any bad line applies nothing, lists every bad line and exits 1.
  --skip-invalid applies the good lines and writes the bad ones to --rejects (default <file>.rejects.jsonl); exit 3.
  --mapping translates CRM export field names (shipped: veeva-accounts, veeva-calls, veeva-consents,
  salesforce-accounts, salesforce-tasks, salesforce-events, salesforce-consents).
`;

function formatOf(file: string, given: string | undefined): ImportFormat | undefined {
  if (given === 'csv' || given === 'jsonl') return given;
  if (given !== undefined) return undefined;
  const ext = extname(file).toLowerCase();
  return ext === '.csv' ? 'csv' : ext === '.jsonl' || ext === '.ndjson' ? 'jsonl' : undefined;
}

/**
 * `parley import <kind> <file>`: streams the file into staging and applies it in one step (see
 * engagement `runImport`). Exit 0 when everything was applied; 1 when the file was rejected (nothing
 * applied); 3 when --skip-invalid applied the good lines and wrote the bad ones aside; 2 for usage errors.
 */
export function importCommandWith(io: ImportIo): Command {
  return {
    summary: 'import <hcps|territories|consents|interactions> <file>: CSV or JSON Lines, all or nothing',
    async run(args, config) {
      let parsed;
      try {
        parsed = parseArgs({
          args,
          allowPositionals: true,
          options: {
            format: { type: 'string' },
            mapping: { type: 'string' },
            'skip-invalid': { type: 'boolean', default: false },
            rejects: { type: 'string' },
            batch: { type: 'string' },
          },
        });
      } catch (error) {
        io.err(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
        return 2;
      }
      const [kind, file] = parsed.positionals;
      if (
        !kind ||
        !(IMPORT_KINDS as readonly string[]).includes(kind) ||
        !file ||
        parsed.positionals.length > 2
      ) {
        io.err(USAGE);
        return 2;
      }
      const format = formatOf(file, parsed.values.format);
      if (!format) {
        io.err(
          `parley import: cannot tell the format of ${file}: name it .csv or .jsonl, or pass --format\n`,
        );
        return 2;
      }
      // Without --batch, the engine's own staging batch size (see engagement import.store.ts).
      const batchSize = parsed.values.batch ? Number(parsed.values.batch) : undefined;
      if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1)) {
        io.err('parley import: --batch must be a positive whole number\n');
        return 2;
      }
      const mapping = parsed.values.mapping ? await loadImportMapping(parsed.values.mapping) : undefined;
      if (mapping && mapping.kind !== kind) {
        io.err(`parley import: mapping ${parsed.values.mapping} is for ${mapping.kind}, not ${kind}\n`);
        return 2;
      }
      const store = await openStore(config.databaseUrl);
      const started = performance.now();
      try {
        await migrateToLatest(store.db);
        const summary = await runImport(contextOf(config, store), {
          kind: kind as ImportKind,
          format,
          input: createReadStream(file),
          fileName: basename(file),
          // The command line has no signed-in user: the import is Parley's own act, named as such.
          actor: null,
          skipInvalid: parsed.values['skip-invalid'],
          mapping,
          batchSize,
          onProgress: io.isTTY
            ? ({ rows, invalid }) => {
                const rate = Math.round(rows / Math.max((performance.now() - started) / 1000, 0.001));
                io.err(
                  `\rimport ${kind}: ${rows.toLocaleString('en')} lines read, ${invalid} bad (${rate.toLocaleString('en')}/s)`,
                );
              }
            : undefined,
        });
        if (io.isTTY) io.err('\n');
        return await report(io, file, summary, parsed.values['skip-invalid'], parsed.values.rejects, started);
      } catch (error) {
        if (isDomainError(error)) {
          io.err(`parley import: ${error.message}\n`);
          return 1;
        }
        throw error;
      } finally {
        await store.close();
      }
    },
  };
}

async function report(
  io: ImportIo,
  file: string,
  s: ImportSummary,
  skipInvalid: boolean,
  rejectsFile: string | undefined,
  started: number,
): Promise<number> {
  const seconds = (performance.now() - started) / 1000;
  const rate = Math.round(s.total / Math.max(seconds, 0.001));
  io.out(
    `import ${s.kind} from ${basename(file)}: ${s.status === 'applied' ? 'applied' : 'NOTHING APPLIED'} (${s.importId})\n` +
      `  lines ${s.total} · valid ${s.valid} · bad ${s.invalid} · inserted ${s.inserted} · updated ${s.updated} · unchanged ${s.unchanged}` +
      ` · ${seconds.toFixed(1)} s, ${rate.toLocaleString('en')} lines/s` +
      (s.status === 'applied' ? ` (applied in one step of ${(s.applyMs / 1000).toFixed(1)} s)` : '') +
      '\n',
  );
  for (const r of s.rejects.slice(0, 1000)) io.err(`line ${r.line}: ${r.reasons.join('; ')}\n`);
  if (s.rejects.length > 1000) io.err(`… and ${s.rejects.length - 1000} more bad lines\n`);
  if (s.status === 'rejected') {
    io.err(`${s.invalid} bad line(s): nothing was applied. Fix them, or re-run with --skip-invalid.\n`);
    return 1;
  }
  if (s.rejects.length > 0 && skipInvalid) {
    const path = rejectsFile ?? `${file}.rejects.jsonl`;
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(path);
      out.on('error', reject);
      for (const r of s.rejects) out.write(`${JSON.stringify(r)}\n`);
      out.end(resolve);
    });
    io.err(`${s.invalid} bad line(s) skipped and written to ${path}\n`);
    return 3;
  }
  return 0;
}

export const importCommand = importCommandWith({
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  isTTY: process.stderr.isTTY === true,
});
