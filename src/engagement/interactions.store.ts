import type { ParleyContext } from '../context.js';
import { newId } from '../platform/crypto/index.js';
import type { ExpressionBuilder } from 'kysely';
import type { Database, DbOrTx, InteractionsTable } from '../platform/database/index.js';

/** One event on an HCP's cross-channel timeline (CONTRACT.md "Interaction"). */
export interface Interaction {
  id: string;
  hcpId: string;
  channel: InteractionsTable['channel'];
  direction: InteractionsTable['direction'];
  kind: InteractionsTable['kind'];
  occurredAt: string;
  repId: string | null;
  summary: string | null;
  topics: string[];
  products: string[];
  source: string;
  externalId: string;
  templateId: string | null;
  assetIds: string[];
  messageId: string | null;
  status: string | null;
}

export interface NewInteraction {
  hcpId: string;
  channel: InteractionsTable['channel'];
  direction: InteractionsTable['direction'];
  kind: InteractionsTable['kind'];
  occurredAt: string;
  repId?: string | null;
  /** Never a WhatsApp message body: bodies stay sealed on the message. */
  summary?: string | null;
  topics?: string[];
  products?: string[];
  /** System of origin and its id: `(source, externalId)` is unique, so recording twice updates once. */
  source: string;
  externalId: string;
  templateId?: string | null;
  assetIds?: string[];
  messageId?: string | null;
  status?: string | null;
}

export function toInteraction(row: InteractionsTable): Interaction {
  return {
    id: row.id,
    hcpId: row.hcp_id,
    channel: row.channel,
    direction: row.direction,
    kind: row.kind,
    occurredAt: row.occurred_at,
    repId: row.rep_id,
    summary: row.summary,
    topics: JSON.parse(row.topics_json) as string[],
    products: JSON.parse(row.products_json) as string[],
    source: row.source,
    externalId: row.external_id,
    templateId: row.template_id,
    assetIds: JSON.parse(row.asset_ids_json) as string[],
    messageId: row.message_id,
    status: row.status,
  };
}

/**
 * Puts an event on an HCP's timeline, idempotently on `(source, externalId)`: a second call with the same
 * pair updates the row in place (an import re-run, a webhook retry) and returns it with `created: false`.
 * Callers that change state audit it themselves, in the same transaction.
 */
export async function recordInteraction(
  db: DbOrTx,
  ctx: Pick<ParleyContext, 'clock'>,
  input: NewInteraction,
): Promise<{ interaction: Interaction; created: boolean }> {
  const now = ctx.clock.now().toISOString();
  const values = {
    hcp_id: input.hcpId,
    // The HCP's seq, which the timeline index is keyed by, read in the same statement.
    hcp_seq: (eb: ExpressionBuilder<Database, 'interactions'>) =>
      eb.selectFrom('hcps').select('hcps.seq').where('hcps.id', '=', input.hcpId),
    channel: input.channel,
    direction: input.direction,
    kind: input.kind,
    occurred_at: input.occurredAt,
    rep_id: input.repId ?? null,
    summary: input.summary ?? null,
    topics_json: JSON.stringify(input.topics ?? []),
    products_json: JSON.stringify(input.products ?? []),
    template_id: input.templateId ?? null,
    asset_ids_json: JSON.stringify(input.assetIds ?? []),
    message_id: input.messageId ?? null,
    status: input.status ?? null,
    updated_at: now,
    // A row an import is still writing (hidden until it publishes) becomes this call's, visible now, and
    // is no longer the import's to take out should it be rejected.
    import_id: null,
  };
  const id = newId('int');
  const inserted = await db
    .insertInto('interactions')
    .values({ id, source: input.source, external_id: input.externalId, created_at: now, ...values })
    .onConflict((oc) => oc.columns(['source', 'external_id']).doUpdateSet(values))
    .returningAll()
    .executeTakeFirstOrThrow();
  return { interaction: toInteraction(inserted), created: inserted.id === id };
}

/** The interaction recorded under `(source, externalId)`, if any. */
export async function findInteractionByKey(
  db: DbOrTx,
  source: string,
  externalId: string,
): Promise<Interaction | undefined> {
  const row = await db
    .selectFrom('interactions')
    .selectAll()
    .where('source', '=', source)
    .where('external_id', '=', externalId)
    .executeTakeFirst();
  return row ? toInteraction(row) : undefined;
}
