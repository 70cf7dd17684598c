import { openCase, triageText, type KnownProduct } from '../assistant/index.js';
import { applyWhatsappConsentReply } from '../consent/index.js';
import type { ParleyContext } from '../context.js';
import { recordInteraction } from '../engagement/index.js';
import { findHcpById, findHcpByWhatsappNumber, type Hcp } from '../hcps/index.js';
import { newId } from '../platform/crypto/index.js';
import type { DbOrTx, Tx } from '../platform/database/index.js';
import { contentOf } from './inbound-content.js';
import type { WebhookEvent } from './webhook-payload.js';

type MessageEvent = Extract<WebhookEvent, { kind: 'message' }>;

/**
 * Applies one inbound message inside the processing transaction: the message (text sealed), its timeline
 * entry, the customer-service window, consent replies, first triage, and one audit entry. A number Parley
 * does not know goes to the unknown-contacts queue and never creates an HCP.
 */
export async function applyInboundMessage(tx: Tx, ctx: ParleyContext, event: MessageEvent): Promise<void> {
  const m = event.message;
  const seen = await tx.selectFrom('messages').select('id').where('wamid', '=', m.id).executeTakeFirst();
  if (seen) return;
  const at = m.timestamp;
  const now = ctx.clock.now().toISOString();
  const waId = event.contact.waId;
  const hcp = await senderOf(tx, ctx, waId, event.contact.userId);
  const content = contentOf(m);
  const answered = m.context?.id
    ? await tx
        .selectFrom('messages')
        .select(['id', 'rep_id'])
        .where('wamid', '=', m.context.id)
        .where('direction', '=', 'outbound')
        .executeTakeFirst()
    : undefined;
  const repId = hcp ? await owningRep(tx, hcp, answered?.rep_id ?? null) : null;
  const facts = content.personalFacts
    ? { ...content.facts, sealed: ctx.cipher.seal(JSON.stringify(content.personalFacts)) }
    : content.facts;
  const messageId = newId('msg');
  await tx
    .insertInto('messages')
    .values({
      id: messageId,
      hcp_id: hcp?.id ?? null,
      rep_id: repId,
      direction: 'inbound',
      wamid: m.id,
      phone_number_id: event.phoneNumberId,
      type: m.type,
      template_id: null,
      parameters_enc: null,
      body_enc: content.text === null ? null : ctx.cipher.seal(content.text),
      asset_ids_json: '[]',
      provenance_json: JSON.stringify(facts),
      status: content.needsReview ? 'needs_review' : 'received',
      status_at: now,
      error_code: m.errors?.[0]?.code ?? null,
      error_title: m.errors?.[0]?.title ?? null,
      error_detail: m.errors?.[0]?.error_data?.details ?? null,
      decision_id: null,
      idempotency_key: null,
      context_wamid: m.context?.id ?? null,
      send_at: null,
      meta_timestamp: at,
      created_at: now,
      market_code: hcp?.market ?? null,
    })
    .execute();

  const market = hcp?.market ?? (await marketOfNumber(tx, event.phoneNumberId));
  if (!hcp) {
    const contactId = newId('unk');
    await tx
      .insertInto('unknown_contacts')
      .values({
        id: contactId,
        wa_id_bidx: ctx.cipher.blindIndex(`wa:${(waId ?? event.contact.userId ?? '').replace(/\D/g, '')}`),
        wa_id_enc: ctx.cipher.seal(waId ?? event.contact.userId ?? ''),
        profile_name_enc: event.contact.profileName ? ctx.cipher.seal(event.contact.profileName) : null,
        message_id: messageId,
        phone_number_id: event.phoneNumberId,
        received_at: at,
      })
      .execute();
    await ctx.audit.record(tx, {
      actor: null,
      action: 'message.received_from_unknown',
      target: { type: 'message', id: messageId },
      after: { type: m.type, wamid: m.id, phoneNumberId: event.phoneNumberId, unknownContactId: contactId },
    });
    await triage(tx, ctx, {
      hcpId: null,
      messageId,
      interactionId: null,
      text: content.triageText,
      at,
      market,
    });
    return;
  }

  const { interaction } = await recordInteraction(tx, ctx, {
    hcpId: hcp.id,
    channel: 'whatsapp',
    direction: 'inbound',
    kind: 'message',
    occurredAt: at,
    repId,
    summary: content.summary,
    source: 'whatsapp',
    externalId: m.id,
    messageId,
    status: content.needsReview ? 'needs_review' : 'received',
  });
  await refreshServiceWindow(tx, hcp.id, event.phoneNumberId, at);
  await ctx.audit.record(tx, {
    actor: null,
    action: 'message.received',
    target: { type: 'message', id: messageId },
    subjectId: hcp.id,
    after: {
      type: m.type,
      wamid: m.id,
      phoneNumberId: event.phoneNumberId,
      repId,
      repliesTo: answered?.id ?? null,
      interactionId: interaction.id,
      needsReview: content.needsReview,
    },
  });

  if (m.type === 'system' && m.system.type === 'user_changed_number' && hcp.whatsappStatus !== 'suspended') {
    // The old number may now belong to someone else: sends wait until the new one is verified.
    await tx
      .updateTable('hcps')
      .set({ whatsapp_status: 'suspended', updated_at: now })
      .where('id', '=', hcp.id)
      .execute();
    await ctx.audit.record(tx, {
      actor: null,
      action: 'hcp.whatsapp_suspended',
      target: { type: 'hcp', id: hcp.id },
      subjectId: hcp.id,
      reason: 'WhatsApp reported that the HCP changed number',
      before: { whatsappStatus: hcp.whatsappStatus },
      after: { whatsappStatus: 'suspended' },
      ...(m.system.wa_id ? { personal: { newWaId: m.system.wa_id } } : {}),
    });
  }

  if (content.reply) {
    await applyWhatsappConsentReply(tx, ctx, {
      hcpId: hcp.id,
      messageId,
      wamid: m.id,
      text: content.reply.text,
      buttonPayload: content.reply.buttonPayload,
      language: hcp.language,
      at: new Date(at),
      repliedToMessageId: answered?.id ?? null,
    });
  }
  await triage(tx, ctx, {
    hcpId: hcp.id,
    messageId,
    interactionId: interaction.id,
    text: content.triageText,
    at,
    market,
  });
}

/**
 * The HCP behind a sender: by number (`wa_id`, through the blind index), else by Meta's business-scoped
 * user id when the HCP record has one (with usernames, Meta may send no number at all).
 */
async function senderOf(
  tx: Tx,
  ctx: ParleyContext,
  waId: string | undefined,
  userId: string | undefined,
): Promise<Hcp | undefined> {
  const byNumber = waId ? await findHcpByWhatsappNumber(tx, ctx, waId) : undefined;
  if (byNumber || !userId) return byNumber;
  const row = await tx
    .selectFrom('hcps')
    .select('id')
    .where('bsuid', '=', userId)
    .where('erased_at', 'is', null)
    .orderBy('id')
    .executeTakeFirst();
  return row ? findHcpById(tx, ctx, row.id) : undefined;
}

/**
 * Who an inbound reply belongs to: the rep whose message it answers, else the rep who last wrote to the
 * HCP, else the first active rep working one of the HCP's territories.
 */
async function owningRep(db: DbOrTx, hcp: Hcp, answeringRepId: string | null): Promise<string | null> {
  if (answeringRepId) return answeringRepId;
  const last = await db
    .selectFrom('messages')
    .select('rep_id')
    .where('hcp_id', '=', hcp.id)
    .where('direction', '=', 'outbound')
    .where('rep_id', 'is not', null)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (last?.rep_id) return last.rep_id;
  if (hcp.territoryIds.length === 0) return null;
  const owner = await db
    .selectFrom('user_territories')
    .innerJoin('users', 'users.id', 'user_territories.user_id')
    .select('users.id')
    .where('user_territories.territory_id', 'in', hcp.territoryIds)
    .where('users.role', '=', 'rep')
    .where('users.active', '=', 1)
    .orderBy('users.created_at')
    .orderBy('users.id')
    .limit(1)
    .executeTakeFirst();
  return owner?.id ?? null;
}

/** Opens or refreshes the 24-hour window from Meta's timestamp; a late, older delivery never moves it back. */
async function refreshServiceWindow(tx: Tx, hcpId: string, phoneNumberId: string, at: string): Promise<void> {
  await tx
    .insertInto('service_windows')
    .values({ hcp_id: hcpId, phone_number_id: phoneNumberId, last_inbound_at: at })
    .onConflict((oc) =>
      oc
        .columns(['hcp_id', 'phone_number_id'])
        .doUpdateSet({ last_inbound_at: at })
        .where('service_windows.last_inbound_at', '<', at),
    )
    .execute();
}

async function marketOfNumber(db: DbOrTx, phoneNumberId: string): Promise<string | null> {
  const row = await db
    .selectFrom('sending_numbers')
    .select('market_code')
    .where('phone_number_id', '=', phoneNumberId)
    .executeTakeFirst();
  return row?.market_code ?? null;
}

async function triage(
  tx: Tx,
  ctx: ParleyContext,
  input: {
    hcpId: string | null;
    messageId: string;
    interactionId: string | null;
    text: string | null;
    at: string;
    market: string | null;
  },
): Promise<void> {
  if (!input.text?.trim()) return;
  let q = tx.selectFrom('products').select(['name', 'generic_name']);
  if (input.market) q = q.where('market_code', '=', input.market);
  const products: KnownProduct[] = (await q.orderBy('name').execute()).map((p) => ({
    name: p.name,
    genericName: p.generic_name,
  }));
  const result = triageText(input.text, products);
  for (const finding of result.findings) {
    await openCase(tx, ctx, {
      finding,
      hcpId: input.hcpId,
      messageId: input.messageId,
      interactionId: input.interactionId,
      verbatim: input.text,
      product: result.product,
      marketCode: input.market,
      awareAt: input.at,
    });
  }
}
