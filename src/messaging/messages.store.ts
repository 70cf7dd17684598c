import { logSecurityEvent } from '../audit/index.js';
import type { ParleyContext } from '../context.js';
import { canReadMessageBodies, findVisibleHcp, hcpVisibility } from '../hcps/index.js';
import type { Principal } from '../identity/index.js';
import {
  decodeCursor,
  pageOf,
  type DbOrTx,
  type MessagesTable,
  type Page,
} from '../platform/database/index.js';
import { DomainError } from '../platform/errors/index.js';
import {
  provenanceFromStorage,
  provenanceNamesOnly,
  storedProvenance,
  type MessageProvenance,
  type ProvenanceWithoutValues,
} from './message-provenance.js';
import { enqueue, recordHistory } from './outbox.store.js';
import { statusHistoryOf, type StatusStep } from './status-history.js';

/** A message as the API shows it (CONTRACT.md "Message"), with its provenance. */
export interface MessageView {
  id: string;
  hcpId: string | null;
  repId: string | null;
  direction: 'inbound' | 'outbound';
  templateId: string | null;
  parameters: Record<string, unknown> | null;
  /** The text as the HCP read it (or wrote it); null for a role that may not read message bodies. */
  text: string | null;
  assetIds: string[];
  status: string;
  statusHistory: StatusStep[];
  wamid: string | null;
  error: { code: number | null; title: string | null; detail: string | null } | null;
  /**
   * What it carried. For a role that may not read message bodies the parameter values (pieces of the
   * body: the HCP's name, a time) are left out, as `text` and `parameters` are; their names stay.
   */
  provenance: MessageProvenance | ProvenanceWithoutValues;
  decisionId: string | null;
  sendAt: string | null;
  createdAt: string;
}

export async function messageView(
  db: DbOrTx,
  ctx: Pick<ParleyContext, 'cipher'>,
  row: MessagesTable,
  canReadBodies: boolean,
): Promise<MessageView> {
  const [history, statuses] = await Promise.all([
    db
      .selectFrom('message_history')
      .select(['status', 'at', 'detail'])
      .where('message_id', '=', row.id)
      .orderBy('at')
      .orderBy('id')
      .execute(),
    db
      .selectFrom('message_status_events')
      .select(['status', 'occurred_at', 'error_title'])
      .where((eb) =>
        eb.or([eb('message_id', '=', row.id), ...(row.wamid ? [eb('wamid', '=', row.wamid)] : [])]),
      )
      .execute(),
  ]);
  const statusHistory = statusHistoryOf(
    history.map((h) => ({ status: h.status, at: h.at, ...(h.detail ? { detail: h.detail } : {}) })),
    statuses.map((s) => ({
      status: s.status,
      at: s.occurred_at,
      ...(s.error_title ? { detail: s.error_title } : {}),
    })),
  );
  return {
    id: row.id,
    hcpId: row.hcp_id,
    repId: row.rep_id,
    direction: row.direction,
    templateId: row.template_id,
    parameters:
      canReadBodies && row.parameters_enc
        ? (JSON.parse(ctx.cipher.open(row.parameters_enc)) as Record<string, unknown>)
        : null,
    text: canReadBodies && row.body_enc ? ctx.cipher.open(row.body_enc) : null,
    assetIds: JSON.parse(row.asset_ids_json) as string[],
    status: row.status,
    statusHistory,
    wamid: row.wamid,
    error:
      row.error_code !== null || row.error_title !== null
        ? { code: row.error_code, title: row.error_title, detail: row.error_detail }
        : null,
    provenance: canReadBodies
      ? provenanceFromStorage(row.provenance_json, ctx.cipher)
      : provenanceNamesOnly(row.provenance_json),
    decisionId: row.decision_id,
    sendAt: row.send_at,
    createdAt: row.created_at,
  };
}

/** One message, for a principal: through its HCP's visibility (404 when out of scope or missing). */
export async function findVisibleMessage(
  db: DbOrTx,
  ctx: Pick<ParleyContext, 'cipher' | 'clock'>,
  principal: Principal,
  messageId: string,
  meta: { ip?: string; method?: string; route?: string },
): Promise<MessageView> {
  const row = await db.selectFrom('messages').selectAll().where('id', '=', messageId).executeTakeFirst();
  if (!row?.hcp_id) {
    // Unknown-sender inbound messages have no HCP: only the roles that see every HCP may read them.
    if (row && (principal.role === 'compliance' || principal.role === 'admin'))
      return messageView(db, ctx, row, canReadMessageBodies(principal));
    // Missing and out of scope look the same, and both are written down.
    await logSecurityEvent(db, ctx.clock.now(), {
      kind: 'out_of_scope',
      actorId: principal.id,
      ip: meta.ip ?? null,
      method: meta.method ?? null,
      route: meta.route ?? null,
      target: messageId,
    });
    throw new DomainError('not_found', 'Message not found');
  }
  await findVisibleHcp(db, ctx, principal, row.hcp_id, meta);
  return messageView(db, ctx, row, canReadMessageBodies(principal));
}

/** Messages held for compliance review, oldest first. */
export async function listPendingReviews(
  db: DbOrTx,
  ctx: Pick<ParleyContext, 'cipher'>,
  query: { limit: number; cursor?: string | undefined },
): Promise<Page<MessageView>> {
  let qb = db.selectFrom('messages').selectAll().where('status', '=', 'pending_review');
  if (query.cursor) {
    const key = decodeCursor(query.cursor);
    if (!key || key.length !== 2)
      throw new DomainError('bad_request', 'cursor is not valid; start again without it');
    const [at, id] = key as [string, string];
    qb = qb.where((eb) =>
      eb.or([eb('created_at', '>', at), eb.and([eb('created_at', '=', at), eb('id', '>', id)])]),
    );
  }
  const rows = await qb
    .orderBy('created_at')
    .orderBy('id')
    .limit(query.limit + 1)
    .execute();
  const views = await Promise.all(rows.map((r) => messageView(db, ctx, r, true)));
  const byId = new Map(views.map((v) => [v.id, v]));
  return pageOf(
    rows,
    query.limit,
    (r) => [r.created_at, r.id],
    (r) => byId.get(r.id)!,
  );
}

/**
 * Compliance approves or rejects a held message. Approval queues it (or schedules it) with the reviewer
 * named in its provenance; the worker still decides again before sending. Rejection cancels it.
 */
export async function settleReview(
  ctx: Pick<ParleyContext, 'db' | 'cipher' | 'clock' | 'audit'>,
  principal: Principal,
  messageId: string,
  verdict: 'approve' | 'reject',
  comment: string | undefined,
): Promise<MessageView> {
  return ctx.db.transaction().execute(async (tx) => {
    const row = await tx.selectFrom('messages').selectAll().where('id', '=', messageId).executeTakeFirst();
    if (!row) throw new DomainError('not_found', 'Message not found');
    if (row.status !== 'pending_review') {
      throw new DomainError('invalid_transition', `The message is ${row.status}, not waiting for review.`);
    }
    const now = ctx.clock.now();
    const iso = now.toISOString();
    const provenance = storedProvenance(row.provenance_json);
    if (verdict === 'approve') {
      const sendAt = row.send_at && row.send_at > iso ? new Date(row.send_at) : now;
      const status = sendAt > now ? 'scheduled' : 'queued';
      const updated = { ...provenance, reviewedBy: principal.id };
      await tx
        .updateTable('messages')
        .set({ status, status_at: iso, provenance_json: JSON.stringify(updated) })
        .where('id', '=', messageId)
        .where('status', '=', 'pending_review')
        .execute();
      await enqueue(tx, ctx, messageId, sendAt);
      await recordHistory(
        tx,
        messageId,
        status,
        iso,
        `approved by ${principal.name}${comment ? `: ${comment}` : ''}`,
      );
      await ctx.audit.record(tx, {
        actor: principal,
        action: 'message.review_approved',
        target: { type: 'message', id: messageId },
        subjectId: row.hcp_id,
        reason: comment ?? null,
        before: { status: 'pending_review' },
        after: { status },
      });
      return messageView(
        tx,
        ctx,
        { ...row, status, status_at: iso, provenance_json: JSON.stringify(updated) },
        true,
      );
    }
    await tx
      .updateTable('messages')
      .set({ status: 'cancelled', status_at: iso, error_detail: comment ?? 'rejected in review' })
      .where('id', '=', messageId)
      .execute();
    await recordHistory(
      tx,
      messageId,
      'cancelled',
      iso,
      `rejected by ${principal.name}${comment ? `: ${comment}` : ''}`,
    );
    await ctx.audit.record(tx, {
      actor: principal,
      action: 'message.review_rejected',
      target: { type: 'message', id: messageId },
      subjectId: row.hcp_id,
      reason: comment ?? null,
      before: { status: 'pending_review' },
      after: { status: 'cancelled' },
    });
    return messageView(
      tx,
      ctx,
      { ...row, status: 'cancelled', status_at: iso, error_detail: comment ?? 'rejected in review' },
      true,
    );
  });
}

/**
 * Free text waiting for review when the customer-service window closes can no longer be sent: it is
 * cancelled (issue 4 item 7). Run by the messaging job.
 */
export async function cancelReviewsPastWindow(
  ctx: Pick<ParleyContext, 'db' | 'clock' | 'audit'>,
): Promise<number> {
  const now = ctx.clock.now();
  const closedBefore = new Date(now.getTime() - 24 * 3600_000).toISOString();
  const stale = await ctx.db
    .selectFrom('messages')
    .leftJoin('service_windows', (join) =>
      join
        .onRef('service_windows.hcp_id', '=', 'messages.hcp_id')
        .onRef('service_windows.phone_number_id', '=', 'messages.phone_number_id'),
    )
    .select(['messages.id', 'messages.hcp_id'])
    .where('messages.status', '=', 'pending_review')
    .where('messages.template_id', 'is', null)
    .where((eb) =>
      eb.or([
        eb('service_windows.last_inbound_at', 'is', null),
        eb('service_windows.last_inbound_at', '<', closedBefore),
      ]),
    )
    .execute();
  for (const m of stale) {
    await ctx.db.transaction().execute(async (tx) => {
      const moved = await tx
        .updateTable('messages')
        .set({
          status: 'cancelled',
          status_at: now.toISOString(),
          error_detail: 'window_closed: the 24-hour window closed before review',
        })
        .where('id', '=', m.id)
        .where('status', '=', 'pending_review')
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) === 0) return;
      await recordHistory(
        tx,
        m.id,
        'cancelled',
        now.toISOString(),
        'the customer-service window closed while the message waited for review',
      );
      await ctx.audit.record(tx, {
        actor: null,
        action: 'message.cancelled',
        target: { type: 'message', id: m.id },
        subjectId: m.hcp_id,
        reason: 'window_closed',
        after: { status: 'cancelled' },
      });
    });
  }
  return stale.length;
}

export interface StoredDecision {
  id: string;
  requestedBy: string;
  hcpId: string;
  kind: string;
  outcome: string;
  purpose: string | null;
  reasons: Array<{ code: string; message: string; rule: string }>;
  rulebookVersion: number;
  messageId: string | null;
  decidedAt: string;
}

/**
 * Stored decisions, newest first (blocked attempts with `outcome=deny`). Compliance sees all; a manager
 * sees those of the reps they lead, about HCPs they see.
 */
export async function listDecisions(
  db: DbOrTx,
  principal: Principal,
  query: {
    outcome?: string | undefined;
    from?: string | undefined;
    to?: string | undefined;
    limit: number;
    cursor?: string | undefined;
  },
): Promise<Page<StoredDecision>> {
  let qb = db.selectFrom('policy_decisions').selectAll('policy_decisions');
  if (principal.role === 'manager') {
    qb = qb
      .innerJoin('users', 'users.id', 'policy_decisions.requested_by')
      .innerJoin('hcps', 'hcps.id', 'policy_decisions.hcp_id')
      .where((eb) => eb.or([eb('users.manager_id', '=', principal.id), eb('users.id', '=', principal.id)]))
      .where(hcpVisibility(principal));
  }
  if (query.outcome) qb = qb.where('policy_decisions.outcome', '=', query.outcome as 'allow');
  if (query.from) qb = qb.where('policy_decisions.decided_at', '>=', query.from);
  if (query.to) qb = qb.where('policy_decisions.decided_at', '<', query.to);
  if (query.cursor) {
    const key = decodeCursor(query.cursor);
    if (!key || key.length !== 2)
      throw new DomainError('bad_request', 'cursor is not valid; start again without it');
    const [at, id] = key as [string, string];
    qb = qb.where((eb) =>
      eb.or([
        eb('policy_decisions.decided_at', '<', at),
        eb.and([eb('policy_decisions.decided_at', '=', at), eb('policy_decisions.id', '<', id)]),
      ]),
    );
  }
  const rows = await qb
    .orderBy('policy_decisions.decided_at', 'desc')
    .orderBy('policy_decisions.id', 'desc')
    .limit(query.limit + 1)
    .execute();
  return pageOf(
    rows,
    query.limit,
    (r) => [r.decided_at, r.id],
    (r) => ({
      id: r.id,
      requestedBy: r.requested_by,
      hcpId: r.hcp_id,
      kind: r.kind,
      outcome: r.outcome,
      purpose: r.purpose,
      reasons: JSON.parse(r.reasons_json) as StoredDecision['reasons'],
      rulebookVersion: r.rulebook_version,
      messageId: r.message_id,
      decidedAt: r.decided_at,
    }),
  );
}

export interface DeadLetter {
  id: string;
  messageId: string;
  hcpId: string | null;
  attempts: number;
  lastError: string | null;
  deadSince: string;
}

export async function listDeadLetters(
  db: DbOrTx,
  query: { limit: number; cursor?: string | undefined },
): Promise<Page<DeadLetter>> {
  let qb = db
    .selectFrom('outbox')
    .innerJoin('messages', 'messages.id', 'outbox.message_id')
    .select([
      'outbox.id',
      'outbox.message_id',
      'messages.hcp_id',
      'outbox.attempts',
      'outbox.last_error',
      'outbox.updated_at',
    ])
    .where('outbox.state', '=', 'dead');
  if (query.cursor) {
    const key = decodeCursor(query.cursor);
    if (!key || key.length !== 2)
      throw new DomainError('bad_request', 'cursor is not valid; start again without it');
    const [at, id] = key as [string, string];
    qb = qb.where((eb) =>
      eb.or([
        eb('outbox.updated_at', '>', at),
        eb.and([eb('outbox.updated_at', '=', at), eb('outbox.id', '>', id)]),
      ]),
    );
  }
  const rows = await qb
    .orderBy('outbox.updated_at')
    .orderBy('outbox.id')
    .limit(query.limit + 1)
    .execute();
  return pageOf(
    rows,
    query.limit,
    (r) => [r.updated_at, r.id],
    (r) => ({
      id: r.id,
      messageId: r.message_id,
      hcpId: r.hcp_id,
      attempts: r.attempts,
      lastError: r.last_error,
      deadSince: r.updated_at,
    }),
  );
}

/**
 * Sends a dead letter again: only a row still dead moves back to pending, so redriving twice sends once.
 * The worker decides again before it sends.
 */
export async function redriveDeadLetter(
  ctx: Pick<ParleyContext, 'db' | 'clock' | 'audit'>,
  principal: Principal,
  outboxId: string,
): Promise<DeadLetter> {
  return ctx.db.transaction().execute(async (tx) => {
    const now = ctx.clock.now().toISOString();
    const row = await tx.selectFrom('outbox').selectAll().where('id', '=', outboxId).executeTakeFirst();
    if (!row) throw new DomainError('not_found', 'Dead letter not found');
    const moved = await tx
      .updateTable('outbox')
      .set({ state: 'pending', attempts: 0, available_at: now, last_error: null, updated_at: now })
      .where('id', '=', outboxId)
      .where('state', '=', 'dead')
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) === 0)
      throw new DomainError('invalid_transition', `This send is ${row.state}, not dead: nothing to redrive.`);
    const message = await tx
      .selectFrom('messages')
      .select(['hcp_id'])
      .where('id', '=', row.message_id)
      .executeTakeFirstOrThrow();
    await tx
      .updateTable('messages')
      .set({ status: 'queued', status_at: now, error_code: null, error_title: null, error_detail: null })
      .where('id', '=', row.message_id)
      .execute();
    await recordHistory(tx, row.message_id, 'queued', now, `redriven by ${principal.name}`);
    await ctx.audit.record(tx, {
      actor: principal,
      action: 'outbox.redriven',
      target: { type: 'outbox', id: outboxId },
      subjectId: message.hcp_id,
      before: { state: 'dead', lastError: row.last_error },
      after: { state: 'pending' },
    });
    return {
      id: row.id,
      messageId: row.message_id,
      hcpId: message.hcp_id,
      attempts: 0,
      lastError: null,
      deadSince: now,
    };
  });
}
