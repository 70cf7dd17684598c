import type { ParleyContext } from '../context.js';
import { buildProvenance, contentForMessage, renderTemplate } from '../content/index.js';
import { newId } from '../platform/crypto/index.js';
import {
  forUpdate,
  isUniqueViolation,
  type DbOrTx,
  type MessagesTable,
  type Tx,
} from '../platform/database/index.js';
import { decide, type Decision, type DecisionRequest } from '../policy/index.js';
import { sendingNumberFor, snapshotOf } from './compose.js';
import { loadDecisionContext } from './decision-inputs.store.js';
import type { MessageProvenance } from './message-provenance.js';
import { enqueue, recordHistory } from './outbox.store.js';

/**
 * The one confirmation of an opt-out (issue 4 item 3). The template is marked by its key: the approved
 * `service` template keyed `optout_confirmation` in the HCP's market and language (its latest approved
 * version). It is decided with `kind: 'opt_out_confirmation'`, which decide() exempts from consent (it
 * rests on the opt-out itself), caps and quiet hours, and sent by the outbox worker like any message.
 *
 * It is keyed by the inbound message that opted out (`messages.idempotency_key = optout:<message id>`,
 * unique), so a replayed webhook, two workers or two instances queue it at most once. The opt-out itself
 * is committed by the webhook processing (consent withdraws and cancels what was queued); this reads the
 * ledger's recent WhatsApp-reply withdrawals and queues what is missing, within seconds.
 */
export const OPT_OUT_CONFIRMATION_KEY = 'optout_confirmation';

type Ctx = Pick<ParleyContext, 'db' | 'dialect' | 'clock' | 'cipher' | 'audit' | 'config' | 'logger'>;

const DAY = 24 * 3600_000;
const warned = new WeakMap<object, Set<string>>();

/** Queues the missing confirmations for opt-outs recorded in the last 24 hours; returns how many. */
export async function queueOptOutConfirmations(ctx: Ctx): Promise<number> {
  const now = ctx.clock.now();
  const since = new Date(now.getTime() - DAY).toISOString();
  const withdrawals = await ctx.db
    .selectFrom('consent_entries')
    .select(['id', 'hcp_id', 'message_id', 'recorded_at'])
    .where('recorded_at', '>=', since)
    .where('channel', '=', 'whatsapp')
    .where('status', '=', 'withdrawn')
    .where('source', '=', 'whatsapp_reply')
    .where('message_id', 'is not', null)
    .orderBy('recorded_at')
    .orderBy('id')
    .execute();
  const byInbound = new Map<string, { hcpId: string; entryId: string }>();
  for (const w of withdrawals)
    if (w.message_id && !byInbound.has(w.message_id))
      byInbound.set(w.message_id, { hcpId: w.hcp_id, entryId: w.id });
  if (byInbound.size === 0) return 0;
  const keys = [...byInbound.keys()].map(keyOf);
  const done = new Set<string>();
  for (let i = 0; i < keys.length; i += 500) {
    const rows = await ctx.db
      .selectFrom('messages')
      .select('idempotency_key')
      .where('idempotency_key', 'in', keys.slice(i, i + 500))
      .execute();
    for (const r of rows) if (r.idempotency_key) done.add(r.idempotency_key);
  }
  let queued = 0;
  for (const [inboundId, optOut] of byInbound) {
    if (done.has(keyOf(inboundId))) continue;
    try {
      if (await ctx.db.transaction().execute((tx) => queueOne(tx, ctx, inboundId, optOut))) queued += 1;
    } catch (error) {
      // Another worker or instance queued it first: exactly one is what we want.
      if (!isUniqueViolation(error)) throw error;
    }
  }
  return queued;
}

function keyOf(inboundMessageId: string): string {
  return `optout:${inboundMessageId}`;
}

async function queueOne(
  tx: Tx,
  ctx: Ctx,
  inboundId: string,
  optOut: { hcpId: string; entryId: string },
): Promise<boolean> {
  const now = ctx.clock.now();
  const iso = now.toISOString();
  await forUpdate(ctx.dialect, tx.selectFrom('hcps').select('id').where('id', '=', optOut.hcpId)).execute();
  const already = await tx
    .selectFrom('messages')
    .select('id')
    .where('idempotency_key', '=', keyOf(inboundId))
    .executeTakeFirst();
  if (already) return false;
  const hcp = await tx
    .selectFrom('hcps')
    .select(['id', 'name', 'market_code', 'language', 'time_zone'])
    .where('id', '=', optOut.hcpId)
    .executeTakeFirst();
  if (!hcp) return false;
  const template = await tx
    .selectFrom('templates')
    .select('id')
    .where('key', '=', OPT_OUT_CONFIRMATION_KEY)
    .where('status', '=', 'approved')
    .where('type', '=', 'service')
    .where('market_code', '=', hcp.market_code)
    .where('language', '=', hcp.language)
    .orderBy('version', 'desc')
    .executeTakeFirst();
  const repId = await repFor(tx, inboundId, hcp.id);
  if (!template || !repId) {
    warnOnce(
      ctx,
      `${hcp.market_code}:${hcp.language}:${repId ? 'template' : 'rep'}`,
      template
        ? 'no rep works this HCP: the opt-out confirmation has no sender'
        : `no approved service template keyed ${OPT_OUT_CONFIRMATION_KEY} for this market and language: the opt-out confirmation cannot be sent`,
      { market: hcp.market_code, language: hcp.language },
    );
    return false;
  }

  const phoneNumberId = await sendingNumberFor(tx, ctx, hcp.market_code);
  const content = await contentForMessage(tx, { templateId: template.id, assetIds: [] }, now);
  const request: DecisionRequest = {
    repId,
    hcpId: hcp.id,
    templateId: template.id,
    parameters: {},
    assetIds: [],
    kind: 'opt_out_confirmation',
  };
  const context = await loadDecisionContext(tx, ctx, { request, now, phoneNumberId, content });
  let decision: Decision = decide(request, context);
  let text = '';
  let values: Array<{ name: string; value: string }> = [];
  if (content.template && decision.outcome !== 'deny') {
    const rendered = renderTemplate(
      content.template,
      {},
      { name: hcp.name, timeZone: hcp.time_zone },
      {},
      now,
    );
    if (rendered.ok) {
      text = rendered.text;
      values = rendered.values;
    } else {
      decision = {
        ...decision,
        outcome: 'deny',
        reasons: rendered.problems.map((p) => ({
          code: 'invalid_parameter' as const,
          message: p.message,
          rule: 'content.parameters',
        })),
      };
    }
  }
  // The confirmation is never held for review: Parley wrote it, compliance approved the template.
  const allowed = decision.outcome !== 'deny';
  const messageId = newId('msg');
  const decisionId = newId('dec');
  const provenance: MessageProvenance = {
    ...buildProvenance(content.template ?? null, values, [], {}),
    purpose: decision.purpose,
    // Its basis is the opt-out it confirms (RELIABILITY 24 joins it to that ledger entry).
    consentEntryId: optOut.entryId,
    reviewedBy: null,
    kind: 'opt_out_confirmation',
  };
  const status = allowed ? 'queued' : 'cancelled';
  const row: MessagesTable = {
    id: messageId,
    hcp_id: hcp.id,
    rep_id: repId,
    direction: 'outbound',
    wamid: null,
    phone_number_id: phoneNumberId,
    type: 'template',
    template_id: template.id,
    parameters_enc: null,
    body_enc: ctx.cipher.seal(text),
    asset_ids_json: '[]',
    provenance_json: JSON.stringify(provenance),
    status,
    status_at: iso,
    error_code: null,
    error_title: null,
    error_detail: allowed ? null : JSON.stringify(decision.reasons),
    decision_id: decisionId,
    idempotency_key: keyOf(inboundId),
    context_wamid: null,
    send_at: null,
    meta_timestamp: null,
    created_at: iso,
  };
  await tx.insertInto('messages').values(row).execute();
  await tx
    .insertInto('policy_decisions')
    .values({
      id: decisionId,
      requested_by: repId,
      hcp_id: hcp.id,
      kind: 'send',
      request_json: JSON.stringify({ ...request, hasText: false }),
      outcome: allowed ? 'allow' : 'deny',
      purpose: decision.purpose,
      reasons_json: JSON.stringify(decision.reasons),
      rulebook_version: decision.rulebookVersion,
      snapshot_json: snapshotOf(context, decision),
      message_id: messageId,
      decided_at: iso,
    })
    .execute();
  if (allowed) await enqueue(tx, ctx, messageId, now);
  await recordHistory(
    tx,
    messageId,
    status,
    iso,
    allowed
      ? 'confirmation of the HCP’s opt-out'
      : `confirmation of the opt-out not sent: ${decision.reasons.map((r) => r.code).join(', ')}`,
  );
  await ctx.audit.record(tx, {
    actor: null,
    action: 'message.created',
    target: { type: 'message', id: messageId },
    subjectId: hcp.id,
    reason: 'confirmation of an opt-out',
    after: {
      status,
      decisionId,
      kind: 'opt_out_confirmation',
      optOutEntryId: optOut.entryId,
      templateKey: provenance.template?.key ?? null,
      templateVersion: provenance.template?.version ?? null,
      reasons: decision.reasons.map((r) => r.code),
    },
    personal: { text },
  });
  if (!allowed)
    ctx.logger.warn(
      { messageId, reasons: decision.reasons.map((r) => r.code) },
      'opt-out confirmation refused by the policy',
    );
  return allowed;
}

/** The rep the opt-out reply belongs to (the webhook processing named one), else one working the HCP. */
async function repFor(db: DbOrTx, inboundId: string, hcpId: string): Promise<string | null> {
  const inbound = await db
    .selectFrom('messages')
    .select('rep_id')
    .where('id', '=', inboundId)
    .executeTakeFirst();
  if (inbound?.rep_id) return inbound.rep_id;
  const rep = await db
    .selectFrom('hcp_territories')
    .innerJoin('user_territories', 'user_territories.territory_id', 'hcp_territories.territory_id')
    .innerJoin('users', 'users.id', 'user_territories.user_id')
    .select('users.id')
    .where('hcp_territories.hcp_id', '=', hcpId)
    .where('users.role', '=', 'rep')
    .where('users.active', '=', 1)
    .orderBy('users.id')
    .limit(1)
    .executeTakeFirst();
  return rep?.id ?? null;
}

function warnOnce(ctx: Ctx, key: string, message: string, fields: Record<string, unknown>): void {
  const seen = warned.get(ctx) ?? new Set<string>();
  warned.set(ctx, seen);
  if (seen.has(key)) return;
  seen.add(key);
  ctx.logger.warn({ alert: 'opt_out_confirmation', ...fields }, message);
}
