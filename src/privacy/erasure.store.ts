import { erasePersonalAuditValues } from '../audit/index.js';
import type { ParleyContext } from '../context.js';
import { listedTimelineChunks, onHcpTimeline } from '../engagement/index.js';
import { findVisibleHcp } from '../hcps/index.js';
import type { Principal } from '../identity/index.js';
import { forUpdate, type Tx } from '../platform/database/index.js';
import { DomainError } from '../platform/errors/index.js';
import type { RequestOrigin } from './access-export.store.js';
import { ERASED, provenanceWithoutValues, scrubText } from './personal-scrub.js';

type Deps = Pick<ParleyContext, 'cipher' | 'clock' | 'audit' | 'db' | 'dialect'>;

/** What an erasure removed, by place: counts only (the audit event carries the same). */
export interface ErasureReport {
  hcpId: string;
  erasedAt: string;
  removed: Record<string, number>;
}

/** The pseudonymous name an erased HCP keeps, so lists and aggregates still have something to show. */
export function erasedName(hcpId: string): string {
  return `Erased HCP ${hcpId.slice(-8)}`;
}

/**
 * GDPR erasure of one HCP (art. 17). In one transaction: the number, email, name and professional
 * details of the HCP row go (it stays as a pseudonymous shell, `erased_at` set, so aggregates and audit
 * events keep their pointers); message bodies and parameters are nulled and provenance parameter values
 * erased; case verbatims become a sealed tombstone; interaction summaries, decision requests and
 * snapshots, security-log details and raw webhook deliveries lose every string that names the HCP;
 * messages from the number while it matched no HCP lose their bodies and their unknown-contact rows go;
 * preferences go; the trail's personal values about the HCP are deleted from the per-subject store (the
 * chain rows only point at them, so it still verifies). Under a legal hold nothing changes: the refusal
 * is audited with the reason and the call fails with `legal_hold`. Erasing an erased HCP again is allowed
 * and sweeps anything that landed since (audited with `repeated: true`).
 */
export async function eraseHcp(
  deps: Deps,
  principal: Principal,
  hcpId: string,
  reason: string,
  origin: RequestOrigin,
): Promise<ErasureReport> {
  const { db } = deps;
  const hcp = await findVisibleHcp(db, deps, principal, hcpId, origin);
  const deliveryIds = hcp.whatsappNumber
    ? await deliveriesNaming(deps, hcp.whatsappNumber.replace(/\D/g, ''))
    : [];
  const outcome = await db.transaction().execute(async (tx) => {
    const row = await forUpdate(
      deps.dialect,
      tx.selectFrom('hcps').selectAll().where('id', '=', hcpId),
    ).executeTakeFirstOrThrow();
    if (row.legal_hold === 1) {
      await deps.audit.record(tx, {
        actor: principal,
        action: 'hcp.erasure_refused',
        target: { type: 'hcp', id: hcpId },
        subjectId: hcpId,
        reason,
        after: { refusedBecause: 'legal_hold' },
      });
      return { refused: true as const };
    }
    return { refused: false as const, report: await erase(tx, deps, principal, row.id, reason, deliveryIds) };
  });
  if (outcome.refused)
    throw new DomainError(
      'legal_hold',
      'This HCP is under a legal hold: erasure is refused until compliance clears the hold',
      { hcpId },
    );
  return outcome.report;
}

async function erase(
  tx: Tx,
  deps: Deps,
  principal: Principal,
  hcpId: string,
  reason: string,
  deliveryIds: readonly string[],
): Promise<ErasureReport> {
  const { cipher } = deps;
  const now = deps.clock.now().toISOString();
  const row = await tx.selectFrom('hcps').selectAll().where('id', '=', hcpId).executeTakeFirstOrThrow();
  // A repeated erasure keeps the first time and sweeps again: a message that was being processed while
  // the first ran (its look-up saw the HCP before the erasure committed) is erased by the second.
  const erasedAt = row.erased_at ?? now;
  const number = row.whatsapp_number_enc ? cipher.open(row.whatsapp_number_enc) : null;
  const email = row.email_enc ? cipher.open(row.email_enc) : null;
  const digits = number ? number.replace(/\D/g, '') : null;
  const removed: Record<string, number> = {};
  const count = (place: string, n: number | bigint | undefined) => {
    removed[place] = (removed[place] ?? 0) + Number(n ?? 0);
  };

  // The strings that name the HCP, gathered before anything is removed: every free text below is
  // scrubbed of them.
  const needles = new Set<string>([row.name, row.crm_id]);
  if (number) needles.add(number);
  if (digits) needles.add(digits);
  if (email) needles.add(email);

  const waIndexes = [row.wa_id_bidx, digits ? cipher.blindIndex(`wa:${digits}`) : null].filter(
    (x): x is string => x !== null,
  );
  const unknown =
    waIndexes.length === 0
      ? []
      : await tx
          .selectFrom('unknown_contacts')
          .selectAll()
          .where('wa_id_bidx', 'in', [...new Set(waIndexes)])
          .execute();
  for (const u of unknown) if (u.profile_name_enc) needles.add(cipher.open(u.profile_name_enc));

  const messages = await tx
    .selectFrom('messages')
    .select(['id', 'body_enc', 'parameters_enc', 'provenance_json'])
    .where((eb) =>
      eb.or([
        eb('hcp_id', '=', hcpId),
        ...(unknown.length > 0
          ? [
              eb(
                'id',
                'in',
                unknown.map((u) => u.message_id),
              ),
            ]
          : []),
      ]),
    )
    .execute();
  for (const m of messages) {
    if (m.body_enc) needles.add(cipher.open(m.body_enc));
    if (m.parameters_enc) {
      const values = JSON.parse(cipher.open(m.parameters_enc)) as Record<string, unknown>;
      for (const v of Object.values(values)) if (typeof v === 'string') needles.add(v);
    }
  }
  const cases = await tx
    .selectFrom('cases')
    .select(['id', 'verbatim_enc', 'triage_json'])
    .where('hcp_id', '=', hcpId)
    .execute();
  for (const c of cases) needles.add(cipher.open(c.verbatim_enc));
  const chunks = await listedTimelineChunks(tx);
  const interactions = await tx
    .selectFrom('interactions')
    .select(['id', 'summary'])
    // Through the timeline index, by the HCP's seq in each of its chunks (there is no index on hcp_id alone).
    .where(onHcpTimeline('interactions', hcpId, chunks))
    .where('summary', 'is not', null)
    .execute();
  for (const i of interactions) if (i.summary) needles.add(i.summary);
  const list = [...needles];

  for (const m of messages) {
    await tx
      .updateTable('messages')
      .set({
        body_enc: null,
        parameters_enc: null,
        provenance_json: provenanceWithoutValues(m.provenance_json),
        error_detail: null,
      })
      .where('id', '=', m.id)
      .execute();
  }
  count('messages', messages.length);
  if (unknown.length > 0) {
    const r = await tx
      .deleteFrom('unknown_contacts')
      .where(
        'id',
        'in',
        unknown.map((u) => u.id),
      )
      .executeTakeFirst();
    count('unknownContacts', r.numDeletedRows);
  }
  for (const c of cases) {
    await tx
      .updateTable('cases')
      .set({
        verbatim_enc: cipher.seal(ERASED),
        triage_json: scrubText(c.triage_json, list),
        updated_at: now,
      })
      .where('id', '=', c.id)
      .execute();
  }
  count('cases', cases.length);
  if (interactions.length > 0) {
    await tx
      .updateTable('interactions')
      .set({ summary: null })
      .where(onHcpTimeline('interactions', hcpId, chunks))
      .where('summary', 'is not', null)
      .execute();
  }
  count('interactionSummaries', interactions.length);

  const decisions = await tx
    .selectFrom('policy_decisions')
    .select(['id', 'request_json', 'snapshot_json'])
    .where('hcp_id', '=', hcpId)
    .execute();
  for (const d of decisions) {
    await tx
      .updateTable('policy_decisions')
      .set({ request_json: scrubText(d.request_json, list), snapshot_json: scrubText(d.snapshot_json, list) })
      .where('id', '=', d.id)
      .execute();
  }
  count('decisions', decisions.length);
  await tx.updateTable('consent_holds').set({ matched: null }).where('hcp_id', '=', hcpId).execute();
  count(
    'preferences',
    (await tx.deleteFrom('preferences').where('hcp_id', '=', hcpId).executeTakeFirst()).numDeletedRows,
  );

  // Stored answers to idempotent sends carry the message as the rep saw it, text included.
  const messageIds = messages.map((m) => m.id);
  const keys = await tx
    .selectFrom('idempotency_keys')
    .select(['user_id', 'key'])
    .where('response_json', 'like', `%${hcpId}%`)
    .execute();
  for (const k of keys)
    await tx
      .deleteFrom('idempotency_keys')
      .where('user_id', '=', k.user_id)
      .where('key', '=', k.key)
      .execute();
  count('idempotencyKeys', keys.length);

  // Raw deliveries name the sender by number (`wa_id`, `from`, `recipient_id`) beside the text. The
  // candidates were found before the transaction (see deliveriesNaming); each is re-read here, since it
  // may have changed meanwhile, and re-sealed scrubbed.
  if (digits && deliveryIds.length > 0) {
    const rows = await tx
      .selectFrom('webhook_inbox')
      .select(['id', 'body'])
      .where('id', 'in', deliveryIds)
      .execute();
    for (const w of rows) {
      const raw = openOrNull(cipher, w.body);
      if (raw === null || !raw.includes(digits)) continue;
      await tx
        .updateTable('webhook_inbox')
        .set({ body: cipher.seal(scrubText(raw, list)) })
        .where('id', '=', w.id)
        .execute();
      count('webhookDeliveries', 1);
    }
  }
  const security = await tx
    .selectFrom('security_log')
    .select(['id', 'detail_json', 'target'])
    .where((eb) =>
      eb.or([eb('target', '=', hcpId), ...(digits ? [eb('detail_json', 'like', `%${digits}%`)] : [])]),
    )
    .execute();
  for (const s of security) {
    await tx
      .updateTable('security_log')
      .set({ detail_json: scrubText(s.detail_json, list) })
      .where('id', '=', s.id)
      .execute();
  }

  let auditValues = await erasePersonalAuditValues(tx, hcpId);
  for (const id of [...messageIds, ...unknown.map((u) => u.id)])
    auditValues += await erasePersonalAuditValues(tx, id);
  count('auditPersonalValues', auditValues);

  await tx
    .updateTable('hcps')
    .set({
      name: erasedName(hcpId),
      crm_id: `ERASED-${hcpId}`,
      specialty: null,
      institution: null,
      whatsapp_number_enc: null,
      whatsapp_number_bidx: null,
      wa_id_bidx: null,
      bsuid: null,
      email_enc: null,
      email_bidx: null,
      segment: null,
      erased_at: erasedAt,
      updated_at: now,
    })
    .where('id', '=', hcpId)
    .execute();
  await deps.audit.record(tx, {
    actor: principal,
    action: 'hcp.erased',
    target: { type: 'hcp', id: hcpId },
    subjectId: hcpId,
    reason,
    after: { erasedAt, removed, repeated: row.erased_at !== null },
  });
  return { hcpId, erasedAt, removed };
}

/**
 * Raw webhook deliveries that carry a number (digits, as Meta writes `wa_id`). They are sealed, so no
 * index can find them: each is opened, a page at a time, before the erasure's transaction, so the
 * decryption of a large inbox never holds the store's write lock (webhooks keep being acknowledged).
 */
async function deliveriesNaming(deps: Deps, digits: string): Promise<string[]> {
  const ids: string[] = [];
  let after = '';
  for (;;) {
    const page = await deps.db
      .selectFrom('webhook_inbox')
      .select(['id', 'body'])
      .where('id', '>', after)
      .orderBy('id')
      .limit(500)
      .execute();
    for (const w of page) if (openOrNull(deps.cipher, w.body)?.includes(digits)) ids.push(w.id);
    const last = page[page.length - 1];
    if (!last || page.length < 500) return ids;
    after = last.id;
  }
}

/** Sets or clears an HCP's legal hold (compliance), audited with its reason. */
export async function setLegalHold(
  deps: Deps,
  principal: Principal,
  hcpId: string,
  input: { hold: boolean; reason: string },
  origin: RequestOrigin,
): Promise<{ hcpId: string; legalHold: boolean }> {
  await findVisibleHcp(deps.db, deps, principal, hcpId, origin);
  await deps.db.transaction().execute(async (tx) => {
    const row = await forUpdate(
      deps.dialect,
      tx.selectFrom('hcps').select(['legal_hold']).where('id', '=', hcpId),
    ).executeTakeFirstOrThrow();
    const before = row.legal_hold === 1;
    await tx
      .updateTable('hcps')
      .set({ legal_hold: input.hold ? 1 : 0, updated_at: deps.clock.now().toISOString() })
      .where('id', '=', hcpId)
      .execute();
    await deps.audit.record(tx, {
      actor: principal,
      action: input.hold ? 'hcp.legal_hold_set' : 'hcp.legal_hold_cleared',
      target: { type: 'hcp', id: hcpId },
      subjectId: hcpId,
      reason: input.reason,
      before: { legalHold: before },
      after: { legalHold: input.hold },
    });
  });
  return { hcpId, legalHold: input.hold };
}

/** A sealed value opened, or null for one that is not sealed (older rows, a tombstone). */
function openOrNull(cipher: Pick<ParleyContext['cipher'], 'open'>, value: string): string | null {
  try {
    return cipher.open(value);
  } catch {
    return null;
  }
}
