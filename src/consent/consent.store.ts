import type { AuditActor } from '../audit/index.js';
import type { ParleyContext } from '../context.js';
import { recordInteraction } from '../engagement/index.js';
import { newId } from '../platform/crypto/index.js';
import type { ConsentEntriesTable, ConsentHoldsTable, DbOrTx } from '../platform/database/index.js';
import { preparedQuery } from '../platform/database/index.js';
import type {
  ConsentChannel,
  ConsentEntry,
  ConsentPurpose,
  ConsentSource,
  EntryStatus,
} from './consent-ledger.js';

type AuditCtx = Pick<ParleyContext, 'clock' | 'audit'>;

function toEntry(row: ConsentEntriesTable): ConsentEntry {
  return {
    id: row.id,
    hcpId: row.hcp_id,
    channel: row.channel,
    purpose: row.purpose,
    status: row.status,
    source: row.source,
    capturedBy: row.captured_by,
    capturedAt: row.captured_at,
    evidence: row.evidence,
    wordingVersion: row.wording_version,
    messageId: row.message_id,
    expiresAt: row.expires_at,
    recordedAt: row.recorded_at,
  };
}

/** The HCP's whole ledger, oldest capture first (unscoped: callers have checked visibility). */
export async function listConsentEntries(db: DbOrTx, hcpId: string): Promise<ConsentEntry[]> {
  return (await ledgerOf.all(db, { hcpId })).map(toEntry);
}
// Every policy check reads the HCP's ledger: built and compiled once.
const ledgerOf = preparedQuery((db, $: { hcpId: string }) =>
  db
    .selectFrom('consent_entries')
    .selectAll()
    .where('hcp_id', '=', $.hcpId)
    .orderBy('captured_at')
    .orderBy('id'),
);

/** A ledger row about to be written: its status already decided (a verbal grant is `pending`). */
export interface LedgerRow {
  hcpId: string;
  channel: ConsentChannel;
  purpose: ConsentPurpose;
  status: EntryStatus;
  source: ConsentSource;
  capturedAt: string;
  evidence: string | null;
  wordingVersion: string | null;
  messageId: string | null;
  expiresAt: string | null;
}

const CHANNEL_ON_TIMELINE: Record<ConsentChannel, 'whatsapp' | 'email' | 'phone'> = {
  whatsapp: 'whatsapp',
  email: 'email',
  phone: 'phone',
  // The timeline has no SMS channel; an SMS consent sits with the phone.
  sms: 'phone',
};

/**
 * Appends one entry to the ledger, in the caller's transaction, with its audit event (`consent.recorded`)
 * and its place on the HCP's timeline (a `consent_change` interaction whose external id is the entry id).
 * The ledger is append-only: nothing here updates or deletes an entry.
 */
export async function appendConsentEntry(
  tx: DbOrTx,
  ctx: AuditCtx,
  actor: AuditActor | null,
  row: LedgerRow,
): Promise<ConsentEntry> {
  const recordedAt = ctx.clock.now().toISOString();
  const inserted = await tx
    .insertInto('consent_entries')
    .values({
      id: newId('con'),
      hcp_id: row.hcpId,
      channel: row.channel,
      purpose: row.purpose,
      status: row.status,
      source: row.source,
      captured_by: actor?.id ?? null,
      captured_at: row.capturedAt,
      evidence: row.evidence,
      wording_version: row.wordingVersion,
      message_id: row.messageId,
      expires_at: row.expiresAt,
      recorded_at: recordedAt,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  const entry = toEntry(inserted);
  await ctx.audit.record(tx, {
    actor,
    action: 'consent.recorded',
    target: { type: 'consent_entry', id: entry.id },
    subjectId: entry.hcpId,
    after: {
      channel: entry.channel,
      purpose: entry.purpose,
      status: entry.status,
      source: entry.source,
      capturedAt: entry.capturedAt,
      evidence: entry.evidence,
      wordingVersion: entry.wordingVersion,
      messageId: entry.messageId,
      expiresAt: entry.expiresAt,
    },
  });
  const fromHcp = entry.source === 'whatsapp_reply' || entry.source === 'double_opt_in';
  await recordInteraction(tx, ctx, {
    hcpId: entry.hcpId,
    channel: CHANNEL_ON_TIMELINE[entry.channel],
    direction: fromHcp ? 'inbound' : 'internal',
    kind: 'consent_change',
    occurredAt: entry.capturedAt,
    repId: actor?.role === 'rep' ? actor.id : null,
    summary: `Consent ${entry.status}: ${entry.channel} · ${entry.purpose} (${entry.source})`,
    source: 'parley',
    externalId: entry.id,
    messageId: entry.messageId,
    status: entry.status,
  });
  return entry;
}

/** Whether the ledger already holds entries written from this inbound message (a reprocessed webhook). */
export async function hasEntriesFromMessage(db: DbOrTx, hcpId: string, messageId: string): Promise<boolean> {
  const row = await db
    .selectFrom('consent_entries')
    .select('id')
    .where('hcp_id', '=', hcpId)
    .where('message_id', '=', messageId)
    .executeTakeFirst();
  return row !== undefined;
}

/** Outbound message states that have not reached WhatsApp yet and can still be stopped. */
export const CANCELLABLE_MESSAGE_STATUSES = ['pending_review', 'scheduled', 'queued'] as const;

/**
 * Cancels every outbound message to the HCP that has not left Parley yet (pending review, scheduled,
 * queued), with its outbox row, each audited as `message.cancelled`. Called on a WhatsApp withdrawal;
 * messaging reuses it. Returns the ids cancelled. A message a worker has already claimed is past this
 * point: the worker decides again before sending and finds the consent withdrawn.
 */
export async function cancelQueuedMessages(
  tx: DbOrTx,
  ctx: AuditCtx,
  input: { hcpId: string; actor: AuditActor | null; reason: string },
): Promise<string[]> {
  const now = ctx.clock.now().toISOString();
  const cancelled = await tx
    .updateTable('messages')
    .set({ status: 'cancelled', status_at: now })
    .where('hcp_id', '=', input.hcpId)
    .where('direction', '=', 'outbound')
    .where('status', 'in', [...CANCELLABLE_MESSAGE_STATUSES])
    .returning(['id'])
    .execute();
  const ids = cancelled.map((r) => r.id).sort();
  if (ids.length === 0) return [];
  const outbox = await tx
    .updateTable('outbox')
    .set({ state: 'cancelled', updated_at: now })
    .where('message_id', 'in', ids)
    .where('state', '=', 'pending')
    .returning(['message_id'])
    .execute();
  const withOutbox = new Set(outbox.map((r) => r.message_id));
  for (const id of ids) {
    await ctx.audit.record(tx, {
      actor: input.actor,
      action: 'message.cancelled',
      target: { type: 'message', id },
      subjectId: input.hcpId,
      reason: input.reason,
      after: { status: 'cancelled', outbox: withOutbox.has(id) ? 'cancelled' : null },
    });
  }
  return ids;
}

export interface ConsentHold {
  id: string;
  hcpId: string;
  messageId: string;
  reason: ConsentHoldsTable['reason'];
  matched: string | null;
  status: ConsentHoldsTable['status'];
  createdAt: string;
  resolvedAt: string | null;
  resolvedBy: string | null;
  resolution: ConsentHoldsTable['resolution'];
}

function toHold(row: ConsentHoldsTable): ConsentHold {
  return {
    id: row.id,
    hcpId: row.hcp_id,
    messageId: row.message_id,
    reason: row.reason,
    matched: row.matched,
    status: row.status,
    createdAt: row.created_at,
    resolvedAt: row.resolved_at,
    resolvedBy: row.resolved_by,
    resolution: row.resolution,
  };
}

/**
 * Opens a hold on further sends to the HCP for an ambiguous reply, once per inbound message, audited as
 * `consent.held`. Returns the hold (the existing one when the message was already held).
 */
export async function openConsentHold(
  tx: DbOrTx,
  ctx: AuditCtx,
  input: { hcpId: string; messageId: string; matched: string | null },
): Promise<ConsentHold> {
  const existing = await tx
    .selectFrom('consent_holds')
    .selectAll()
    .where('message_id', '=', input.messageId)
    .executeTakeFirst();
  if (existing) return toHold(existing);
  const row = await tx
    .insertInto('consent_holds')
    .values({
      id: newId('chd'),
      hcp_id: input.hcpId,
      message_id: input.messageId,
      reason: 'ambiguous_reply',
      matched: input.matched,
      status: 'open',
      created_at: ctx.clock.now().toISOString(),
      resolved_at: null,
      resolved_by: null,
      resolution: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await ctx.audit.record(tx, {
    actor: null,
    action: 'consent.held',
    target: { type: 'consent_hold', id: row.id },
    subjectId: input.hcpId,
    reason: 'An HCP reply may be an opt-out; sends wait for a person to read it.',
    after: { messageId: row.message_id, matched: row.matched, status: row.status },
  });
  return toHold(row);
}

/** The HCP's open holds: while any is open, the policy engine holds sends to that HCP. */
export async function openConsentHoldsOf(db: DbOrTx, hcpId: string): Promise<ConsentHold[]> {
  return (await openHoldsOf.all(db, { hcpId })).map(toHold);
}
const openHoldsOf = preparedQuery((db, $: { hcpId: string }) =>
  db
    .selectFrom('consent_holds')
    .selectAll()
    .where('hcp_id', '=', $.hcpId)
    .where('status', '=', 'open')
    .orderBy('created_at'),
);

/**
 * Closes a hold after a person has read the reply, audited as `consent.hold_resolved`. Recording the
 * opt-out itself (when that is what the HCP meant) is a separate ledger entry.
 */
export async function resolveConsentHold(
  tx: DbOrTx,
  ctx: AuditCtx,
  actor: AuditActor,
  input: { holdId: string; resolution: 'opted_out' | 'not_an_opt_out' },
): Promise<ConsentHold | undefined> {
  const row = await tx
    .updateTable('consent_holds')
    .set({
      status: 'resolved',
      resolved_at: ctx.clock.now().toISOString(),
      resolved_by: actor.id,
      resolution: input.resolution,
    })
    .where('id', '=', input.holdId)
    .where('status', '=', 'open')
    .returningAll()
    .executeTakeFirst();
  if (!row) return undefined;
  await ctx.audit.record(tx, {
    actor,
    action: 'consent.hold_resolved',
    target: { type: 'consent_hold', id: row.id },
    subjectId: row.hcp_id,
    before: { status: 'open' },
    after: { status: row.status, resolution: row.resolution },
  });
  return toHold(row);
}

/** The template behind a message Parley sent: its type and its key@version (the wording shown). */
export async function templateOfMessage(
  db: DbOrTx,
  messageId: string,
): Promise<{ type: string; wording: string } | undefined> {
  const row = await db
    .selectFrom('messages')
    .innerJoin('templates', 'templates.id', 'messages.template_id')
    .select(['templates.type', 'templates.key', 'templates.version'])
    .where('messages.id', '=', messageId)
    .executeTakeFirst();
  return row ? { type: row.type, wording: `${row.key}@${row.version}` } : undefined;
}

/** The latest templated message Parley sent the HCP at or before `at`, for replies that quote nothing. */
export async function latestOutboundTemplatedMessage(
  db: DbOrTx,
  hcpId: string,
  at: string,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('messages')
    .select('id')
    .where('hcp_id', '=', hcpId)
    .where('direction', '=', 'outbound')
    .where('template_id', 'is not', null)
    .where('status', 'not in', ['cancelled', 'pending_review', 'scheduled', 'queued'])
    .where('created_at', '<=', at)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.id;
}

/**
 * When Parley created each opt-in request to the HCP (templates of type `opt_in_request`), cancelled ones
 * excluded: the input of `checkOptInRequestLimits`.
 */
export async function optInRequestTimes(db: DbOrTx, hcpId: string): Promise<string[]> {
  return (await optInRequestsTo.all(db, { hcpId })).map((r) => r.created_at);
}
const optInRequestsTo = preparedQuery((db, $: { hcpId: string }) =>
  db
    .selectFrom('messages')
    .innerJoin('templates', 'templates.id', 'messages.template_id')
    .select('messages.created_at')
    .where('messages.hcp_id', '=', $.hcpId)
    .where('messages.direction', '=', 'outbound')
    .where('templates.type', '=', 'opt_in_request')
    .where('messages.status', '!=', 'cancelled')
    .orderBy('messages.created_at'),
);

/** Open holds across all HCPs, oldest first, a page at a time: the human queue. */
export async function listOpenConsentHolds(
  db: DbOrTx,
  page: { limit: number; after?: { createdAt: string; id: string } },
): Promise<ConsentHold[]> {
  let query = db.selectFrom('consent_holds').selectAll().where('status', '=', 'open');
  if (page.after) {
    const { createdAt, id } = page.after;
    query = query.where((eb) =>
      eb.or([
        eb('created_at', '>', createdAt),
        eb.and([eb('created_at', '=', createdAt), eb('id', '>', id)]),
      ]),
    );
  }
  const rows = await query.orderBy('created_at').orderBy('id').limit(page.limit).execute();
  return rows.map(toHold);
}

export async function findConsentHold(db: DbOrTx, holdId: string): Promise<ConsentHold | undefined> {
  const row = await db.selectFrom('consent_holds').selectAll().where('id', '=', holdId).executeTakeFirst();
  return row ? toHold(row) : undefined;
}

/** The wamid and Meta's timestamp of an inbound message, for evidence when a person confirms an opt-out. */
export async function inboundMessageEvidence(
  db: DbOrTx,
  messageId: string,
): Promise<{ wamid: string | null; at: string | null } | undefined> {
  const row = await db
    .selectFrom('messages')
    .select(['wamid', 'meta_timestamp', 'created_at'])
    .where('id', '=', messageId)
    .executeTakeFirst();
  return row ? { wamid: row.wamid, at: row.meta_timestamp ?? row.created_at } : undefined;
}
