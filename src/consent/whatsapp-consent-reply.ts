import type { AuditActor } from '../audit/index.js';
import type { ParleyContext } from '../context.js';
import type { Tx } from '../platform/database/index.js';
import { classifyConsentReply, type ConsentKeywords, type ReplyIntent } from './consent-keywords.js';
import { CONSENT_PURPOSES, currentConsent, type ConsentPurpose } from './consent-ledger.js';
import {
  appendConsentEntry,
  cancelQueuedMessages,
  hasEntriesFromMessage,
  latestOutboundTemplatedMessage,
  listConsentEntries,
  openConsentHold,
  templateOfMessage,
} from './consent.store.js';

/**
 * Quick-reply payloads Parley puts on its own buttons (messaging sets them when it sends a template with
 * quick replies). A reply carrying one of these means exactly that, whatever the button's label says.
 */
export const CONSENT_BUTTON_PAYLOADS = {
  optOut: 'PARLEY_OPT_OUT',
  optInYes: 'PARLEY_OPT_IN_YES',
  optInNo: 'PARLEY_OPT_IN_NO',
} as const;

/**
 * What an opt-in confirms when no verbal grant is pending: the purposes the default opt-in wording names
 * (service messages and non-promotional information). Promotional consent is never inferred.
 */
export const DEFAULT_OPT_IN_PURPOSES: readonly ConsentPurpose[] = ['non_promotional', 'service'];

export interface WhatsappConsentReply {
  hcpId: string;
  /** Parley's id of the inbound message. */
  messageId: string;
  /** Meta's id of the inbound message: the evidence stored on the entries. */
  wamid: string;
  /** The text, or the button's label for a quick reply. */
  text: string;
  /** The quick-reply payload, when the HCP pressed a button. */
  buttonPayload?: string | null;
  /** The HCP's language (BCP 47). */
  language: string;
  /** Meta's timestamp of the reply: when the HCP said it. */
  at: Date;
  /** Parley's id of the message the reply answers (`context.id`), when WhatsApp names one. */
  repliedToMessageId?: string | null;
  /** The rulebook's keywords, when it overrides the defaults. */
  keywords?: ConsentKeywords;
}

export type ConsentReplyEffect = 'opted_out' | 'opted_in' | 'refused' | 'held_for_review' | 'none';

/**
 * Withdraws every WhatsApp purpose on the HCP's word (source `whatsapp_reply`, the wamid as evidence) and
 * cancels the HCP's messages not yet sent. `actor` is null when Parley read the reply itself, or the person
 * who read an ambiguous reply and found it was an opt-out.
 */
export async function withdrawWhatsapp(
  tx: Tx,
  ctx: ParleyContext,
  actor: AuditActor | null,
  input: { hcpId: string; capturedAt: string; evidence: string; messageId: string },
): Promise<void> {
  for (const purpose of CONSENT_PURPOSES)
    await appendConsentEntry(tx, ctx, actor, {
      hcpId: input.hcpId,
      channel: 'whatsapp',
      purpose,
      status: 'withdrawn',
      source: 'whatsapp_reply',
      capturedAt: input.capturedAt,
      evidence: input.evidence,
      wordingVersion: null,
      messageId: input.messageId,
      expiresAt: null,
    });
  await cancelQueuedMessages(tx, ctx, {
    hcpId: input.hcpId,
    actor,
    reason: 'The HCP opted out of WhatsApp messages.',
  });
}

function intentOfPayload(payload: string | null | undefined): ReplyIntent | undefined {
  switch (payload) {
    case CONSENT_BUTTON_PAYLOADS.optOut:
      return 'opt_out';
    case CONSENT_BUTTON_PAYLOADS.optInYes:
      return 'opt_in';
    case CONSENT_BUTTON_PAYLOADS.optInNo:
      return 'decline';
    default:
      return undefined;
  }
}

/**
 * Applies what an HCP's WhatsApp reply says about consent, inside the caller's transaction (the webhook
 * processing one), so an opt-out is committed before any further send to that HCP can be claimed:
 * - an opt-out word or button withdraws every WhatsApp purpose (source `whatsapp_reply`, evidence = wamid)
 *   and cancels the HCP's messages not yet sent;
 * - "yes" to an opt-in request grants (source `double_opt_in`, evidence = wamid, wording = the request's
 *   template key@version) every WhatsApp purpose pending a verbal grant, or the default opt-in purposes;
 *   "no" records a refusal of the same;
 * - an ambiguous reply ("cancelar" after an appointment confirmation) opens a consent hold for a person;
 * - anything else changes nothing.
 * Processing the same inbound message twice records nothing twice.
 */
export async function applyWhatsappConsentReply(
  tx: Tx,
  ctx: ParleyContext,
  reply: WhatsappConsentReply,
): Promise<{ effect: ConsentReplyEffect }> {
  const now = ctx.clock.now();
  // Meta's clock may run ahead of ours; an entry captured "in the future" would not count yet, and an
  // opt-out must count at once.
  const capturedAt = new Date(Math.min(reply.at.getTime(), now.getTime())).toISOString();

  const answeredId =
    reply.repliedToMessageId ??
    (await latestOutboundTemplatedMessage(tx, reply.hcpId, reply.at.toISOString()));
  const answered = answeredId ? await templateOfMessage(tx, answeredId) : undefined;

  let intent = intentOfPayload(reply.buttonPayload);
  let matched: string | null = reply.buttonPayload ?? null;
  if (!intent) {
    const context = {
      language: reply.language,
      repliedToTemplateType: answered?.type ?? null,
      ...(reply.keywords ? { keywords: reply.keywords } : {}),
    };
    const candidates = [reply.text, reply.buttonPayload ?? ''].map((t) => classifyConsentReply(t, context));
    const reading = candidates.find((r) => r.intent !== 'none') ?? { intent: 'none' as const };
    intent = reading.intent;
    matched = reading.matched ?? null;
  }
  // Yes/no mean something only in answer to an opt-in request.
  if ((intent === 'opt_in' || intent === 'decline') && answered?.type !== 'opt_in_request') intent = 'none';

  if (intent === 'none') return { effect: 'none' };
  if (intent === 'ambiguous') {
    await openConsentHold(tx, ctx, { hcpId: reply.hcpId, messageId: reply.messageId, matched });
    return { effect: 'held_for_review' };
  }

  const effect: ConsentReplyEffect =
    intent === 'opt_out' ? 'opted_out' : intent === 'opt_in' ? 'opted_in' : 'refused';
  if (await hasEntriesFromMessage(tx, reply.hcpId, reply.messageId)) return { effect };

  if (intent === 'opt_out') {
    await withdrawWhatsapp(tx, ctx, null, {
      hcpId: reply.hcpId,
      capturedAt,
      evidence: reply.wamid,
      messageId: reply.messageId,
    });
    return { effect };
  }

  const ledger = await listConsentEntries(tx, reply.hcpId);
  const pending = currentConsent(ledger, now)
    .filter((c) => c.channel === 'whatsapp' && c.status === 'pending')
    .map((c) => c.purpose);
  const purposes = pending.length > 0 ? pending : DEFAULT_OPT_IN_PURPOSES;
  for (const purpose of purposes)
    await appendConsentEntry(tx, ctx, null, {
      hcpId: reply.hcpId,
      channel: 'whatsapp',
      purpose,
      status: intent === 'opt_in' ? 'granted' : 'refused',
      source: 'double_opt_in',
      capturedAt,
      evidence: reply.wamid,
      wordingVersion: answered?.wording ?? null,
      messageId: reply.messageId,
      expiresAt: null,
    });
  return { effect };
}
