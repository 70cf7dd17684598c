import { listAuditEvents, personalAuditValuesOf, type AuditEvent } from '../audit/index.js';
import { currentConsent, listConsentEntries, readPreferences } from '../consent/index.js';
import type { ParleyContext } from '../context.js';
import { listedTimelineChunks, onHcpTimeline, toInteraction } from '../engagement/index.js';
import { canReadMessageBodies, findVisibleHcp } from '../hcps/index.js';
import type { Principal } from '../identity/index.js';
import { messageView } from '../messaging/index.js';
import { readAsOfOneMoment, type DbOrTx } from '../platform/database/index.js';
import { checksumOf } from './canonical-json.js';

/** Where a request came from, for the security log of an out-of-scope attempt. */
export interface RequestOrigin {
  ip?: string;
  method?: string;
  route?: string;
}

/** An access-request export: the content, and the checksum of its canonical JSON. */
export interface AccessExport {
  format: 'parley.access-export.v1';
  hcpId: string;
  generatedAt: string;
  generatedBy: string;
  /** Hex SHA-256 of `canonicalJson(content)`: the content can be checked unchanged later. */
  checksum: string;
  content: Record<string, unknown>;
}

type Deps = Pick<ParleyContext, 'cipher' | 'clock' | 'audit' | 'db'>;

/** Every audit event about a subject (`subject_id`), oldest first, paging through the whole trail. */
export async function auditEventsAbout(db: DbOrTx, subjectId: string): Promise<AuditEvent[]> {
  const all: AuditEvent[] = [];
  let afterSeq: number | undefined;
  for (;;) {
    const page = await listAuditEvents(db, { subjectId, order: 'asc', limit: 500, afterSeq });
    all.push(...page.items);
    const last = page.items[page.items.length - 1];
    if (!page.nextCursor || !last) return all;
    afterSeq = last.seq;
  }
}

/**
 * Everything Parley holds about one HCP (GDPR art. 15 access request), built only from rows keyed to
 * that HCP's id — or, for inbound messages from the number before it was known, keyed to its number's
 * blind index — so nothing about another HCP can enter it. Scoped through `findVisibleHcp`; the export
 * itself is audited (`hcp.exported`, with its checksum and counts, never its content).
 */
export async function exportHcpData(
  deps: Deps,
  principal: Principal,
  hcpId: string,
  origin: RequestOrigin,
): Promise<AccessExport> {
  const { db, cipher } = deps;
  const hcp = await findVisibleHcp(db, deps, principal, hcpId, origin);
  // CONTRACT.md "Who sees what": an admin fulfils the request but reads no message bodies or case
  // contents; a compliance officer's export holds them.
  const withContents = canReadMessageBodies(principal);
  const now = deps.clock.now();
  const row = await db.selectFrom('hcps').selectAll().where('id', '=', hcpId).executeTakeFirstOrThrow();

  const territories = await db
    .selectFrom('hcp_territories as ht')
    .innerJoin('territories as t', 't.id', 'ht.territory_id')
    .select(['t.id', 't.name', 't.market_code as market'])
    .where('ht.hcp_id', '=', hcpId)
    .orderBy('t.id')
    .execute();
  const ledger = await listConsentEntries(db, hcpId);
  const preferences = (await readPreferences(db, hcpId)) ?? null;
  // The chunks and the rows under them as of one moment, as the timeline reads them.
  const interactionRows = await readAsOfOneMoment(db, async (snapshot) =>
    snapshot
      .selectFrom('interactions')
      .selectAll()
      // Through the timeline index, by the HCP's seq in each of its chunks (no index on hcp_id alone).
      .where(onHcpTimeline('interactions', hcpId, await listedTimelineChunks(snapshot)))
      .orderBy('occurred_at')
      .orderBy('id')
      .execute(),
  );
  const interactions = interactionRows.map(toInteraction);

  const messageRows = await db
    .selectFrom('messages')
    .selectAll()
    .where('hcp_id', '=', hcpId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  const messages = [];
  for (const m of messageRows) messages.push(await messageView(db, deps, m, withContents));

  // Messages from the HCP's number that arrived while it matched no HCP (held as unknown contacts).
  const waIndexes = [
    row.wa_id_bidx,
    ...(hcp.whatsappNumber ? [cipher.blindIndex(`wa:${hcp.whatsappNumber.slice(1)}`)] : []),
  ].filter((x): x is string => x !== null);
  const unknownRows =
    waIndexes.length === 0
      ? []
      : await db
          .selectFrom('unknown_contacts')
          .selectAll()
          .where('wa_id_bidx', 'in', [...new Set(waIndexes)])
          .orderBy('received_at')
          .orderBy('id')
          .execute();
  const fromUnknownNumber = [];
  for (const u of unknownRows) {
    const m = await db.selectFrom('messages').selectAll().where('id', '=', u.message_id).executeTakeFirst();
    fromUnknownNumber.push({
      id: u.id,
      receivedAt: u.received_at,
      number: cipher.open(u.wa_id_enc),
      profileName: u.profile_name_enc ? cipher.open(u.profile_name_enc) : null,
      message: m ? await messageView(db, deps, m, withContents) : null,
    });
  }

  const decisions = (
    await db
      .selectFrom('policy_decisions')
      .selectAll()
      .where('hcp_id', '=', hcpId)
      .orderBy('decided_at')
      .orderBy('id')
      .execute()
  ).map((d) => ({
    id: d.id,
    requestedBy: d.requested_by,
    kind: d.kind,
    outcome: d.outcome,
    purpose: d.purpose,
    reasons: JSON.parse(d.reasons_json) as unknown,
    request: JSON.parse(d.request_json) as unknown,
    rulebookVersion: d.rulebook_version,
    messageId: d.message_id,
    decidedAt: d.decided_at,
  }));

  const cases = (
    await db
      .selectFrom('cases')
      .selectAll()
      .where('hcp_id', '=', hcpId)
      .orderBy('aware_at')
      .orderBy('id')
      .execute()
  ).map((c) => ({
    id: c.id,
    kind: c.kind,
    messageId: c.message_id,
    interactionId: c.interaction_id,
    verbatim: withContents ? cipher.open(c.verbatim_enc) : null,
    product: c.product,
    awareAt: c.aware_at,
    dueAt: c.due_at,
    status: c.status,
    ownerTeam: c.owner_team,
  }));

  const trackedLinks = await db
    .selectFrom('tracked_links')
    .select(['code', 'message_id as messageId', 'asset_id as assetId', 'created_at as createdAt'])
    .where('hcp_id', '=', hcpId)
    .orderBy('created_at')
    .orderBy('code')
    .execute();
  const clicks = interactions.filter((i) => i.kind === 'click');
  const consentHolds = await db
    .selectFrom('consent_holds')
    .select(['id', 'message_id as messageId', 'reason', 'status', 'created_at as createdAt', 'resolution'])
    .where('hcp_id', '=', hcpId)
    .orderBy('created_at')
    .execute();
  const serviceWindows = await db
    .selectFrom('service_windows')
    .select(['phone_number_id as phoneNumberId', 'last_inbound_at as lastInboundAt'])
    .where('hcp_id', '=', hcpId)
    .orderBy('phone_number_id')
    .execute();
  const auditEvents = await auditEventsAbout(db, hcpId);
  const auditPersonalValues = await personalAuditValuesOf(db, cipher, hcpId);

  const content = {
    profile: {
      ...hcp,
      legalHold: row.legal_hold === 1,
      erasedAt: row.erased_at,
      bsuid: row.bsuid,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    },
    territories,
    consent: { current: currentConsent(ledger, now), ledger },
    preferences,
    interactions,
    messages,
    messagesFromUnknownNumber: fromUnknownNumber,
    decisions,
    cases,
    trackedLinks,
    clicks,
    consentHolds,
    serviceWindows,
    audit: { events: auditEvents, personalValues: auditPersonalValues },
  };
  const checksum = checksumOf(content);
  const generatedAt = now.toISOString();
  await deps.audit.record(db, {
    actor: principal,
    action: 'hcp.exported',
    target: { type: 'hcp', id: hcpId },
    subjectId: hcpId,
    after: {
      checksum,
      counts: {
        interactions: interactions.length,
        messages: messages.length,
        messagesFromUnknownNumber: fromUnknownNumber.length,
        decisions: decisions.length,
        cases: cases.length,
        auditEvents: auditEvents.length,
      },
    },
  });
  return {
    format: 'parley.access-export.v1',
    hcpId,
    generatedAt,
    generatedBy: principal.id,
    checksum,
    content,
  };
}
