import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { ParleyContext } from '../context.js';
import { newId } from '../platform/crypto/index.js';
import type { DbOrTx, WebhookInboxTable } from '../platform/database/index.js';
import { readDelivery, type ParsedDelivery, type WebhookEvent } from './webhook-payload.js';

/**
 * The webhook inbox: "acknowledged means stored". A delivery's raw body is committed before Meta gets its
 * 200; reading it into events and applying them happens afterwards, from here. Every delivery is stored,
 * a retried one too; what makes a retry a no-op is that each event is unique by its key, built from Meta's
 * ids (overlapping batches and retries store each event once, by whichever delivery is processed first).
 */

export interface StoredDelivery {
  inboxId: string;
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

// Bytes that are not valid UTF-8 (or hold a NUL) are kept as base64, so the inbox always holds exactly
// what was received.
const BINARY_PREFIX = 'base64:';

function storableBody(raw: Buffer): string {
  if (!isUtf8(raw) || raw.includes(0)) return BINARY_PREFIX + raw.toString('base64');
  return raw.toString('utf8');
}

/**
 * Stores verified deliveries with group commit: the deliveries whose bodies arrive in the same turn of the
 * event loop are written by one multi-row insert, so under load the cost of a commit (an fsync on
 * PostgreSQL) and of building the statement is shared by all of them, while a lone delivery waits only
 * for the end of the current turn. Each caller's promise settles once its row is committed (or the write
 * failed: then no caller gets a 200). Nothing is parsed here: the processor reads the events afterwards.
 */
export interface InboxWriter {
  store(raw: Buffer): Promise<StoredDelivery>;
}

interface PendingWrite {
  sha256: string;
  body: string;
  resolve: (stored: StoredDelivery) => void;
  reject: (error: unknown) => void;
}

// Rows per statement: well inside SQLite's 32,766 bound parameters (8 columns a row), and a few megabytes
// of sealed bodies at most.
const MAX_ROWS_PER_WRITE = 256;
const MAX_BYTES_PER_WRITE = 8 * 1024 * 1024;

export function createInboxWriter(ctx: Pick<ParleyContext, 'db' | 'clock' | 'cipher'>): InboxWriter {
  let queue: PendingWrite[] = [];
  let scheduled = false;

  const flush = async () => {
    scheduled = false;
    let bytes = 0;
    let take = 0;
    while (take < queue.length && take < MAX_ROWS_PER_WRITE && bytes < MAX_BYTES_PER_WRITE)
      bytes += queue[take++]!.body.length;
    const batch = queue.slice(0, take);
    queue = queue.slice(take);
    if (queue.length > 0) schedule();
    try {
      const results = await writeBatch(ctx, batch);
      batch.forEach((w, i) => w.resolve(results[i]!));
    } catch (error) {
      for (const w of batch) w.reject(error);
    }
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => void flush());
  };

  return {
    store(raw) {
      const sha256 = createHash('sha256').update(raw).digest('hex');
      const body = ctx.cipher.seal(storableBody(raw));
      return new Promise<StoredDelivery>((resolve, reject) => {
        queue.push({ sha256, body, resolve, reject });
        schedule();
      });
    },
  };
}

/** One statement for the whole batch; answers each delivery's inbox row, in order. */
async function writeBatch(
  ctx: Pick<ParleyContext, 'db' | 'clock'>,
  batch: readonly Pick<PendingWrite, 'sha256' | 'body'>[],
): Promise<StoredDelivery[]> {
  const now = ctx.clock.now().toISOString();
  const rows: WebhookInboxTable[] = batch.map((w) => ({
    id: newId('whk'),
    body_sha256: w.sha256,
    body: w.body,
    received_at: now,
    state: 'pending',
    attempts: 0,
    processed_at: null,
    error: null,
  }));
  await ctx.db.insertInto('webhook_inbox').values(rows).execute();
  return rows.map((r) => ({ inboxId: r.id }));
}

/**
 * Stores a delivery's events, once: the first delivery processed that carries an event owns it, and an
 * event that does not parse is stored quarantined beside the good ones. Returns nothing: the processor
 * then works the delivery's pending events, which are exactly those this delivery owns.
 */
export async function storeEvents(
  db: DbOrTx,
  inboxId: string,
  events: readonly WebhookEvent[],
  at: string,
): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto('webhook_events')
    .values(
      events.map((e) => ({
        event_key: e.key,
        inbox_id: inboxId,
        kind: e.kind,
        state: e.kind === 'quarantine' ? ('quarantined' as const) : ('pending' as const),
        error: e.kind === 'quarantine' ? e.reason : null,
        created_at: at,
        processed_at: null,
      })),
    )
    .onConflict((oc) => oc.column('event_key').doNothing())
    .execute();
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
