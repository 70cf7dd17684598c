import { createHash } from 'node:crypto';
import type { ParleyContext } from '../context.js';
import { newId } from '../platform/crypto/index.js';
import type { DbOrTx, WebhookInboxTable } from '../platform/database/index.js';
import { readDelivery, type ParsedDelivery } from './webhook-payload.js';

/**
 * The webhook inbox: "acknowledged means stored". A delivery's raw body and its events are committed in
 * one transaction before Meta gets its 200; processing happens afterwards, from here. The raw body is
 * unique by its SHA-256 (a retried delivery is a no-op) and each event by its key (overlapping batches
 * store each event once).
 */

export interface StoredDelivery {
  inboxId: string;
  /** True when these exact bytes had already been stored: nothing was written. */
  duplicate: boolean;
  /** Events this delivery stored (events already stored by another delivery are not counted). */
  events: number;
}

/** Reads a body back into its events; a body that is not JSON is refused whole. */
function readBody(ctx: Pick<ParleyContext, 'cipher'>, body: string): ParsedDelivery {
  if (body.startsWith(BINARY_PREFIX)) return { ok: false, reason: 'the body is not JSON' };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'the body is not JSON' };
  }
  return readDelivery(json, (v) => ctx.cipher.blindIndex(v));
}

/** Opens a stored (sealed) body and reads it into its events. */
export function readStoredBody(ctx: Pick<ParleyContext, 'cipher'>, sealed: string): ParsedDelivery {
  return readBody(ctx, openStoredBody(ctx, sealed));
}

/**
 * The raw body as received. Bodies hold phone numbers and message text, so the inbox keeps them sealed
 * like every other personal value at rest.
 */
export function openStoredBody(ctx: Pick<ParleyContext, 'cipher'>, sealed: string): string {
  return ctx.cipher.open(sealed);
}

// Bytes that are not JSON in valid UTF-8 (or hold a NUL) are kept as base64, so the inbox always holds
// exactly what was received.
const BINARY_PREFIX = 'base64:';

function storableBody(raw: Buffer): string {
  const text = raw.toString('utf8');
  if (text.includes('\u0000') || !Buffer.from(text, 'utf8').equals(raw))
    return BINARY_PREFIX + raw.toString('base64');
  return text;
}

/**
 * Stores a verified delivery and its events in one transaction. A body that is not a WhatsApp envelope is
 * stored quarantined (signed by Meta, so kept for a person to look at, and acknowledged so Meta does not
 * retry it for 7 days); an event that does not parse is stored quarantined beside the good ones.
 */
export async function storeDelivery(
  ctx: Pick<ParleyContext, 'db' | 'clock' | 'cipher'>,
  raw: Buffer,
): Promise<StoredDelivery> {
  const bodySha256 = createHash('sha256').update(raw).digest('hex');
  const body = storableBody(raw);
  const parsed = readBody(ctx, body);
  const now = ctx.clock.now().toISOString();
  return ctx.db.transaction().execute(async (tx) => {
    const inboxId = newId('whk');
    const inserted = await tx
      .insertInto('webhook_inbox')
      .values({
        id: inboxId,
        body_sha256: bodySha256,
        body: ctx.cipher.seal(body),
        received_at: now,
        state: parsed.ok ? 'pending' : 'quarantined',
        attempts: 0,
        processed_at: null,
        error: parsed.ok ? null : parsed.reason,
      })
      .onConflict((oc) => oc.column('body_sha256').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) {
      const existing = await tx
        .selectFrom('webhook_inbox')
        .select('id')
        .where('body_sha256', '=', bodySha256)
        .executeTakeFirstOrThrow();
      return { inboxId: existing.id, duplicate: true, events: 0 };
    }
    if (!parsed.ok || parsed.events.length === 0) return { inboxId, duplicate: false, events: 0 };
    const rows = await tx
      .insertInto('webhook_events')
      .values(
        parsed.events.map((e) => ({
          event_key: e.key,
          inbox_id: inboxId,
          kind: e.kind,
          state: e.kind === 'quarantine' ? ('quarantined' as const) : ('pending' as const),
          error: e.kind === 'quarantine' ? e.reason : null,
          created_at: now,
          processed_at: null,
        })),
      )
      .onConflict((oc) => oc.column('event_key').doNothing())
      .returning('event_key')
      .execute();
    return { inboxId, duplicate: false, events: rows.length };
  });
}

/** Deliveries waiting to be processed, oldest first. */
export async function pendingDeliveries(
  db: DbOrTx,
  limit: number,
  exclude: readonly string[] = [],
): Promise<Pick<WebhookInboxTable, 'id' | 'body' | 'attempts'>[]> {
  let q = db
    .selectFrom('webhook_inbox')
    .select(['id', 'body', 'attempts'])
    .where('state', '=', 'pending')
    .orderBy('received_at')
    .orderBy('id')
    .limit(limit);
  if (exclude.length) q = q.where('id', 'not in', [...exclude]);
  return q.execute();
}

/** Keys of a delivery's events still waiting. */
export async function pendingEventKeys(db: DbOrTx, inboxId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('webhook_events')
    .select('event_key')
    .where('inbox_id', '=', inboxId)
    .where('state', '=', 'pending')
    .orderBy('event_key')
    .execute();
  return rows.map((r) => r.event_key);
}

/**
 * Claims one event for processing inside the caller's transaction: true when this transaction moved it
 * from pending to processed. A concurrent claimer (another worker, another instance) waits on the row on
 * PostgreSQL and then finds it no longer pending; on SQLite the transaction is already exclusive. So an
 * event's effects are applied once, however many workers race for it.
 */
export async function claimEvent(db: DbOrTx, eventKey: string, at: string): Promise<boolean> {
  const result = await db
    .updateTable('webhook_events')
    .set({ state: 'processed', processed_at: at, error: null })
    .where('event_key', '=', eventKey)
    .where('state', '=', 'pending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function quarantineEvent(
  db: DbOrTx,
  eventKey: string,
  reason: string,
  at: string,
): Promise<void> {
  await db
    .updateTable('webhook_events')
    .set({ state: 'quarantined', processed_at: at, error: reason.slice(0, 500) })
    .where('event_key', '=', eventKey)
    .where('state', '=', 'pending')
    .execute();
}

export async function noteAttemptFailed(db: DbOrTx, inboxId: string, reason: string): Promise<number> {
  const row = await db
    .updateTable('webhook_inbox')
    .set((eb) => ({ attempts: eb('attempts', '+', 1), error: reason.slice(0, 500) }))
    .where('id', '=', inboxId)
    .returning('attempts')
    .executeTakeFirst();
  return row?.attempts ?? 0;
}

/** Closes a delivery once none of its events is pending. */
export async function finishDelivery(db: DbOrTx, inboxId: string, at: string): Promise<void> {
  await db
    .updateTable('webhook_inbox')
    .set({ state: 'processed', processed_at: at })
    .where('id', '=', inboxId)
    .where('state', '=', 'pending')
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('webhook_events')
            .select('event_key')
            .where('webhook_events.inbox_id', '=', inboxId)
            .where('webhook_events.state', '=', 'pending'),
        ),
      ),
    )
    .execute();
}

export async function quarantineDelivery(
  db: DbOrTx,
  inboxId: string,
  reason: string,
  at: string,
): Promise<void> {
  await db
    .updateTable('webhook_inbox')
    .set({ state: 'quarantined', processed_at: at, error: reason.slice(0, 500) })
    .where('id', '=', inboxId)
    .execute();
}
