import type { AuditActor } from '../audit/index.js';
import type { ParleyContext } from '../context.js';
import type { Tx } from '../platform/database/index.js';
import { DomainError } from '../platform/errors/index.js';
import {
  findConsentHold,
  inboundMessageEvidence,
  resolveConsentHold,
  type ConsentHold,
} from './consent.store.js';
import { withdrawWhatsapp } from './whatsapp-consent-reply.js';

/**
 * A person has read a held reply and says what the HCP meant. `opted_out` withdraws every WhatsApp
 * purpose as of the moment the HCP wrote (evidence: the reply's wamid, captured by the reviewer) and
 * cancels unsent messages; `not_an_opt_out` only closes the hold, and sends may resume.
 */
export async function reviewConsentHold(
  tx: Tx,
  ctx: ParleyContext,
  reviewer: AuditActor,
  input: { holdId: string; resolution: 'opted_out' | 'not_an_opt_out' },
): Promise<ConsentHold> {
  const hold = await findConsentHold(tx, input.holdId);
  if (!hold) throw new DomainError('not_found', 'Consent hold not found');
  const resolved = await resolveConsentHold(tx, ctx, reviewer, input);
  if (!resolved) throw new DomainError('conflict', 'This hold has already been resolved.');
  if (input.resolution === 'opted_out') {
    const evidence = await inboundMessageEvidence(tx, hold.messageId);
    const now = ctx.clock.now();
    const said = evidence?.at ? new Date(Math.min(new Date(evidence.at).getTime(), now.getTime())) : now;
    await withdrawWhatsapp(tx, ctx, reviewer, {
      hcpId: hold.hcpId,
      capturedAt: said.toISOString(),
      evidence: evidence?.wamid ?? hold.messageId,
      messageId: hold.messageId,
    });
  }
  return resolved;
}
