import { createHash } from 'node:crypto';
import type { ParleyContext } from '../context.js';
import { consentBasisAt, listConsentEntries } from '../consent/index.js';
import {
  buildProvenance,
  contentForMessage,
  createTrackedLink,
  renderTemplate,
  type RenderLink,
} from '../content/index.js';
import { recordInteraction } from '../engagement/index.js';
import { findVisibleHcp } from '../hcps/index.js';
import type { Principal } from '../identity/index.js';
import type { Insertable } from 'kysely';
import { newId } from '../platform/crypto/index.js';
import {
  forUpdate,
  isUniqueViolation,
  preparedQuery,
  type DbOrTx,
  type MessagesTable,
  type PolicyDecisionsTable,
  type Tx,
  NEW_MESSAGE_FACTS,
} from '../platform/database/index.js';
import { DomainError } from '../platform/errors/index.js';
import {
  decide,
  reasonCodesColumn,
  type Decision,
  type DecisionContext,
  type DecisionRequest,
} from '../policy/index.js';
import { loadDecisionContext } from './decision-inputs.store.js';
import { snapshotOf } from './decision-snapshot.js';
import { provenanceForStorage, storedProvenance, type MessageProvenance } from './message-provenance.js';
import { messageView, type MessageView } from './messages.store.js';
import { enqueue, recordHistory } from './outbox.store.js';

/** A proposed message as the API takes it (CONTRACT.md "Policy decision"). */
export interface ProposedMessage {
  hcpId: string;
  templateId?: string | undefined;
  parameters?: Record<string, unknown> | undefined;
  assetIds?: string[] | undefined;
  text?: string | undefined;
  sendAt?: string | undefined;
  /** `check` only: what the decision would be at that moment. */
  at?: string | undefined;
}

type Ctx = Pick<ParleyContext, 'db' | 'dialect' | 'clock' | 'cipher' | 'audit' | 'config'>;

export interface RequestMeta {
  ip?: string;
  method?: string;
  route?: string;
}

/** The sending number of the HCP's market (Meta's phone-number id), or the configured default. */
export async function sendingNumberFor(
  db: DbOrTx,
  ctx: Pick<ParleyContext, 'config'>,
  market: string,
): Promise<string> {
  const row = await activeSendingNumberOf.first(db, { market });
  return row?.phone_number_id ?? ctx.config.whatsapp.phoneNumberId;
}
// Every check and send runs these: built and compiled once (preparedQuery).
const activeSendingNumberOf = preparedQuery((db, $: { market: string }) =>
  db
    .selectFrom('sending_numbers')
    .select('phone_number_id')
    .where('market_code', '=', $.market)
    .where('status', '=', 'active')
    .orderBy('phone_number_id')
    .limit(1),
);
const insertDecision = preparedQuery((db, $: Insertable<PolicyDecisionsTable>) =>
  db.insertInto('policy_decisions').values($),
);

function toDecisionRequest(principal: Principal, body: ProposedMessage): DecisionRequest {
  return {
    repId: principal.id,
    hcpId: body.hcpId,
    ...(body.templateId ? { templateId: body.templateId } : {}),
    ...(body.parameters ? { parameters: body.parameters } : {}),
    ...(body.text !== undefined ? { text: body.text } : {}),
    ...(body.assetIds ? { assetIds: body.assetIds } : {}),
    ...(body.sendAt ? { sendAt: body.sendAt } : {}),
    // No kind: decide() tells an ordinary message from a reply inside the HCP's window (cap-exempt).
  };
}

async function storeDecision(
  tx: DbOrTx,
  input: {
    principal: Principal;
    body: ProposedMessage;
    kind: 'check' | 'send';
    decision: Decision;
    context: DecisionContext;
    messageId: string | null;
    at: Date;
  },
): Promise<string> {
  const id = newId('dec');
  // The request is stored without free text: the text is personal data and lives sealed on the message.
  const { text, ...request } = input.body;
  await insertDecision.execute(tx, {
    id,
    requested_by: input.principal.id,
    hcp_id: input.body.hcpId,
    kind: input.kind,
    request_json: JSON.stringify({ ...request, hasText: text !== undefined }),
    outcome: input.decision.outcome,
    purpose: input.decision.purpose,
    reasons_json: JSON.stringify(input.decision.reasons),
    rulebook_version: input.decision.rulebookVersion,
    snapshot_json: snapshotOf(input.context, input.decision),
    message_id: input.messageId,
    decided_at: input.at.toISOString(),
    template_id: input.body.templateId ?? null,
    reason_codes: reasonCodesColumn(input.decision.reasons),
    market_code: input.context.hcp.market,
  });
  return id;
}

/**
 * `POST /api/messages/check`: the decision for a proposed message, now or at `at`; only the decision is
 * stored. Visibility first: an HCP the caller cannot see is a 404, never a decision.
 */
export async function checkMessage(
  ctx: Ctx,
  principal: Principal,
  body: ProposedMessage,
  meta: RequestMeta,
): Promise<Decision> {
  const hcp = await findVisibleHcp(ctx.db, ctx, principal, body.hcpId, meta);
  const now = body.at ? new Date(body.at) : ctx.clock.now();
  const request = toDecisionRequest(principal, body);
  const phoneNumberId = await sendingNumberFor(ctx.db, ctx, hcp.market);
  const context = await loadDecisionContext(ctx.db, ctx, {
    request,
    now,
    phoneNumberId,
    known: { hcp, repTerritoryIds: principal.territoryIds },
  });
  const decision = decide(request, context);
  await storeDecision(ctx.db, {
    principal,
    body,
    kind: 'check',
    decision,
    context,
    messageId: null,
    at: ctx.clock.now(),
  });
  return decision;
}

export type SendAnswer =
  | { status: 202; body: { message: MessageView; decision: Decision } }
  | { status: 422; body: { error: { code: 'policy_denied'; message: string }; decision: Decision } };

/**
 * `POST /api/messages`: decide; on allow the message, its outbox row and the decision are written in one
 * transaction (review: the message waits for compliance, with no outbox row yet). The HCP's row is locked
 * first, so two reps sending to the same HCP at once are decided one after the other and cannot both pass a
 * cap. An `Idempotency-Key` makes a retried request return the first answer; the same key with another
 * body is refused.
 */
export async function sendMessage(
  ctx: Ctx,
  principal: Principal,
  body: ProposedMessage,
  idempotencyKey: string | undefined,
  meta: RequestMeta,
): Promise<SendAnswer> {
  const hcpView = await findVisibleHcp(ctx.db, ctx, principal, body.hcpId, meta);
  const requestHash = createHash('sha256').update(JSON.stringify(body)).digest('hex');
  if (idempotencyKey) {
    const earlier = await storedAnswer(ctx.db, principal.id, idempotencyKey, requestHash);
    if (earlier) return earlier;
  }
  try {
    return await ctx.db.transaction().execute(async (tx) => {
      if (idempotencyKey) {
        // Claimed first: a concurrent duplicate waits on this row, then finds the answer.
        await tx
          .insertInto('idempotency_keys')
          .values({
            user_id: principal.id,
            key: idempotencyKey,
            request_hash: requestHash,
            status_code: 0,
            response_json: '{}',
            created_at: ctx.clock.now().toISOString(),
          })
          .execute();
      }
      await forUpdate(ctx.dialect, tx.selectFrom('hcps').select('id').where('id', '=', body.hcpId)).execute();
      const answer = await composeInTransaction(tx, ctx, principal, body, hcpView);
      if (idempotencyKey) {
        await tx
          .updateTable('idempotency_keys')
          .set({ status_code: answer.status, response_json: JSON.stringify(answer.body) })
          .where('user_id', '=', principal.id)
          .where('key', '=', idempotencyKey)
          .execute();
      }
      return answer;
    });
  } catch (error) {
    if (idempotencyKey && isUniqueViolation(error)) {
      const earlier = await storedAnswer(ctx.db, principal.id, idempotencyKey, requestHash);
      if (earlier) return earlier;
    }
    throw error;
  }
}

async function storedAnswer(
  db: DbOrTx,
  userId: string,
  key: string,
  requestHash: string,
): Promise<SendAnswer | undefined> {
  const row = await db
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('user_id', '=', userId)
    .where('key', '=', key)
    .executeTakeFirst();
  if (!row || row.status_code === 0) return undefined;
  if (row.request_hash !== requestHash) {
    throw new DomainError(
      'idempotency_key_reused',
      'This Idempotency-Key was used with a different request body; use a new key.',
    );
  }
  return { status: row.status_code, body: JSON.parse(row.response_json) } as SendAnswer;
}

async function composeInTransaction(
  tx: Tx,
  ctx: Ctx,
  principal: Principal,
  body: ProposedMessage,
  hcpView: { id: string; name: string; timeZone: string; market: string },
): Promise<SendAnswer> {
  const now = ctx.clock.now();
  const iso = now.toISOString();
  const request = toDecisionRequest(principal, body);
  const phoneNumberId = await sendingNumberFor(tx, ctx, hcpView.market);
  const content = await contentForMessage(
    tx,
    { templateId: body.templateId ?? null, assetIds: body.assetIds ?? [] },
    now,
  );
  const context = await loadDecisionContext(tx, ctx, { request, now, phoneNumberId, content });
  let decision = decide(request, context);

  if (decision.outcome === 'deny') {
    const decisionId = await storeDecision(tx, {
      principal,
      body,
      kind: 'send',
      decision,
      context,
      messageId: null,
      at: now,
    });
    await recordInteraction(tx, ctx, {
      hcpId: body.hcpId,
      channel: 'whatsapp',
      direction: 'outbound',
      kind: 'blocked_attempt',
      occurredAt: iso,
      repId: principal.id,
      summary: `Blocked: ${decision.reasons.map((r) => r.code).join(', ')}`,
      source: 'parley',
      externalId: decisionId,
      templateId: body.templateId ?? null,
      assetIds: body.assetIds ?? [],
      status: 'blocked',
    });
    return {
      status: 422,
      body: {
        error: { code: 'policy_denied', message: decision.reasons.map((r) => r.message).join(' ') },
        decision,
      },
    };
  }

  const messageId = newId('msg');
  const links: Record<string, RenderLink> = {};
  const trackedUrls: Record<string, string> = {};
  for (const asset of content.assets) {
    const link = await createTrackedLink(tx, ctx, { messageId, assetId: asset.id, hcpId: body.hcpId });
    const url = `${ctx.config.publicUrl}${link.path}`;
    trackedUrls[asset.id] = url;
    links[asset.id] = {
      url,
      asset: {
        id: asset.id,
        kind: asset.kind,
        status: asset.status,
        expiresAt: asset.expiresAt,
        market: asset.market,
      },
    };
  }
  let text = body.text ?? '';
  let values: Array<{ name: string; value: string }> = [];
  if (content.template) {
    const rendered = renderTemplate(
      content.template,
      body.parameters ?? {},
      { name: hcpView.name, timeZone: hcpView.timeZone },
      links,
      now,
    );
    if (!rendered.ok) {
      // decide() checks parameters too; rendering is the last word on what the HCP would read.
      decision = {
        ...decision,
        outcome: 'deny',
        reasons: rendered.problems.map((p) => ({
          code: 'invalid_parameter' as const,
          message: p.message,
          rule: 'content.parameters',
        })),
      };
      // No message will carry these links: take them back with the refusal.
      await tx.deleteFrom('tracked_links').where('message_id', '=', messageId).execute();
      await storeDecision(tx, { principal, body, kind: 'send', decision, context, messageId: null, at: now });
      return {
        status: 422,
        body: {
          error: { code: 'policy_denied', message: decision.reasons.map((r) => r.message).join(' ') },
          decision,
        },
      };
    }
    text = rendered.text;
    values = rendered.values;
  }
  const entries = decision.purpose ? await listConsentEntries(tx, body.hcpId) : [];
  const provenance: MessageProvenance = {
    ...buildProvenance(content.template ?? null, values, content.assets, trackedUrls),
    purpose: decision.purpose,
    consentEntryId: decision.purpose ? consentBasisAt(entries, 'whatsapp', decision.purpose, now) : null,
    reviewedBy: null,
    kind: 'rep',
  };
  const sendAt = body.sendAt && new Date(body.sendAt) > now ? new Date(body.sendAt) : undefined;
  const status = decision.outcome === 'review' ? 'pending_review' : sendAt ? 'scheduled' : 'queued';
  const decisionId = newId('dec');
  const row: MessagesTable = {
    id: messageId,
    hcp_id: body.hcpId,
    rep_id: principal.id,
    direction: 'outbound',
    wamid: null,
    phone_number_id: phoneNumberId,
    type: content.template ? 'template' : 'text',
    template_id: content.template?.id ?? null,
    parameters_enc: body.parameters ? ctx.cipher.seal(JSON.stringify(body.parameters)) : null,
    body_enc: ctx.cipher.seal(text),
    asset_ids_json: JSON.stringify(content.assets.map((a) => a.id)),
    provenance_json: provenanceForStorage(provenance, ctx.cipher),
    send_kind: provenance.kind,
    status,
    status_at: iso,
    error_code: null,
    error_title: null,
    error_detail: null,
    decision_id: decisionId,
    idempotency_key: null,
    context_wamid: null,
    send_at: sendAt?.toISOString() ?? null,
    meta_timestamp: null,
    created_at: iso,
    ...NEW_MESSAGE_FACTS,
    market_code: hcpView.market,
  };
  await tx.insertInto('messages').values(row).execute();
  await tx
    .insertInto('policy_decisions')
    .values({
      id: decisionId,
      requested_by: principal.id,
      hcp_id: body.hcpId,
      kind: 'send',
      request_json: JSON.stringify({ ...body, text: undefined, hasText: body.text !== undefined }),
      outcome: decision.outcome,
      purpose: decision.purpose,
      reasons_json: JSON.stringify(decision.reasons),
      rulebook_version: decision.rulebookVersion,
      snapshot_json: snapshotOf(context, decision),
      message_id: messageId,
      decided_at: iso,
      template_id: body.templateId ?? null,
      reason_codes: reasonCodesColumn(decision.reasons),
      market_code: hcpView.market,
    })
    .execute();
  if (status !== 'pending_review') await enqueue(tx, ctx, messageId, sendAt ?? now);
  await recordHistory(tx, messageId, status, iso);
  await ctx.audit.record(tx, {
    actor: principal,
    action: 'message.created',
    target: { type: 'message', id: messageId },
    subjectId: body.hcpId,
    after: {
      status,
      decisionId,
      outcome: decision.outcome,
      templateKey: provenance.template?.key ?? null,
      templateVersion: provenance.template?.version ?? null,
      assets: provenance.assets.map((a) => `${a.key}@${a.version}`),
      sendAt: row.send_at,
    },
    personal: { text },
  });
  const view = await messageView(tx, ctx, row, true);
  return { status: 202, body: { message: view, decision } };
}

/**
 * The whole decision again for a queued message, at claim time (the worker's `redecide`). The message
 * does not count against itself; a message compliance approved passes its own review.
 */
export async function redecideQueued(
  tx: DbOrTx,
  ctx: Pick<ParleyContext, 'cipher' | 'clock'>,
  message: MessagesTable,
  now: Date,
): Promise<Decision> {
  const provenance = storedProvenance(message.provenance_json);
  if (!message.hcp_id || !message.rep_id) throw new Error(`message ${message.id} has no HCP or rep`);
  const request: DecisionRequest = {
    repId: message.rep_id,
    hcpId: message.hcp_id,
    ...(message.template_id ? { templateId: message.template_id } : {}),
    ...(message.parameters_enc
      ? { parameters: JSON.parse(ctx.cipher.open(message.parameters_enc)) as Record<string, unknown> }
      : {}),
    ...(!message.template_id && message.body_enc ? { text: ctx.cipher.open(message.body_enc) } : {}),
    assetIds: JSON.parse(message.asset_ids_json) as string[],
    // An exempt kind Parley set itself (the opt-out confirmation) stays; an ordinary message is left for
    // decide() to classify again, so a reply inside the HCP's window keeps its exemption at claim time.
    ...(provenance.kind && provenance.kind !== 'rep'
      ? { kind: provenance.kind as DecisionRequest['kind'] }
      : {}),
  };
  const context = await loadDecisionContext(tx, ctx, {
    request,
    now,
    phoneNumberId: message.phone_number_id,
    excludeMessageId: message.id,
  });
  const decision = decide(request, context);
  if (
    decision.outcome === 'review' &&
    provenance.reviewedBy &&
    decision.reasons.every((r) => r.code === 'needs_review')
  ) {
    return { ...decision, outcome: 'allow', reasons: [] };
  }
  return decision;
}
