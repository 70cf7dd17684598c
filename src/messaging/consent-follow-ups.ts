import type { ParleyContext } from '../context.js';
import { consentBasisAt, listConsentEntries } from '../consent/index.js';
import { buildProvenance, contentForMessage, renderTemplate } from '../content/index.js';
import { newId } from '../platform/crypto/index.js';
import {
  forUpdate,
  isUniqueViolation,
  notSearchedBy,
  readInChunks,
  type DbOrTx,
  type MessagesTable,
  type Tx,
  NEW_MESSAGE_FACTS,
} from '../platform/database/index.js';
import { decide, reasonCodesColumn, type Decision, type DecisionRequest } from '../policy/index.js';
import { sendingNumberFor } from './compose.js';
import { snapshotOf } from './decision-snapshot.js';
import { loadDecisionContext } from './decision-inputs.store.js';
import { provenanceForStorage, type MessageProvenance } from './message-provenance.js';
import { enqueue, recordHistory } from './outbox.store.js';

/**
 * The messages Parley sends itself after an HCP's consent reply, each exactly once per reply:
 * - **the confirmation of an opt-out** (issue 4 item 3): the approved `service` template keyed
 *   `optout_confirmation` in the HCP's market and language (its latest approved version), decided with
 *   `kind: 'opt_out_confirmation'`, which decide() exempts from consent (it rests on the opt-out itself),
 *   caps, quiet hours and the duplicate rule;
 * - **the welcome after an opt-in** (issue 4 item 2): the approved `service` template keyed
 *   `optin_welcome`, saying which messages to expect and how often; decided as an ordinary message, so it
 *   needs the consent just granted (decide() sees it as a reply inside the HCP's window).
 * Each is keyed by the inbound message that carried the reply (`messages.idempotency_key =
 * optout:<id>` / `optin:<id>`, unique), so a replayed webhook, two workers or two instances queue it at
 * most once. The reply itself is committed by the webhook processing (consent withdraws or grants); this
 * reads the ledger's recent WhatsApp-reply entries and queues what is missing, within seconds. A follow-up
 * the policy refuses is stored `cancelled` with its reasons, so it is not tried again.
 */
export const OPT_OUT_CONFIRMATION_KEY = 'optout_confirmation';
export const OPT_IN_WELCOME_KEY = 'optin_welcome';

export interface FollowUp {
  /** Prefix of the idempotency key; the inbound message id follows. */
  prefix: 'optout' | 'optin';
  templateKey: string;
  /** Which ledger entries call for it. */
  status: 'withdrawn' | 'granted';
  source: 'whatsapp_reply' | 'double_opt_in';
  kind: 'opt_out_confirmation' | undefined;
  reason: string;
}

const OPT_OUT_CONFIRMATION: FollowUp = {
  prefix: 'optout',
  templateKey: OPT_OUT_CONFIRMATION_KEY,
  status: 'withdrawn',
  source: 'whatsapp_reply',
  kind: 'opt_out_confirmation',
  reason: 'confirmation of an opt-out',
};

const OPT_IN_WELCOME: FollowUp = {
  prefix: 'optin',
  templateKey: OPT_IN_WELCOME_KEY,
  status: 'granted',
  source: 'double_opt_in',
  kind: undefined,
  reason: 'welcome after an opt-in',
};

type Ctx = Pick<ParleyContext, 'db' | 'dialect' | 'clock' | 'cipher' | 'audit' | 'config' | 'logger'>;

const DAY = 24 * 3600_000;
const warned = new WeakMap<object, Set<string>>();

/** Queues the missing confirmations for opt-outs recorded in the last 24 hours; returns how many. */
export async function queueOptOutConfirmations(ctx: Ctx): Promise<number> {
  return queueFollowUps(ctx, OPT_OUT_CONFIRMATION);
}

/** Queues the missing welcomes for opt-ins recorded in the last 24 hours; returns how many. */
export async function queueOptInWelcomes(ctx: Ctx): Promise<number> {
  return queueFollowUps(ctx, OPT_IN_WELCOME);
}

/** Both kinds of follow-up (the outbox workers call this before each round). */
export async function queueConsentFollowUps(ctx: Ctx): Promise<number> {
  return (await queueOptOutConfirmations(ctx)) + (await queueOptInWelcomes(ctx));
}

/**
 * The WhatsApp ledger entries of a follow-up's kind recorded since `since` (a day ago), answering an
 * inbound message. Searched by recording time only: the outbox workers run this before every round, and
 * SQLite otherwise took consent_entries_status (channel, status, …; migration 0028) and walked every grant
 * ever recorded (45 ms a round on the 10M world, holding the one connection every request needs).
 */
export function recentLedgerEntries(db: DbOrTx, spec: Pick<FollowUp, 'status' | 'source'>, since: string) {
  return db
    .selectFrom('consent_entries')
    .select(['id', 'hcp_id', 'message_id', 'recorded_at'])
    .where('recorded_at', '>=', since)
    .where((eb) => eb(notSearchedBy(db, eb.ref('channel')), '=', 'whatsapp'))
    .where((eb) => eb(notSearchedBy(db, eb.ref('status')), '=', spec.status))
    .where('source', '=', spec.source)
    .where('message_id', 'is not', null)
    .orderBy('recorded_at')
    .orderBy('id');
}

async function queueFollowUps(ctx: Ctx, spec: FollowUp): Promise<number> {
  const now = ctx.clock.now();
  const since = new Date(now.getTime() - DAY).toISOString();
  const withdrawals = await recentLedgerEntries(ctx.db, spec, since).execute();
  const byInbound = new Map<string, { hcpId: string; entryId: string }>();
  for (const w of withdrawals)
    if (w.message_id && !byInbound.has(w.message_id))
      byInbound.set(w.message_id, { hcpId: w.hcp_id, entryId: w.id });
  if (byInbound.size === 0) return 0;
  const keyOf = (inboundId: string) => `${spec.prefix}:${inboundId}`;
  const keys = [...byInbound.keys()].map(keyOf);
  const queuedBefore = await readInChunks(keys, (chunk) =>
    ctx.db.selectFrom('messages').select('idempotency_key').where('idempotency_key', 'in', chunk).execute(),
  );
  const done = new Set(queuedBefore.map((r) => r.idempotency_key));
  let queued = 0;
  for (const [inboundId, optOut] of byInbound) {
    if (done.has(keyOf(inboundId))) continue;
    try {
      if (await ctx.db.transaction().execute((tx) => queueOne(tx, ctx, spec, inboundId, optOut))) queued += 1;
    } catch (error) {
      // Another worker or instance queued it first: exactly one is what we want.
      if (!isUniqueViolation(error)) throw error;
    }
  }
  return queued;
}

async function queueOne(
  tx: Tx,
  ctx: Ctx,
  spec: FollowUp,
  inboundId: string,
  optOut: { hcpId: string; entryId: string },
): Promise<boolean> {
  const key = `${spec.prefix}:${inboundId}`;
  const now = ctx.clock.now();
  const iso = now.toISOString();
  await forUpdate(ctx.dialect, tx.selectFrom('hcps').select('id').where('id', '=', optOut.hcpId)).execute();
  const already = await tx
    .selectFrom('messages')
    .select('id')
    .where('idempotency_key', '=', key)
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
    // Template keys are unique across markets, so a market's copy may carry its code as a prefix
    // (`br_optout_confirmation`), as the demo library does.
    .where('key', 'in', [spec.templateKey, `${hcp.market_code.toLowerCase()}_${spec.templateKey}`])
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
      `${spec.prefix}:${hcp.market_code}:${hcp.language}:${repId ? 'template' : 'rep'}`,
      template
        ? `no rep works this HCP: the ${spec.reason} has no sender`
        : `no approved service template keyed ${spec.templateKey} for this market and language: the ${spec.reason} cannot be sent`,
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
    ...(spec.kind ? { kind: spec.kind } : {}),
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
    // A confirmation rests on the opt-out it confirms; a welcome on the grant in force for its purpose.
    consentEntryId: spec.kind
      ? optOut.entryId
      : decision.purpose
        ? consentBasisAt(await listConsentEntries(tx, hcp.id), 'whatsapp', decision.purpose, now)
        : null,
    reviewedBy: null,
    kind: spec.kind ?? 'rep',
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
    provenance_json: provenanceForStorage(provenance, ctx.cipher),
    send_kind: provenance.kind,
    status,
    status_at: iso,
    error_code: null,
    error_title: null,
    error_detail: allowed ? null : JSON.stringify(decision.reasons),
    decision_id: decisionId,
    idempotency_key: key,
    context_wamid: null,
    send_at: null,
    meta_timestamp: null,
    created_at: iso,
    ...NEW_MESSAGE_FACTS,
    market_code: hcp.market_code,
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
      template_id: request.templateId ?? null,
      reason_codes: reasonCodesColumn(decision.reasons),
      market_code: hcp.market_code,
    })
    .execute();
  if (allowed) await enqueue(tx, ctx, messageId, now);
  await recordHistory(
    tx,
    messageId,
    status,
    iso,
    allowed ? spec.reason : `${spec.reason} not sent: ${decision.reasons.map((r) => r.code).join(', ')}`,
  );
  await ctx.audit.record(tx, {
    actor: null,
    action: 'message.created',
    target: { type: 'message', id: messageId },
    subjectId: hcp.id,
    reason: spec.reason,
    after: {
      status,
      decisionId,
      kind: spec.kind ?? 'rep',
      consentEntryId: optOut.entryId,
      templateKey: provenance.template?.key ?? null,
      templateVersion: provenance.template?.version ?? null,
      reasons: decision.reasons.map((r) => r.code),
    },
    personal: { text },
  });
  if (!allowed)
    ctx.logger.warn(
      { messageId, reasons: decision.reasons.map((r) => r.code) },
      `${spec.reason} refused by the policy`,
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
  ctx.logger.warn({ alert: 'consent_follow_up', ...fields }, message);
}
