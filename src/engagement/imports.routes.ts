import { Transform } from 'node:stream';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { RouteModule } from '../context.js';
import { principalOf } from '../identity/index.js';
import { DomainError } from '../platform/errors/index.js';
import { SHIPPED_MAPPINGS, loadImportMapping } from './import-mapping.js';
import { IMPORT_KINDS } from './import-records.js';
import { runImport, type ImportFormat } from './import.store.js';

const CSV_TYPES = ['text/csv', 'application/csv'];
const JSONL_TYPES = [
  'application/x-ndjson',
  'application/jsonl',
  'application/x-jsonlines',
  'application/ndjson',
];
/** An upload is streamed, never held whole; this bounds one request all the same. */
const MAX_UPLOAD_BYTES = 512 * 1024 * 1024;

const summarySchema = z.object({
  importId: z.string(),
  kind: z.enum(IMPORT_KINDS),
  status: z.enum(['applied', 'rejected']),
  total: z.number(),
  valid: z.number(),
  invalid: z.number(),
  inserted: z.number(),
  updated: z.number(),
  unchanged: z.number(),
  rejects: z.array(z.object({ line: z.number(), reasons: z.array(z.string()) })),
});

function byteLimit(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > max)
        done(
          new DomainError('payload_too_large', `An upload may be at most ${max} bytes; use parley import.`),
        );
      else done(null, chunk);
    },
  });
}

/**
 * `POST /api/imports/:kind` (admin): the same import as `parley import`, for a file sent as the request
 * body (`content-type: text/csv` or `application/x-ndjson`). All or nothing unless `?skipInvalid=true`.
 */
export const registerImportRoutes: RouteModule = async (app, ctx) => {
  await app.register(async (plain) => {
    const scope = plain.withTypeProvider<ZodTypeProvider>();
    // The body is handed to the importer as a stream: a large file is never buffered whole.
    scope.addContentTypeParser([...CSV_TYPES, ...JSONL_TYPES], (_request, payload, done) =>
      done(null, payload),
    );
    scope.post(
      '/api/imports/:kind',
      {
        config: { access: ['admin'] },
        schema: {
          tags: ['engagement'],
          summary: 'Import HCPs, territories, consents or interactions from CSV or JSON Lines',
          params: z.object({ kind: z.enum(IMPORT_KINDS) }),
          querystring: z.object({
            skipInvalid: z.enum(['true', 'false', '1', '0']).optional(),
            mapping: z.enum(SHIPPED_MAPPINGS).optional(),
            fileName: z.string().max(200).optional(),
          }),
          response: { 201: summarySchema },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request);
        const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        const format: ImportFormat | undefined = CSV_TYPES.includes(type)
          ? 'csv'
          : JSONL_TYPES.includes(type)
            ? 'jsonl'
            : undefined;
        if (!format)
          throw new DomainError(
            'unsupported_media_type',
            'Send the file as text/csv or application/x-ndjson.',
          );
        const mapping = request.query.mapping ? await loadImportMapping(request.query.mapping) : undefined;
        if (mapping && mapping.kind !== request.params.kind)
          throw new DomainError(
            'bad_request',
            `mapping ${request.query.mapping} is for ${mapping.kind}, not ${request.params.kind}`,
          );
        const body = request.body as NodeJS.ReadableStream;
        const limited = byteLimit(MAX_UPLOAD_BYTES);
        body.on('error', (e) => limited.destroy(e as Error));
        body.pipe(limited);
        const summary = await runImport(ctx, {
          kind: request.params.kind,
          format,
          input: limited,
          fileName: request.query.fileName ?? `upload.${format}`,
          actor: principal,
          skipInvalid: request.query.skipInvalid === 'true' || request.query.skipInvalid === '1',
          mapping,
          // Smaller batches than the command line's: inside the server, each batch is a stretch of work
          // other requests (webhook acknowledgements above all) wait behind.
          batchSize: 250,
        });
        // Rejects name lines and reasons only: the rows themselves stay in the uploader's file.
        const rejects = summary.rejects.map((r) => ({ line: r.line, reasons: r.reasons }));
        if (summary.status === 'rejected') {
          throw new DomainError('unprocessable', `${summary.invalid} bad line(s): nothing was applied.`, {
            importId: summary.importId,
            total: summary.total,
            rejects: rejects.slice(0, 10_000),
          });
        }
        return reply.status(201).send({ ...summary, rejects: rejects.slice(0, 10_000) });
      },
    );
  });
};
