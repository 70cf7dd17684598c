import { DateTime } from 'luxon';
import { renderTemplate, venuesOf, type TemplateParameter } from '../content/index.js';
import type { MessageProvenance } from '../messaging/index.js';
import { NEW_MESSAGE_FACTS } from '../platform/database/index.js';
import type {
  AssetsTable,
  ConsentEntriesTable,
  InteractionsTable,
  MessageHistoryTable,
  MessagesTable,
  MessageStatusEventsTable,
  PolicyDecisionsTable,
  TemplatesTable,
  TrackedLinksTable,
} from '../platform/database/index.js';
import { reasonCodesColumn, type Purpose, type Rules } from '../policy/index.js';
import type { DemoMarket } from './demo-catalogue.js';
import type { DemoRandom } from './demo-random.js';

/**
 * The WhatsApp side of a demo HCP's history, as the channel would have left it (pure: bodies and parameter
 * values come out in clear, the store seals them):
 *
 * - a **send** is an approved template version, and for a link or a promotional template its assets, sent
 *   while the template (and assets) were approved and the consent its purpose needs was in force; it comes
 *   with the policy decision that allowed it, its message (rendered text, provenance, final status), one
 *   tracked link per asset, and now and then the HCP's reply or a click on a link;
 * - a **blocked attempt** is a send the policy refused for a reason the history itself shows (at night in
 *   the HCP's time zone, with a template version that had expired, after the HCP withdrew consent): its
 *   decision, and the `blocked_attempt` on the timeline.
 *
 * Sends stop `SENDS_END_DAYS_AGO` days before the seed moment: the frequency caps (7 days) and the
 * duplicate rule (14 days) look back that far, and a demo's first send should be decided on consent,
 * content and hours, not on history it did not write. Seeded decisions were written by the seed, not
 * computed by `decide()`: their snapshot says so.
 */

const MINUTE = 60_000;
const DAY = 86_400_000;
export const SENDS_END_DAYS_AGO = 14;
/** The rulebook version the seed's decisions cite: the shipped default, installed as version 1. */
const RULEBOOK_VERSION = 1;

/** One item of a history: the interaction on the timeline and the WhatsApp records behind it. */
export interface DemoHistoryRow {
  interaction: InteractionsTable;
  message?: DemoMessage;
  decision?: PolicyDecisionsTable;
  trackedLinks?: TrackedLinksTable[];
  /** A send's steps on Parley's side (queued, sent) and Meta's status events (delivered, read, failed). */
  history?: MessageHistoryTable[];
  statusEvents?: MessageStatusEventsTable[];
}

/** A message with its personal parts in clear: the store seals `body` and `parameters`. */
export type DemoMessage = Omit<MessagesTable, 'body_enc' | 'parameters_enc' | 'provenance_json'> & {
  body: string | null;
  /** The parameter values as the rep sent them (sealed as `parameters_enc`). */
  parameters: Record<string, string> | null;
  /** Outbound: the provenance (its values sealed by the store); inbound: the non-personal facts. */
  provenance: MessageProvenance | Record<string, unknown>;
};

export interface DemoTemplate {
  row: TemplatesTable;
  parameters: TemplateParameter[];
  buttons: string[];
  promotional: boolean;
  purpose: Purpose;
  approvedAt: number;
  /** When it stopped being sendable: its expiry, or the approval of the version that superseded it. */
  until: number;
  expiresAt: number | null;
}

/** Content an HCP's WhatsApp history may cite, by market. */
export interface DemoLibrary {
  /**
   * Template versions a rep sends (not the opt-in request or service messages Parley sends itself), while
   * they were in force: the approved ones and those they superseded.
   */
  templates: Map<string, DemoTemplate[]>;
  /** Template versions that have expired, for the attempts the policy refused. */
  expired: Map<string, DemoTemplate[]>;
  /** Approved assets by `<market>/<brand>`, prescribing information first. */
  assets: Map<string, AssetsTable[]>;
  /** The prescribing information asset of each `<market>/<brand>`. */
  prescribing: Map<string, AssetsTable>;
  /** Where a tracked link lives (the configured public URL). */
  publicUrl: string;
}

const REP_TYPES = new Set([
  'reminder',
  'confirmation',
  'follow_up',
  'recap',
  'resource_link',
  'event_invite',
]);

export function libraryOf(
  templates: readonly TemplatesTable[],
  assets: readonly AssetsTable[],
  purposesOf: (market: string) => Rules['purposes'],
  publicUrl: string,
): DemoLibrary {
  const library: DemoLibrary = {
    templates: new Map(),
    expired: new Map(),
    assets: new Map(),
    prescribing: new Map(),
    publicUrl,
  };
  const add = <T>(map: Map<string, T[]>, key: string, item: T) =>
    map.set(key, [...(map.get(key) ?? []), item]);
  for (const t of templates) {
    if (!REP_TYPES.has(t.type) || !t.approved_at) continue;
    const template: DemoTemplate = {
      row: t,
      parameters: JSON.parse(t.parameters_json) as TemplateParameter[],
      buttons: JSON.parse(t.buttons_json) as string[],
      promotional: t.classification === 'promotional',
      purpose: purposesOf(t.market_code)[t.type][t.classification],
      approvedAt: Date.parse(t.approved_at),
      until: Math.min(
        t.expires_at ? Date.parse(t.expires_at) : Infinity,
        t.status === 'superseded' ? Date.parse(t.updated_at) : Infinity,
      ),
      expiresAt: t.expires_at ? Date.parse(t.expires_at) : null,
    };
    // A superseded version was sent until its successor was approved: history cites both.
    if (t.status === 'approved' || t.status === 'superseded') add(library.templates, t.market_code, template);
    else if (t.status === 'expired') add(library.expired, t.market_code, template);
  }
  for (const a of assets) {
    if (a.status !== 'approved' || !a.brand) continue;
    const key = `${a.market_code}/${a.brand}`;
    if (a.kind === 'prescribing_information') library.prescribing.set(key, a);
    else add(library.assets, key, a);
  }
  return library;
}

/** When each WhatsApp purpose's consent was in force in the last year, and the grant that made it so. */
export interface ConsentGrant {
  window: readonly [number, number];
  entryId: string;
}

/**
 * When a WhatsApp consent for `purpose` was in force within the last year: from its grant to its
 * withdrawal, expiry or now (less an hour); null when it never was for a day.
 */
export function consentGrant(
  consent: readonly ConsentEntriesTable[],
  purpose: ConsentEntriesTable['purpose'],
  now: number,
): ConsentGrant | null {
  const mine = consent.filter((e) => e.channel === 'whatsapp' && e.purpose === purpose);
  const grant = mine.find((e) => e.status === 'granted');
  if (!grant) return null;
  const start = Math.max(Date.parse(grant.captured_at), now - 365 * DAY);
  const withdrawal = mine.find((e) => e.status === 'withdrawn' && e.captured_at > grant.captured_at);
  const end = Math.min(
    now - 60 * MINUTE,
    grant.expires_at ? Date.parse(grant.expires_at) : Infinity,
    withdrawal ? Date.parse(withdrawal.captured_at) : Infinity,
  );
  return end - start > DAY ? { window: [start, end], entryId: grant.id } : null;
}

/** The HCP as its WhatsApp history needs it. */
export interface WhatsappHcp {
  id: string;
  name: string;
  repId: string;
  market: DemoMarket;
  timeZone: string;
  marketingStopped: boolean;
  /** The brands the HCP's rep details. */
  brands: readonly string[];
}

/** What one HCP's WhatsApp history is drawn from. */
export interface WhatsappHistory {
  hcp: WhatsappHcp;
  phoneNumberId: string;
  grants: Partial<Record<Purpose, ConsentGrant>>;
  /** When the HCP withdrew its WhatsApp consent, if it did. */
  withdrawnAt: number | null;
  /** The templates the HCP could have been sent, with the assets each carries and when it could have gone. */
  sendable: { template: DemoTemplate; assets: AssetsTable[]; window: readonly [number, number] }[];
  library: DemoLibrary;
  now: number;
  /** The sends made so far (the history is drawn out of time order): the caps and duplicates they hold. */
  sends: { at: number; key: string }[];
}

export function whatsappHistory(
  hcp: WhatsappHcp,
  phoneNumberId: string,
  consent: readonly ConsentEntriesTable[],
  library: DemoLibrary,
  now: number,
): WhatsappHistory {
  const grants: WhatsappHistory['grants'] = {};
  for (const purpose of ['service', 'non_promotional', 'promotional', 'events'] as const) {
    const grant = consentGrant(consent, purpose, now);
    if (grant) grants[purpose] = grant;
  }
  const withdrawal = consent.find((e) => e.channel === 'whatsapp' && e.status === 'withdrawn');
  const sendable: WhatsappHistory['sendable'] = [];
  for (const template of library.templates.get(hcp.market.code) ?? []) {
    const brand = template.row.brand;
    if (brand && !hcp.brands.includes(brand)) continue;
    if (template.promotional && (!hcp.market.promotionalWhatsapp || hcp.marketingStopped)) continue;
    const grant = grants[template.purpose];
    if (!grant) continue;
    const assets = assetsFor(library, hcp.market.code, template, brand);
    if (assets === null) continue;
    const start = Math.max(
      grant.window[0],
      template.approvedAt,
      ...assets.map((a) => Date.parse(a.approved_at!)),
    );
    const end = Math.min(grant.window[1], now - SENDS_END_DAYS_AGO * DAY, template.until);
    if (end - start > DAY) sendable.push({ template, assets, window: [start, end] });
  }
  return {
    hcp,
    phoneNumberId,
    grants,
    withdrawnAt: withdrawal ? Date.parse(withdrawal.captured_at) : null,
    sendable,
    library,
    now,
    sends: [],
  };
}

const WEEK = 7 * DAY;
/** The shipped rulebook's `duplicates.same_template_within_days`. */
const SAME_TEMPLATE_SPAN = 14 * DAY;

/** The local calendar day (a day number) of `at` in the market, by its standard offset. */
const localDay = (market: DemoMarket, at: number) =>
  Math.floor((at + market.utcOffsetMinutes * MINUTE) / DAY);

/**
 * Whether a send at `at` of template `key` keeps the shipped rulebook's per-HCP limits with the sends
 * already made: at most 2 in any 7 × 24 h, 1 a local day, and the same template not within 14 days.
 */
function keepsLimits(history: WhatsappHistory, at: number, key: string): boolean {
  const { market } = history.hcp;
  const near = history.sends.filter((s) => Math.abs(s.at - at) < WEEK);
  if (near.some((s) => localDay(market, s.at) === localDay(market, at))) return false;
  if (history.sends.some((s) => s.key === key && Math.abs(s.at - at) < SAME_TEMPLATE_SPAN)) return false;
  // The fullest 7-day window holding `at` starts at a send (or at `at`) within the week up to `at`.
  const times = [...near.map((s) => s.at), at];
  return times
    .filter((start) => start > at - WEEK && start <= at)
    .every((start) => times.filter((t) => t >= start && t < start + WEEK).length <= 2);
}

/**
 * The assets a send of `template` carries: the linked piece of a link template, and the prescribing
 * information of the brand of a promotional one (the rulebook's `pi_link_missing`). Null when the market
 * lacks one it needs.
 */
function assetsFor(
  library: DemoLibrary,
  market: string,
  template: DemoTemplate,
  brand: string | null,
): AssetsTable[] | null {
  const linksAsset = template.parameters.some((p) => p.type === 'asset_link');
  if (!brand) return linksAsset ? null : [];
  const key = `${market}/${brand}`;
  const pi = template.promotional ? library.prescribing.get(key) : undefined;
  if (template.promotional && !pi) return null;
  const linked = linksAsset
    ? (library.assets.get(key) ?? []).filter((a) => a.classification === template.row.classification)
    : [];
  if (linksAsset && linked.length === 0) return null;
  return [...linked.slice(0, 1), ...(pi ? [pi] : [])];
}

/** Builds a timeline row (the caller's factory: ids, defaults and the interaction count). */
export type RowFactory = (
  at: number,
  fields: Pick<InteractionsTable, 'channel' | 'direction' | 'kind'> & Partial<InteractionsTable>,
) => InteractionsTable;

/** `int_…` → `msg_…`: a record made with an interaction takes its id's unique part. */
const sibling = (interactionId: string, prefix: string) => `${prefix}${interactionId.slice(4)}`;

const REPLIES: Record<DemoMarket['lang'], readonly string[]> = {
  pt: ['Obrigado, recebido.', 'Perfeito, até lá.', 'Combinado!', 'Pode ser na quinta-feira?', 'Ok 👍'],
  es: ['Gracias, recibido.', 'Perfecto, nos vemos.', '¡De acuerdo!', '¿Podría ser el jueves?', 'Ok 👍'],
  en: ['Thanks, got it.', 'Perfect, see you then.', 'Agreed!', 'Could we make it Thursday?', 'Ok 👍'],
};

const TOPICS: Record<DemoMarket['lang'], readonly string[]> = {
  pt: ['a posologia recomendada', 'os dados de segurança do estudo', 'o início de tratamento'],
  es: ['la posología recomendada', 'los datos de seguridad del estudio', 'el inicio del tratamiento'],
  en: ['the recommended dosing', 'the safety data of the study', 'starting treatment'],
};

/**
 * One WhatsApp episode: usually a send (and what followed it), sometimes a blocked attempt; nothing when
 * the HCP had nothing it could have been sent. `room` is how many timeline rows the history may still add.
 */
export function* whatsappEpisode(
  history: WhatsappHistory,
  random: DemoRandom,
  row: RowFactory,
  room: number,
): Generator<DemoHistoryRow> {
  const refusal = random.float();
  if (refusal < 0.05) {
    const attempt = blockedAttempt(
      history,
      random,
      row,
      refusal < 0.035 ? 'quiet_hours' : 'expired_or_withdrawn',
    );
    if (attempt) {
      yield attempt;
      return;
    }
  }
  if (history.sendable.length === 0) return;
  yield* send(history, random, row, room);
}

function* send(
  history: WhatsappHistory,
  random: DemoRandom,
  row: RowFactory,
  room: number,
): Generator<DemoHistoryRow> {
  const { hcp, library } = history;
  let drawn: { template: DemoTemplate; assets: AssetsTable[]; sentAt: number } | null = null;
  for (let draw = 0; draw < 4 && !drawn; draw++) {
    const { template, assets, window } = random.pick(history.sendable);
    const at = officeMomentWithin(random, window, hcp.market);
    if (at === null) continue;
    if (keepsLimits(history, at, template.row.key)) drawn = { template, assets, sentAt: at };
    else {
      // Now and then the rep tried anyway, and the weekly cap refused it: the week's sends say why.
      const lastWeek = history.sends.filter((x) => x.at > at - WEEK && x.at < at);
      if (lastWeek.length >= 2 && random.chance(0.25)) {
        const reasons = [
          {
            code: 'frequency_cap',
            rule: 'frequency.per_hcp.max_in_rolling',
            message: `${hcp.name} has had ${lastWeek.length} WhatsApp messages from reps in the last 7 days (the limit is 2).`,
          },
        ];
        // The other limits the same sends break, as decide() would name them too.
        if (lastWeek.some((x) => localDay(hcp.market, x.at) === localDay(hcp.market, at)))
          reasons.push({
            code: 'frequency_cap',
            rule: 'frequency.per_hcp.max_per_local_day',
            message: `${hcp.name} already has 1 WhatsApp message on that day in ${hcp.name}'s time (${hcp.timeZone}) (the limit is 1 a day).`,
          });
        if (
          history.sends.some((x) => x.key === template.row.key && x.at < at && x.at > at - SAME_TEMPLATE_SPAN)
        )
          reasons.push({
            code: 'duplicate_message',
            rule: 'duplicates.same_template_within_days',
            message: `${hcp.name} got this template within the last 14 days.`,
          });
        yield refusedRow(history, row, { at, template, reasons });
        return;
      }
    }
  }
  if (!drawn) return;
  const { template, assets, sentAt } = drawn;
  history.sends.push({ at: sentAt, key: template.row.key });
  const interaction = row(sentAt, {
    channel: 'whatsapp',
    direction: 'outbound',
    kind: 'message',
    source: 'parley',
    summary: `WhatsApp template ${template.row.key} v${template.row.version} sent`,
    template_id: template.row.id,
    asset_ids_json: JSON.stringify(assets.map((a) => a.id)),
    topics_json: assets[0]?.topics_json ?? '[]',
    products_json: template.row.products_json,
  });
  const messageId = sibling(interaction.id, 'msg_');
  const links = assets.map((a) => ({
    code: random.hex(24),
    message_id: messageId,
    asset_id: a.id,
    hcp_id: hcp.id,
    created_at: new Date(sentAt - 2_000).toISOString(),
  }));
  const urls = Object.fromEntries(links.map((l) => [l.asset_id, `${library.publicUrl}/l/${l.code}`]));
  const parameters = parameterValues(template, assets[0], random, sentAt, hcp);
  const rendered = renderTemplate(
    {
      body: template.row.body,
      parameters: template.parameters,
      market: template.row.market_code,
      language: template.row.language,
      type: template.row.type,
    },
    parameters,
    { name: hcp.name, timeZone: hcp.timeZone },
    Object.fromEntries(
      assets.map((a) => [
        a.id,
        {
          url: urls[a.id]!,
          asset: { id: a.id, kind: a.kind, status: a.status, expiresAt: a.expires_at, market: a.market_code },
        },
      ]),
    ),
    new Date(sentAt),
  );
  if (!rendered.ok)
    throw new Error(`demo template ${template.row.key} did not render: ${rendered.problems[0]?.message}`);

  const failed = random.chance(0.02);
  const read = !failed && random.chance(0.75);
  const deliveredAt = sentAt + random.int(2, 90) * 1_000;
  const readAt = deliveredAt + random.int(1, 600) * MINUTE;
  const status = failed ? 'failed' : read ? 'read' : 'delivered';
  interaction.external_id = messageId;
  interaction.message_id = messageId;
  interaction.status = status;
  const wamid = `wamid.demo_${messageId.slice(4)}`;
  const decisionId = sibling(interaction.id, 'dec_');
  const decidedAt = new Date(sentAt - 3_000).toISOString();
  const grant = history.grants[template.purpose];
  const request = {
    hcpId: hcp.id,
    templateId: template.row.id,
    assetIds: assets.map((a) => a.id),
    parameters,
    hasText: false,
  };
  const iso = (t: number) => new Date(t).toISOString();
  const event = (status: string, at: number, n: number): MessageStatusEventsTable => ({
    id: `mse_${messageId.slice(4)}_${n}`,
    message_id: messageId,
    wamid,
    status,
    occurred_at: iso(at),
    error_code: status === 'failed' ? 131026 : null,
    error_title: status === 'failed' ? 'Message undeliverable' : null,
    recorded_at: iso(at + 1_000),
  });
  yield {
    interaction,
    trackedLinks: links,
    history: [
      {
        id: `mhs_${messageId.slice(4)}_1`,
        message_id: messageId,
        status: 'queued',
        at: decidedAt,
        detail: null,
      },
      {
        id: `mhs_${messageId.slice(4)}_2`,
        message_id: messageId,
        status: 'sent',
        at: iso(sentAt),
        detail: 'accepted by the Cloud API',
      },
    ],
    statusEvents: failed
      ? [event('failed', sentAt + 1_000, 1)]
      : [
          event('sent', sentAt + 500, 1),
          event('delivered', deliveredAt, 2),
          ...(read ? [event('read', readAt, 3)] : []),
        ],
    decision: {
      id: decisionId,
      requested_by: hcp.repId,
      hcp_id: hcp.id,
      kind: 'send',
      request_json: JSON.stringify(request),
      outcome: 'allow',
      purpose: template.purpose,
      reasons_json: '[]',
      rulebook_version: RULEBOOK_VERSION,
      snapshot_json: seededSnapshot(history, template, assets, sentAt - 3_000),
      message_id: messageId,
      decided_at: decidedAt,
      template_id: template.row.id,
      reason_codes: '',
      market_code: hcp.market.code,
    },
    message: {
      id: messageId,
      hcp_id: hcp.id,
      rep_id: hcp.repId,
      direction: 'outbound',
      wamid,
      phone_number_id: history.phoneNumberId,
      type: 'template',
      template_id: template.row.id,
      parameters: Object.keys(parameters).length > 0 ? parameters : null,
      body: rendered.text,
      asset_ids_json: JSON.stringify(assets.map((a) => a.id)),
      provenance: {
        template: {
          id: template.row.id,
          key: template.row.key,
          version: template.row.version,
          approvalCode: template.row.approval_code,
          whatsappName: template.row.whatsapp_name ?? template.row.key,
          whatsappLanguage: template.row.whatsapp_language,
          whatsappCategory: template.row.whatsapp_category,
          classification: template.row.classification,
          type: template.row.type,
          buttons: template.buttons,
        },
        bodyParameters: rendered.values,
        assets: assets.map((a) => ({
          id: a.id,
          key: a.key,
          version: a.version,
          approvalCode: a.approval_code,
          url: a.url,
          trackedUrl: urls[a.id]!,
        })),
        purpose: template.purpose,
        consentEntryId: grant?.entryId ?? null,
        reviewedBy: null,
        kind: 'rep',
      },
      send_kind: 'rep',
      status,
      status_at: new Date(failed ? sentAt + 1_000 : read ? readAt : deliveredAt).toISOString(),
      error_code: failed ? 131026 : null,
      error_title: failed ? 'Message undeliverable' : null,
      error_detail: failed ? 'Unable to deliver message.' : null,
      decision_id: decisionId,
      idempotency_key: null,
      context_wamid: null,
      send_at: null,
      meta_timestamp: null,
      created_at: decidedAt,
      // Worked out by the conversation-facts refresher once the seed is written.
      ...NEW_MESSAGE_FACTS,
      market_code: hcp.market.code,
    },
  };
  if (failed) return;
  let left = room - 1;
  if (left > 0 && random.chance(0.4)) {
    const at = (read ? readAt : deliveredAt) + random.int(1, 240) * MINUTE;
    const reply = row(at, {
      channel: 'whatsapp',
      direction: 'inbound',
      kind: 'message',
      source: 'whatsapp',
      summary: 'WhatsApp text received',
      status: 'received',
    });
    const replyId = sibling(reply.id, 'msg_');
    const replyWamid = `wamid.demo_${replyId.slice(4)}`;
    reply.external_id = replyWamid;
    reply.message_id = replyId;
    left--;
    yield {
      interaction: reply,
      message: {
        id: replyId,
        hcp_id: hcp.id,
        rep_id: hcp.repId,
        direction: 'inbound',
        wamid: replyWamid,
        phone_number_id: history.phoneNumberId,
        type: 'text',
        template_id: null,
        parameters: null,
        body: random.pick(REPLIES[hcp.market.lang]),
        asset_ids_json: '[]',
        provenance: {},
        send_kind: null,
        status: 'received',
        status_at: reply.occurred_at,
        error_code: null,
        error_title: null,
        error_detail: null,
        decision_id: null,
        idempotency_key: null,
        context_wamid: wamid,
        send_at: null,
        meta_timestamp: reply.occurred_at,
        created_at: reply.occurred_at,
        ...NEW_MESSAGE_FACTS,
        market_code: hcp.market.code,
      },
    };
  }
  for (const [i, link] of links.entries()) {
    const asset = assets[i]!;
    if (left <= 0 || !read || !random.chance(0.35)) continue;
    const at = readAt + random.int(1, 48 * 60) * MINUTE;
    const click = row(at, {
      channel: 'whatsapp',
      direction: 'inbound',
      kind: 'click',
      source: 'parley',
      summary: `Opened “${asset.title}” (v${asset.version})`,
      topics_json: asset.topics_json,
      products_json: asset.products_json,
      template_id: template.row.id,
      asset_ids_json: JSON.stringify([asset.id]),
      message_id: messageId,
      status: 'opened',
    });
    click.external_id = `click:${link.code}:${click.occurred_at.slice(0, 16)}`;
    left--;
    yield { interaction: click };
  }
}

/**
 * A refused send whose reason the world shows: at night in the HCP's time zone, or with a template version
 * that had expired, or after the HCP withdrew its consent. Null when the HCP offers no such moment.
 */
function blockedAttempt(
  history: WhatsappHistory,
  random: DemoRandom,
  row: RowFactory,
  kind: 'quiet_hours' | 'expired_or_withdrawn',
): DemoHistoryRow | null {
  const refused = refusalOf(history, random, kind);
  return refused ? refusedRow(history, row, refused) : null;
}

/** A refusal as the timeline and the decisions keep it. */
function refusedRow(history: WhatsappHistory, row: RowFactory, refused: Refusal): DemoHistoryRow {
  const { hcp, now } = history;
  const { at, template, reasons } = refused;
  const interaction = row(at, {
    channel: 'whatsapp',
    direction: 'outbound',
    kind: 'blocked_attempt',
    source: 'parley',
    summary: `Blocked: ${reasons.map((r) => r.code).join(', ')}`,
    template_id: template.row.id,
    status: 'blocked',
  });
  const decisionId = sibling(interaction.id, 'dec_');
  interaction.external_id = decisionId;
  return {
    interaction,
    decision: {
      id: decisionId,
      requested_by: hcp.repId,
      hcp_id: hcp.id,
      kind: 'send',
      request_json: JSON.stringify({
        hcpId: hcp.id,
        templateId: template.row.id,
        assetIds: [],
        hasText: false,
      }),
      outcome: 'deny',
      purpose: template.purpose,
      reasons_json: JSON.stringify(reasons),
      rulebook_version: RULEBOOK_VERSION,
      snapshot_json: seededSnapshot(history, template, [], Math.min(at, now)),
      message_id: null,
      decided_at: interaction.occurred_at,
      template_id: template.row.id,
      reason_codes: reasonCodesColumn(reasons),
      market_code: hcp.market.code,
    },
  };
}

interface Refusal {
  at: number;
  template: DemoTemplate;
  reasons: { code: string; rule: string; message: string }[];
}

/** When and why an attempt was refused, worded as `decide()` words it. */
function refusalOf(
  history: WhatsappHistory,
  random: DemoRandom,
  kind: 'quiet_hours' | 'expired_or_withdrawn',
): Refusal | null {
  const { hcp, now } = history;
  const whose = `${hcp.name}'s time (${hcp.timeZone})`;
  if (kind === 'quiet_hours') {
    if (history.sendable.length === 0) return null;
    const { template, window } = random.pick(history.sendable);
    const day = officeMomentWithin(random, window, hcp.market);
    if (day === null) return null;
    const local = DateTime.fromMillis(day, { zone: hcp.timeZone }).set({
      hour: random.int(20, 22),
      minute: random.int(0, 59),
    });
    return {
      at: local.toMillis(),
      template,
      reasons: [
        {
          code: 'quiet_hours',
          rule: 'quiet_hours',
          message: `It is ${local.setLocale('en').toFormat('cccc HH:mm')} in ${whose}: quiet hours are 20:00–08:00.`,
        },
      ],
    };
  }
  const consentReason = (template: DemoTemplate, status: 'withdrawn' | 'none') => {
    const what = `${template.purpose.replace(/_/g, ' ')} messages on WhatsApp`;
    return status === 'withdrawn'
      ? {
          code: 'consent_withdrawn',
          rule: `consent.whatsapp.${template.purpose}`,
          message: `${hcp.name} has withdrawn consent to ${what}.`,
        }
      : {
          code: 'consent_missing',
          rule: `consent.whatsapp.${template.purpose}`,
          message: `${hcp.name} has not consented to ${what}.`,
        };
  };
  if (history.withdrawnAt !== null && history.withdrawnAt < now - 2 * DAY) {
    const template = (history.library.templates.get(hcp.market.code) ?? []).find(
      (t) => !t.promotional && t.purpose === 'non_promotional' && t.row.status === 'approved',
    );
    const at = officeMomentWithin(random, [history.withdrawnAt + DAY, now - DAY], hcp.market);
    if (!template || at === null) return null;
    return {
      at,
      template,
      reasons: [consentReason(template, 'withdrawn')],
    };
  }
  const expired = (history.library.expired.get(hcp.market.code) ?? []).filter(
    (t) => t.expiresAt !== null && t.expiresAt < now - 2 * DAY,
  );
  if (expired.length === 0) return null;
  const template = random.pick(expired);
  const reasons = [
    {
      code: 'template_expired',
      rule: 'content.template.expiry',
      message: `The template "${template.row.key}" has expired.`,
    },
  ];
  // Its purpose may be one the HCP never granted (an event invitation needs `events`): both are said.
  if (!history.grants[template.purpose]) reasons.push(consentReason(template, 'none'));
  const at = officeMomentWithin(random, [template.expiresAt! + DAY, now - DAY], hcp.market);
  return at === null ? null : { at, template, reasons };
}

/** What a seeded decision can say of its inputs: who, what, which consent; and that the seed wrote it. */
function seededSnapshot(
  history: WhatsappHistory,
  template: DemoTemplate,
  assets: readonly AssetsTable[],
  at: number,
): string {
  return JSON.stringify({
    source: 'demo seed: written with the history, not computed by decide()',
    now: new Date(at).toISOString(),
    rulebookVersion: RULEBOOK_VERSION,
    hcp: { id: history.hcp.id, market: history.hcp.market.code, timeZone: history.hcp.timeZone },
    consentEntryId: history.grants[template.purpose]?.entryId ?? null,
    template: {
      id: template.row.id,
      key: template.row.key,
      version: template.row.version,
      status: template.row.status,
    },
    assets: assets.map((a) => ({ id: a.id, key: a.key, status: a.status, expiresAt: a.expires_at })),
  });
}

/** The rep's parameter values for a send at `sentAt`: upcoming days for reminders and invitations. */
function parameterValues(
  template: DemoTemplate,
  asset: AssetsTable | undefined,
  random: DemoRandom,
  sentAt: number,
  hcp: WhatsappHcp,
): Record<string, string> {
  const values: Record<string, string> = {};
  for (const p of template.parameters) {
    switch (p.type) {
      case 'hcp_name':
        break;
      case 'date': {
        // Sent in office hours, so the market's standard offset names the right local day.
        const local = sentAt + random.int(1, 10) * DAY + hcp.market.utcOffsetMinutes * MINUTE;
        values[p.name] = new Date(local).toISOString().slice(0, 10);
        break;
      }
      case 'time':
        values[p.name] =
          `${String(random.int(8, 17)).padStart(2, '0')}:${random.pick(['00', '15', '30', '45'])}`;
        break;
      case 'venue':
        values[p.name] = random.pick(venuesOf(hcp.market.code)).id;
        break;
      case 'asset_link':
        if (asset) values[p.name] = asset.id;
        break;
      case 'text':
        values[p.name] = random.pick(TOPICS[hcp.market.lang]);
        break;
    }
  }
  return values;
}

/**
 * A moment in local office hours (09:00–17:00) of a working day inside `window` (the market's weekend and
 * holidays are quiet hours too); null when a few draws find none (a short window over a weekend).
 */
export function officeMomentWithin(
  random: DemoRandom,
  window: readonly [number, number],
  market: DemoMarket,
): number | null {
  const [start, end] = window;
  const offset = market.utcOffsetMinutes * MINUTE;
  for (let draw = 0; draw < 4; draw++) {
    const t = start + Math.floor(random.float() * (end - start));
    const dayStart = Math.floor((t + offset) / DAY) * DAY - offset;
    const office = dayStart + random.int(9 * 60, 17 * 60) * MINUTE;
    if (office > start && office < end && isWorkingDay(dayStart + offset, market)) return office;
  }
  return null;
}

/** Whether the local day starting at `localMidnight` (as a UTC instant's fields) is a working day. */
function isWorkingDay(localMidnight: number, market: DemoMarket): boolean {
  const day = new Date(localMidnight);
  const weekday = day.getUTCDay() || 7; // ISO: Monday 1 … Sunday 7
  return !market.weekendDays.includes(weekday) && !market.holidays.includes(day.toISOString().slice(0, 10));
}
