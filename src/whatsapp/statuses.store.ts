import type { ParleyContext } from '../context.js';
import { newId } from '../platform/crypto/index.js';
import type { DbOrTx, Tx } from '../platform/database/index.js';
import { advanceStatus } from './message-status.js';
import type { WebhookEvent } from './webhook-payload.js';

type StatusEvent = Extract<WebhookEvent, { kind: 'status' }>;

/**
 * Records one status webhook (once per wamid and status) and moves the message forward. A status for a
 * wamid Parley does not know yet is kept; it is linked through `biz_opaque_callback_data` (Parley's message
 * id, set at send) or applied later by `settleMessageStatuses` when the sender saves the wamid.
 */
export async function applyStatusUpdate(
  tx: Tx,
  ctx: Pick<ParleyContext, 'clock' | 'audit'>,
  event: StatusEvent,
): Promise<void> {
  const s = event.status;
  let message = await tx
    .selectFrom('messages')
    .select(['id', 'wamid'])
    .where('wamid', '=', s.id)
    .executeTakeFirst();
  if (!message && s.biz_opaque_callback_data) {
    // A crash after Meta accepted a send but before the wamid was saved: the callback data names the message.
    const linked = await tx
      .updateTable('messages')
      .set({ wamid: s.id })
      .where('id', '=', s.biz_opaque_callback_data)
      .where('direction', '=', 'outbound')
      .where('wamid', 'is', null)
      .returning(['id', 'wamid'])
      .executeTakeFirst();
    message = linked;
  }
  const error = s.errors?.[0];
  const inserted = await tx
    .insertInto('message_status_events')
    .values({
      id: newId('mse'),
      message_id: message?.id ?? null,
      wamid: s.id,
      status: s.status,
      occurred_at: s.timestamp,
      error_code: error?.code ?? null,
      error_title: error?.title ?? null,
      recorded_at: ctx.clock.now().toISOString(),
    })
    .onConflict((oc) => oc.columns(['wamid', 'status']).doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!inserted || !message) return;
  await settleMessageStatuses(tx, ctx, message.id, error?.error_data?.details ?? null);
}

/**
 * Folds every status event recorded for a message's wamid into its status, forward only, and links the
 * events to it. The send side calls this after saving a wamid, so statuses that arrived first count.
 * One audit entry when the status changes; none when nothing moves.
 */
export async function settleMessageStatuses(
  tx: Tx,
  ctx: Pick<ParleyContext, 'clock' | 'audit'>,
  messageId: string,
  errorDetail: string | null = null,
): Promise<void> {
  const message = await tx
    .selectFrom('messages')
    .select(['id', 'wamid', 'hcp_id', 'status', 'status_at'])
    .where('id', '=', messageId)
    .executeTakeFirst();
  if (!message?.wamid) return;
  await tx
    .updateTable('message_status_events')
    .set({ message_id: message.id })
    .where('wamid', '=', message.wamid)
    .where('message_id', 'is', null)
    .execute();
  const events = await tx
    .selectFrom('message_status_events')
    .select(['status', 'occurred_at', 'error_code', 'error_title'])
    .where('wamid', '=', message.wamid)
    .orderBy('occurred_at')
    .orderBy('status')
    .execute();
  let status = message.status;
  let statusAt = message.status_at;
  let failure: { code: number | null; title: string | null } | undefined;
  for (const e of events) {
    const next = advanceStatus(status, e.status);
    if (next === status) continue;
    status = next;
    statusAt = e.occurred_at;
    if (next === 'failed') failure = { code: e.error_code, title: e.error_title };
  }
  if (status === message.status) return;
  await tx
    .updateTable('messages')
    .set({
      status,
      status_at: statusAt,
      ...(failure ? { error_code: failure.code, error_title: failure.title, error_detail: errorDetail } : {}),
    })
    .where('id', '=', message.id)
    .execute();
  await messageInteractionsStatusUpdate(tx, message.id, status, ctx.clock.now().toISOString()).execute();
  await ctx.audit.record(tx, {
    actor: null,
    action: 'message.status_changed',
    target: { type: 'message', id: message.id },
    subjectId: message.hcp_id,
    before: { status: message.status },
    after: {
      status,
      at: statusAt,
      ...(failure ? { errorCode: failure.code, errorTitle: failure.title } : {}),
    },
  });
}

/**
 * The status of a message's interactions on the timeline, set with the message's. Every status webhook
 * runs it: it must find them through the index by message (partial since migration 0035: rows with a
 * message only), never by a read of the table. Exported for its query-plan test.
 */
export function messageInteractionsStatusUpdate(db: DbOrTx, messageId: string, status: string, now: string) {
  return db.updateTable('interactions').set({ status, updated_at: now }).where('message_id', '=', messageId);
}
