import { sql } from 'kysely';
import type { ParleyContext } from '../context.js';
import { contentForMessage, type Asset, type Template } from '../content/index.js';
import {
  currentConsent,
  listConsentEntries,
  openConsentHoldsOf,
  optInRequestTimes,
  readPreferences,
  type ContactPreferences,
} from '../consent/index.js';
import { findHcpById, type Hcp } from '../hcps/index.js';
import { preparedQuery, type DbOrTx } from '../platform/database/index.js';
import {
  latestRulebook,
  lookbackHours,
  rulesForMarket,
  type ConsentMatrix,
  type DecisionAsset,
  type DecisionContext,
  type DecisionPreferences,
  type DecisionRequest,
  type DecisionTemplate,
  type RecentMessage,
} from '../policy/index.js';

/**
 * Builds the inputs of `decide()` from the store for one proposed message (a check, a send, or a queued
 * message the worker claims). Every read is an indexed range or a key look-up — the counters read the
 * HCP's and the rep's recent outbound messages (the covering indexes messages_hcp_counter and
 * messages_rep_counter) within the rulebook's look-back, never the history.
 */
export async function loadDecisionContext(
  db: DbOrTx,
  ctx: Pick<ParleyContext, 'cipher'>,
  input: {
    request: DecisionRequest;
    now: Date;
    phoneNumberId: string;
    /** A queued message being decided again must not count against itself. */
    excludeMessageId?: string;
    /** Content already loaded by the caller (a send renders it too). */
    content?: { template: Template | undefined; assets: Asset[] };
    /**
     * The HCP as the caller has just read it (a check, outside any transaction), with the territories the
     * rep works as their principal holds them: saves reading both again. A send reads both afresh inside
     * its transaction, after locking the HCP.
     */
    known?: { hcp: Hcp; repTerritoryIds: readonly string[] };
  },
): Promise<DecisionContext> {
  const { request, now } = input;
  const { known } = input;
  const hcp = known?.hcp ?? (await findHcpById(db, ctx, request.hcpId));
  if (!hcp) throw new Error(`no HCP ${request.hcpId} to decide for`);
  const [rulebook, market, assigned, entries, holds, preferences, optIns, windowRow] = await Promise.all([
    latestRulebook(db),
    marketByCode.first(db, { code: hcp.market }),
    known
      ? known.hcp.territoryIds.some((t) => known.repTerritoryIds.includes(t))
      : isAssigned(db, hcp.id, request.repId),
    listConsentEntries(db, hcp.id),
    openConsentHoldsOf(db, hcp.id),
    readPreferences(db, hcp.id),
    optInRequestTimes(db, hcp.id),
    serviceWindowOf.first(db, { hcpId: hcp.id, phoneNumberId: input.phoneNumberId }),
  ]);
  if (!market) throw new Error(`no market ${hcp.market} for HCP ${hcp.id}`);

  const rules = rulesForMarket(rulebook, hcp.market);
  const since = new Date(now.getTime() - lookbackHours(rules) * 3600_000).toISOString();
  const repSince = new Date(
    now.getTime() - Math.max(rules.frequency.per_rep.rolling_hours, 48) * 3600_000,
  ).toISOString();
  const [hcpRows, repRows] = await Promise.all([
    recentOutboundToHcp(db, hcp.id, input.excludeMessageId, since),
    recentOutboundOfRep(db, request.repId, input.excludeMessageId, {
      since: repSince,
      capFrom: new Date(now.getTime() - rules.frequency.per_rep.rolling_hours * 3600_000).toISOString(),
      counted: rules.frequency.counted_statuses,
    }),
  ]);

  const content =
    input.content ??
    (await contentForMessage(
      db,
      { templateId: request.templateId ?? null, assetIds: request.assetIds ?? [] },
      now,
    ));
  const template = content.template ? toDecisionTemplate(content.template) : undefined;
  const assets = content.assets.map(toDecisionAsset);
  const productIds = template?.products ?? [];
  const products = productIds.length
    ? await db
        .selectFrom('products')
        .select(['id', 'name', 'pi_asset_key'])
        .where((eb) => eb.or([eb('id', 'in', [...productIds]), eb('name', 'in', [...productIds])]))
        .execute()
    : [];

  const number = hcp.whatsappNumber;
  const consent: ConsentMatrix = {};
  for (const c of currentConsent(entries, now)) {
    (consent[c.channel] ??= {})[c.purpose] = {
      status: c.status,
      ...(c.since ? { since: c.since } : {}),
      expiresAt: expiryOf(entries, c.entryId),
    };
  }
  // A queued opt-in request decided again must not count against the opt-in limits either.
  let optInRequests = optIns;
  if (input.excludeMessageId && template?.type === 'opt_in_request') {
    const self = await db
      .selectFrom('messages')
      .select('created_at')
      .where('id', '=', input.excludeMessageId)
      .executeTakeFirst();
    const i = self ? optIns.indexOf(self.created_at) : -1;
    if (i >= 0) optInRequests = [...optIns.slice(0, i), ...optIns.slice(i + 1)];
  }

  return {
    now: now.toISOString(),
    rulebook,
    hcp: {
      id: hcp.id,
      name: hcp.name,
      market: hcp.market,
      language: hcp.language,
      timeZone: hcp.timeZone,
      hasWhatsappNumber: number !== null,
      callingCode: number ? callingCodeOf(number) : null,
      whatsappStatus: hcp.whatsappStatus,
      marketingStopped: hcp.marketingStopped,
      assignedToRep: assigned,
    },
    market: {
      code: market.code,
      timeZone: market.time_zone,
      weekendDays: JSON.parse(market.weekend_days_json) as number[],
      holidays: JSON.parse(market.holidays_json) as string[],
    },
    consent,
    preferences: preferences ? toDecisionPreferences(preferences) : null,
    hcpMessages: hcpRows,
    repMessages: repRows,
    lastInboundAt: windowRow?.last_inbound_at ?? null,
    template: template ?? null,
    assets,
    products: products.map((p) => ({ id: p.id, name: p.name, piAssetKey: p.pi_asset_key })),
    optInRequests,
    consentHold: holds[0] ? { since: holds[0].createdAt, reason: holds[0].reason } : null,
  };
}

// The reads every check makes, built and compiled once (preparedQuery).
const marketByCode = preparedQuery((db, $: { code: string }) =>
  db.selectFrom('markets').selectAll().where('code', '=', $.code),
);
const serviceWindowOf = preparedQuery((db, $: { hcpId: string; phoneNumberId: string }) =>
  db
    .selectFrom('service_windows')
    .select('last_inbound_at')
    .where('hcp_id', '=', $.hcpId)
    .where('phone_number_id', '=', $.phoneNumberId),
);

/** Whether the rep works one of the HCP's territories. */
async function isAssigned(db: DbOrTx, hcpId: string, repId: string): Promise<boolean> {
  const row = await db
    .selectFrom('hcp_territories')
    .innerJoin('user_territories', 'user_territories.territory_id', 'hcp_territories.territory_id')
    .select('hcp_territories.hcp_id')
    .where('hcp_territories.hcp_id', '=', hcpId)
    .where('user_territories.user_id', '=', repId)
    .executeTakeFirst();
  return row !== undefined;
}

function expiryOf(
  entries: Awaited<ReturnType<typeof listConsentEntries>>,
  entryId: string | null | undefined,
): string | null {
  if (!entryId) return null;
  return entries.find((e) => e.id === entryId)?.expiresAt ?? null;
}

/**
 * The HCP's outbound messages of the look-back (and older ones still scheduled or held: they count at their
 * send time), with their template keys for the duplicate rule. An HCP has a handful.
 */
async function recentOutboundToHcp(
  db: DbOrTx,
  hcpId: string,
  excludeMessageId: string | undefined,
  since: string,
): Promise<RecentMessage[]> {
  const rows = await outboundToHcp.all(db, { hcpId, excludeMessageId, since });
  return rows.map((r) => ({
    id: r.id,
    repId: r.rep_id,
    hcpId,
    at: sendTimeOf(r),
    status: r.status,
    templateKey: r.template_key,
    kind: kindOf(r.send_kind),
  }));
}

const outboundToHcp = preparedQuery(
  (db, $: { hcpId: string; excludeMessageId: string | undefined; since: string }) => {
    // A queued message decided again is left out: it must not count against itself.
    const outbound = () =>
      db
        .selectFrom('messages')
        .leftJoin('templates', 'templates.id', 'messages.template_id')
        .select([
          'messages.id',
          'messages.rep_id',
          'messages.created_at',
          'messages.send_at',
          'messages.status',
          'messages.send_kind',
          'templates.key as template_key',
        ])
        .where('messages.hcp_id', '=', $.hcpId)
        .where('messages.direction', '=', 'outbound')
        .$if($.excludeMessageId !== undefined, (q) => q.where('messages.id', '!=', $.excludeMessageId!));
    // One statement, two index ranges: the look-back, and what is still held from before it.
    return outbound()
      .where('messages.created_at', '>=', $.since)
      .unionAll(
        outbound().where('messages.status', 'in', HELD_STATUSES).where('messages.created_at', '<', $.since),
      );
  },
);

/**
 * The rep's outbound messages that the rep cap can count from now on: created in the look-back (or older
 * and still scheduled or held), of a counted status, going at or after `capFrom` (now − the rep's rolling
 * window). A busy rep has hundreds a day, so the look-back read selects only what the cap reads and is
 * answered from the messages_rep_counter index alone (migration 0015), never the table.
 */
async function recentOutboundOfRep(
  db: DbOrTx,
  repId: string,
  excludeMessageId: string | undefined,
  window: { since: string; capFrom: string; counted: readonly string[] },
): Promise<RecentMessage[]> {
  const rows = await outboundOfRep.all(db, {
    repId,
    excludeMessageId,
    since: window.since,
    capFrom: window.capFrom,
    counted: window.counted,
  });
  return rows.map((r) => ({
    repId,
    at: sendTimeOf(r),
    status: r.status,
    kind: kindOf(r.send_kind),
  }));
}

const outboundOfRep = preparedQuery(
  (
    db,
    $: {
      repId: string;
      excludeMessageId: string | undefined;
      since: string;
      capFrom: string;
      counted: readonly string[];
    },
  ) => {
    // Without their ids (a busy rep has hundreds of rows, and the cap needs only when, what status and what
    // kind); a queued message decided again is left out, as from the HCP's.
    const outbound = () =>
      db
        .selectFrom('messages')
        .select(['created_at', 'send_at', 'status', 'send_kind'])
        .where('rep_id', '=', $.repId)
        .where('direction', '=', 'outbound')
        .$if($.excludeMessageId !== undefined, (q) => q.where('id', '!=', $.excludeMessageId!));
    // One statement, two index ranges (a union, each arm planned on its own).
    return (
      outbound()
        .select(sql<string | null>`null`.as('hcp_id'))
        .where('created_at', '>=', $.since)
        .where('status', 'in', $.counted)
        // Its send time, the later of created_at and send_at, at or after capFrom.
        .where((eb) => eb.or([eb('created_at', '>=', $.capFrom), eb('send_at', '>=', $.capFrom)]))
        .unionAll(
          // Selecting a column the counter index lacks (hcp_id) keeps SQLite, which keeps no statistics,
          // off that covering index for this arm: its (rep, status, …) index is a short range per held
          // status, where the covering one would be the rep's whole history before the look-back.
          outbound().select('hcp_id').where('status', 'in', HELD_STATUSES).where('created_at', '<', $.since),
        )
    );
  },
);

/** Messages waiting to go (a send time ahead, or a compliance review): they count before they are sent. */
const HELD_STATUSES = ['scheduled', 'pending_review'];

function sendTimeOf(r: { created_at: string; send_at: string | null }): string {
  return r.send_at && r.send_at > r.created_at ? r.send_at : r.created_at;
}

/** A message's cap kind. A row without one counts as the rep's own message: the side that counts. */
function kindOf(sendKind: string | null): RecentMessage['kind'] {
  return sendKind === 'opt_out_confirmation' ||
    sendKind === 'reply_in_window' ||
    sendKind === 'medical_information'
    ? sendKind
    : 'rep';
}

/** A template as `decide()` sees it (content gives it with its status as of now). */
export function toDecisionTemplate(t: Template): DecisionTemplate {
  return {
    id: t.id,
    key: t.key,
    version: t.version,
    name: t.whatsappName,
    status: t.status,
    expiresAt: t.expiresAt,
    market: t.market,
    language: t.language,
    type: t.type,
    classification: t.classification,
    whatsappCategory: t.whatsappCategory,
    whatsappStatus: t.whatsappStatus,
    parameters: t.parameters,
    products: t.products,
  };
}

export function toDecisionAsset(a: Asset): DecisionAsset {
  return {
    id: a.id,
    key: a.key,
    title: a.title,
    kind: a.kind,
    status: a.status,
    expiresAt: a.expiresAt,
    url: a.url,
    classification: a.classification,
    products: a.products,
  };
}

function toDecisionPreferences(p: ContactPreferences): DecisionPreferences {
  return {
    preferredChannel: p.preferredChannels as DecisionPreferences['preferredChannel'],
    contactWindows: p.contactWindows.map((w) => ({ days: w.days, start: w.from, end: w.to })),
    frequencyLimit: p.frequencyLimit ? { maxMessages: p.frequencyLimit.perWeek, perDays: 7 } : null,
  };
}

/** The country calling code of an E.164 number, for the "never marketing to +1" rule. */
function callingCodeOf(e164: string): string {
  const digits = e164.replace(/\D/g, '');
  // NANP (+1) and Russia/Kazakhstan (+7) are the single-digit codes; the rule only needs to tell +1 apart.
  if (digits.startsWith('1') || digits.startsWith('7')) return digits.slice(0, 1);
  return digits.slice(0, 2);
}
