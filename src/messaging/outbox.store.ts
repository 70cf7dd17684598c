import type { ParleyContext } from '../context.js';
import type { Principal } from '../identity/index.js';
import { newId } from '../platform/crypto/index.js';
import {
  forUpdateSkipLocked,
  type DbOrTx,
  type MessagesTable,
  type OutboxTable,
  type SendControlsTable,
  type Tx,
} from '../platform/database/index.js';
import { DomainError } from '../platform/errors/index.js';

/**
 * The transactional outbox (DESIGN.md flow 2): a message and its outbox row are written in one transaction
 * with the decision that allowed it; workers claim due rows, send, and settle them. Rows move
 * `pending → claimed → done | dead | cancelled` (a claimed row goes back to `pending` when it must wait).
 */

type Ctx = Pick<ParleyContext, 'clock' | 'dialect'>;

export async function enqueue(
  tx: DbOrTx,
  ctx: Pick<ParleyContext, 'clock'>,
  messageId: string,
  availableAt: Date,
): Promise<void> {
  const now = ctx.clock.now().toISOString();
  await tx
    .insertInto('outbox')
    .values({
      id: newId('obx'),
      message_id: messageId,
      state: 'pending',
      available_at: availableAt.toISOString(),
      attempts: 0,
      claimed_by: null,
      claimed_until: null,
      last_error: null,
      created_at: now,
      updated_at: now,
    })
    .execute();
}

/** Appends a step to a message's status history (Parley's side; Meta's statuses are webhook events). */
export async function recordHistory(
  tx: DbOrTx,
  messageId: string,
  status: string,
  at: string,
  detail?: string,
): Promise<void> {
  await tx
    .insertInto('message_history')
    .values({ id: newId('mhs'), message_id: messageId, status, at, detail: detail ?? null })
    .execute();
}

export interface ClaimedRow {
  outbox: OutboxTable;
  message: MessagesTable;
}

/**
 * Claims up to `limit` due rows for one worker, with a lease: on PostgreSQL `FOR UPDATE SKIP LOCKED` lets
 * competing workers (and instances) take disjoint rows; SQLite has one writer at a time.
 */
export async function claimDue(
  db: DbOrTx & { transaction?: unknown },
  ctx: Ctx,
  input: { workerId: string; limit: number; leaseMs: number },
): Promise<ClaimedRow[]> {
  const run = async (tx: Tx) => {
    const now = ctx.clock.now();
    const due = await forUpdateSkipLocked(
      ctx.dialect,
      tx
        .selectFrom('outbox')
        .select('id')
        .where('state', '=', 'pending')
        .where('available_at', '<=', now.toISOString())
        .orderBy('available_at')
        .orderBy('id')
        .limit(input.limit),
    ).execute();
    if (due.length === 0) return [];
    const ids = due.map((r) => r.id);
    await tx
      .updateTable('outbox')
      .set({
        state: 'claimed',
        claimed_by: input.workerId,
        claimed_until: new Date(now.getTime() + input.leaseMs).toISOString(),
        updated_at: now.toISOString(),
      })
      .where('id', 'in', ids)
      .where('state', '=', 'pending')
      .execute();
    const rows = await tx
      .selectFrom('outbox')
      .innerJoin('messages', 'messages.id', 'outbox.message_id')
      .selectAll('outbox')
      .select([
        'messages.id as m_id',
        'messages.hcp_id as m_hcp_id',
        'messages.rep_id as m_rep_id',
        'messages.direction as m_direction',
        'messages.wamid as m_wamid',
        'messages.phone_number_id as m_phone_number_id',
        'messages.type as m_type',
        'messages.template_id as m_template_id',
        'messages.parameters_enc as m_parameters_enc',
        'messages.body_enc as m_body_enc',
        'messages.asset_ids_json as m_asset_ids_json',
        'messages.provenance_json as m_provenance_json',
        'messages.send_kind as m_send_kind',
        'messages.status as m_status',
        'messages.status_at as m_status_at',
        'messages.error_code as m_error_code',
        'messages.error_title as m_error_title',
        'messages.error_detail as m_error_detail',
        'messages.decision_id as m_decision_id',
        'messages.idempotency_key as m_idempotency_key',
        'messages.context_wamid as m_context_wamid',
        'messages.send_at as m_send_at',
        'messages.meta_timestamp as m_meta_timestamp',
        'messages.created_at as m_created_at',
        'messages.reply_wait_ms as m_reply_wait_ms',
        'messages.week_rank as m_week_rank',
        'messages.prev_sent_at as m_prev_sent_at',
        'messages.prev_template_sent_at as m_prev_template_sent_at',
        'messages.market_code as m_market_code',
      ])
      .where('outbox.id', 'in', ids)
      .where('outbox.claimed_by', '=', input.workerId)
      .where('outbox.state', '=', 'claimed')
      .orderBy('outbox.available_at')
      .execute();
    return rows.map((r) => ({
      outbox: {
        id: r.id,
        message_id: r.message_id,
        state: r.state,
        available_at: r.available_at,
        attempts: r.attempts,
        claimed_by: r.claimed_by,
        claimed_until: r.claimed_until,
        last_error: r.last_error,
        created_at: r.created_at,
        updated_at: r.updated_at,
      },
      message: {
        id: r.m_id,
        hcp_id: r.m_hcp_id,
        rep_id: r.m_rep_id,
        direction: r.m_direction,
        wamid: r.m_wamid,
        phone_number_id: r.m_phone_number_id,
        type: r.m_type,
        template_id: r.m_template_id,
        parameters_enc: r.m_parameters_enc,
        body_enc: r.m_body_enc,
        asset_ids_json: r.m_asset_ids_json,
        provenance_json: r.m_provenance_json,
        send_kind: r.m_send_kind,
        status: r.m_status,
        status_at: r.m_status_at,
        error_code: r.m_error_code,
        error_title: r.m_error_title,
        error_detail: r.m_error_detail,
        decision_id: r.m_decision_id,
        idempotency_key: r.m_idempotency_key,
        context_wamid: r.m_context_wamid,
        send_at: r.m_send_at,
        meta_timestamp: r.m_meta_timestamp,
        created_at: r.m_created_at,
        reply_wait_ms: r.m_reply_wait_ms,
        week_rank: r.m_week_rank,
        prev_sent_at: r.m_prev_sent_at,
        prev_template_sent_at: r.m_prev_template_sent_at,
        market_code: r.m_market_code,
      },
    }));
  };
  const d = db as DbOrTx;
  return d.isTransaction ? run(d as Tx) : (d as Exclude<DbOrTx, Tx>).transaction().execute(run);
}

/** Puts a claimed row back to wait (pacing, a paused number, a retry later). */
export async function releaseRow(
  tx: DbOrTx,
  now: Date,
  outboxId: string,
  input: { availableAt: Date; countAttempt: boolean; lastError?: string | null },
): Promise<void> {
  const row = await tx.selectFrom('outbox').select('attempts').where('id', '=', outboxId).executeTakeFirst();
  await tx
    .updateTable('outbox')
    .set({
      state: 'pending',
      available_at: input.availableAt.toISOString(),
      attempts: (row?.attempts ?? 0) + (input.countAttempt ? 1 : 0),
      claimed_by: null,
      claimed_until: null,
      last_error: input.lastError ?? null,
      updated_at: now.toISOString(),
    })
    .where('id', '=', outboxId)
    .execute();
}

export async function settleRow(
  tx: DbOrTx,
  now: Date,
  outboxId: string,
  state: 'done' | 'dead' | 'cancelled',
  input: { countAttempt: boolean; lastError?: string | null },
): Promise<void> {
  const row = await tx.selectFrom('outbox').select('attempts').where('id', '=', outboxId).executeTakeFirst();
  await tx
    .updateTable('outbox')
    .set({
      state,
      attempts: (row?.attempts ?? 0) + (input.countAttempt ? 1 : 0),
      claimed_by: null,
      claimed_until: null,
      last_error: input.lastError ?? null,
      updated_at: now.toISOString(),
    })
    .where('id', '=', outboxId)
    .execute();
}

/**
 * Claims whose lease ran out belong to a worker that died. One that had not started sending goes back to
 * `pending`; one caught mid-send may have reached Meta, so its message becomes `unknown` and is never sent
 * again automatically (RELIABILITY 13, 14): the status webhook settles it. One whose message a status
 * webhook already settled (or that was cancelled meanwhile) is simply closed.
 */
export async function recoverExpiredClaims(
  db: DbOrTx,
  ctx: Pick<ParleyContext, 'clock'>,
): Promise<{ requeued: number; unknown: number }> {
  const now = ctx.clock.now().toISOString();
  const expired = await db
    .selectFrom('outbox')
    .innerJoin('messages', 'messages.id', 'outbox.message_id')
    .select(['outbox.id', 'outbox.message_id', 'messages.status'])
    .where('outbox.state', '=', 'claimed')
    .where('outbox.claimed_until', '<', now)
    .execute();
  let requeued = 0;
  let unknown = 0;
  for (const row of expired) {
    if (row.status === 'sending') {
      const moved = await db
        .updateTable('messages')
        .set({ status: 'unknown', status_at: now })
        .where('id', '=', row.message_id)
        .where('status', '=', 'sending')
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) > 0)
        await recordHistory(
          db,
          row.message_id,
          'unknown',
          now,
          'the worker stopped mid-send; waiting for the status webhook',
        );
      await db
        .updateTable('outbox')
        .set({
          state: 'done',
          claimed_by: null,
          claimed_until: null,
          last_error: 'ambiguous: worker stopped mid-send',
          updated_at: now,
        })
        .where('id', '=', row.id)
        .where('state', '=', 'claimed')
        .execute();
      unknown += 1;
    } else if (row.status !== 'queued' && row.status !== 'scheduled') {
      // The message moved on without this claim (a status webhook linked it through
      // `biz_opaque_callback_data`, or it was cancelled): the row has nothing left to do.
      await db
        .updateTable('outbox')
        .set({
          state: row.status === 'cancelled' ? 'cancelled' : 'done',
          claimed_by: null,
          claimed_until: null,
          last_error: `lease expired; message already ${row.status}`,
          updated_at: now,
        })
        .where('id', '=', row.id)
        .where('state', '=', 'claimed')
        .execute();
    } else {
      await db
        .updateTable('outbox')
        .set({ state: 'pending', claimed_by: null, claimed_until: null, updated_at: now })
        .where('id', '=', row.id)
        .where('state', '=', 'claimed')
        .execute();
      requeued += 1;
    }
  }
  return { requeued, unknown };
}

/** A paused number or a halt of every send, if one is in force. */
export async function sendHaltFor(
  db: DbOrTx,
  phoneNumberId: string,
): Promise<{ scope: string; reason: string } | undefined> {
  return db
    .selectFrom('send_controls')
    .select(['scope', 'reason'])
    .where('scope', 'in', ['all', phoneNumberId])
    .orderBy('scope')
    .executeTakeFirst();
}

export async function haltSends(
  tx: DbOrTx,
  now: Date,
  scope: string,
  reason: string,
  errorCode: number,
): Promise<void> {
  await tx
    .insertInto('send_controls')
    .values({ scope, halted_at: now.toISOString(), reason, error_code: errorCode })
    .onConflict((oc) =>
      oc.column('scope').doUpdateSet({ halted_at: now.toISOString(), reason, error_code: errorCode }),
    )
    .execute();
}

export interface SendHalt {
  /** `all` (every send: the access token was refused) or a sending number's id (that number paused). */
  scope: string;
  reason: string;
  errorCode: number | null;
  haltedAt: string;
}

function toSendHalt(row: SendControlsTable): SendHalt {
  return { scope: row.scope, reason: row.reason, errorCode: row.error_code, haltedAt: row.halted_at };
}

/** Halts in force, every send first, then numbers. */
export async function listSendHalts(db: DbOrTx): Promise<SendHalt[]> {
  const rows = await db.selectFrom('send_controls').selectAll().orderBy('scope').execute();
  return rows.map(toSendHalt);
}

/**
 * Lifts a halt once a person has dealt with its cause (a new access token, Meta's restriction lifted): the
 * outbox resumes with what waited. Audited with the halt it lifted and the reason given; a scope with no
 * halt is a 404.
 */
export async function liftSendHalt(
  ctx: Pick<ParleyContext, 'db' | 'audit'>,
  actor: Principal,
  scope: string,
  reason: string,
): Promise<SendHalt> {
  return ctx.db.transaction().execute(async (tx) => {
    const row = await tx
      .selectFrom('send_controls')
      .selectAll()
      .where('scope', '=', scope)
      .executeTakeFirst();
    if (!row) throw new DomainError('not_found', `No halt is in force for ${scope}.`);
    await tx.deleteFrom('send_controls').where('scope', '=', scope).execute();
    await ctx.audit.record(tx, {
      actor,
      action: scope === 'all' ? 'sending.resumed' : 'sending_number.resumed',
      target: { type: 'sending_number', id: scope },
      reason,
      before: { reason: row.reason, errorCode: row.error_code, haltedAt: row.halted_at },
      after: null,
    });
    return toSendHalt(row);
  });
}

const SENT_STATUSES = ['sending', 'unknown', 'sent', 'delivered', 'read'];

/** Whether the number sent to this HCP in the 24 h before `now` (then the tier's count is not affected). */
export async function hasRecentlySentTo(
  db: DbOrTx,
  phoneNumberId: string,
  hcpId: string,
  now: Date,
): Promise<boolean> {
  const since = new Date(now.getTime() - 24 * 3600_000).toISOString();
  const row = await db
    .selectFrom('messages')
    .select('id')
    .where('hcp_id', '=', hcpId)
    .where('direction', '=', 'outbound')
    .where('phone_number_id', '=', phoneNumberId)
    .where('status_at', '>=', since)
    .where('status', 'in', SENT_STATUSES)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** Unique HCPs a number has sent to in the 24 h before `now` (Meta's messaging-limit tier counts them). */
export async function recentRecipientCount(db: DbOrTx, phoneNumberId: string, now: Date): Promise<number> {
  const since = new Date(now.getTime() - 24 * 3600_000).toISOString();
  const row = await db
    .selectFrom('messages')
    .select((eb) => eb.fn.count<number | string>('hcp_id').distinct().as('n'))
    .where('phone_number_id', '=', phoneNumberId)
    .where('direction', '=', 'outbound')
    .where('status_at', '>=', since)
    .where('status', 'in', SENT_STATUSES)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}
