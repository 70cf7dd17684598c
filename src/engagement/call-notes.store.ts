import {
  openCases,
  triageText,
  type KnownProduct,
  type NewCase,
  type TriageResult,
} from '../assistant/index.js';
import type { ParleyContext } from '../context.js';
import type { Tx } from '../platform/database/index.js';

/**
 * A rep's call note passes the same safety triage as an inbound WhatsApp message: an adverse event, a
 * medical question or a complaint mentioned in a note opens a case. The company knew when the rep heard
 * it, so the clock starts at the interaction's time (never later than now). Returns the cases opened.
 */
export async function triageCallNote(
  tx: Tx,
  ctx: Pick<ParleyContext, 'cipher' | 'clock' | 'audit'>,
  input: { hcpId: string; interactionId: string; note: string | null; occurredAt: string },
): Promise<number> {
  if (!input.note?.trim()) return 0;
  const hcp = await tx
    .selectFrom('hcps')
    .select('market_code')
    .where('id', '=', input.hcpId)
    .executeTakeFirst();
  const market = hcp?.market_code ?? null;
  let q = tx.selectFrom('products').select(['name', 'generic_name']);
  if (market) q = q.where('market_code', '=', market);
  const products: KnownProduct[] = (await q.orderBy('name').execute()).map((p) => ({
    name: p.name,
    genericName: p.generic_name,
  }));
  const result = triageText(input.note, products);
  return openCallNoteCases(tx, ctx, [{ ...input, note: input.note, triage: result, market }]);
}

/** A call note's triage (done already: in `triageCallNote`, or while an import staged the note). */
export interface TriagedCallNote {
  hcpId: string;
  interactionId: string;
  note: string;
  occurredAt: string;
  triage: TriageResult;
  market: string | null;
}

/** Opens a case for each finding of each note's triage, in the notes' order. Returns the cases opened. */
export async function openCallNoteCases(
  tx: Tx,
  ctx: Pick<ParleyContext, 'cipher' | 'clock' | 'audit'>,
  notes: readonly TriagedCallNote[],
): Promise<number> {
  const now = ctx.clock.now().toISOString();
  const cases: NewCase[] = notes.flatMap((n) =>
    n.triage.findings.map((finding) => ({
      finding,
      hcpId: n.hcpId,
      messageId: null,
      interactionId: n.interactionId,
      verbatim: n.note,
      product: n.triage.product,
      marketCode: n.market,
      // The company knew when the rep heard it: the clock starts at the call (never later than now).
      awareAt: n.occurredAt < now ? n.occurredAt : now,
    })),
  );
  await openCases(tx, ctx, cases);
  return cases.length;
}
