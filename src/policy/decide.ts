import type {
  ConsentState,
  ConsentStatus,
  DecisionAsset,
  DecisionContext,
  DecisionRequest,
  DecisionTemplate,
  RecentMessage,
} from './decision-context.js';
import { REVIEW_CODES, type ReasonCode } from './reason-codes.js';
import { rulesForMarket } from './rulebook.js';
import {
  CONSENT_CHANNELS,
  PURPOSES,
  type CapExemption,
  type Classification,
  type ConsentChannel,
  type MixChannel,
  type Purpose,
  type Rules,
} from './rulebook-schema.js';
import {
  describeLocal,
  hoursVerdict,
  localDate,
  nextLocalMidnight,
  nextOpenAt,
  type SendHours,
} from './send-hours.js';

/** One reason of a decision: a stable code, a sentence a rep understands, and the rule that said so. */
export interface DecisionReason {
  code: ReasonCode;
  message: string;
  /** The rulebook path of the rule, e.g. `frequency.per_hcp.max_in_rolling`. */
  rule: string;
}

/** Another way to reach the HCP for the same purpose, from the channel mix. */
export interface DecisionAlternative {
  channel: MixChannel;
  /** `granted`: the HCP consented to this channel for the purpose; `not_needed`: no messaging consent needed. */
  consent: 'granted' | 'not_needed';
}

/** The answer of `decide()` (CONTRACT.md "Policy decision"). */
export interface Decision {
  outcome: 'allow' | 'deny' | 'review';
  /** The consent purpose the message needs, computed from the rulebook; null when there is no content. */
  purpose: Purpose | null;
  reasons: DecisionReason[];
  rulebookVersion: number;
  /** For a denial that time alone lifts (caps, quiet hours, …): the first moment it would be allowed. */
  nextAllowedAt?: string;
  /** For a denial: the other channels of the purpose's mix that can reach the HCP. */
  alternatives?: DecisionAlternative[];
}

interface Found extends DecisionReason {
  /** Lifted by waiting (then `nextAllowedAt` is computed). */
  timed: boolean;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NON_CONSENT_CHANNELS: ReadonlySet<MixChannel> = new Set<MixChannel>([
  'f2f',
  'virtual',
  'event',
  'web',
  'medical_information_team',
]);

/**
 * Decides whether a rep may send a proposed WhatsApp message to an HCP. A pure function of the request
 * and the context (rulebook, HCP, consent, preferences, counters, window, content, `now`): it reads no
 * clock, no store and no configuration, so the same inputs give the same decision — which is what lets a
 * stored decision be explained and replayed.
 *
 * Every rule that fails adds a reason (all of them are reported, not only the first). The outcome is
 * `deny` when any reason denies, else `review` when one holds the message for a person (`needs_review`),
 * else `allow`. When every denying reason is one that passes with time (caps, quiet hours, contact
 * windows, duplicates, opt-in spacing), `nextAllowedAt` is the first moment all of them pass together;
 * a denial also names the channel-mix alternatives that reach the HCP for the same purpose.
 *
 * The message is evaluated at `sendAt` when it is in the future, else at `now`.
 */
export function decide(request: DecisionRequest, context: DecisionContext): Decision {
  const rules = rulesForMarket(context.rulebook, context.hcp.market);
  const now = Date.parse(context.now);
  const requestedAt = request.sendAt ? Date.parse(request.sendAt) : Number.NaN;
  const at = Number.isFinite(requestedAt) && requestedAt > now ? requestedAt : now;
  const { hcp } = context;
  const template = request.templateId ? (context.template ?? null) : null;
  const isFreeText = !request.templateId && typeof request.text === 'string';
  const assets = requestedAssets(request, context);
  const classification: Classification =
    template?.classification === 'promotional' || assets.found.some((a) => a.classification === 'promotional')
      ? 'promotional'
      : 'non_promotional';
  const purpose = purposeOf(template, isFreeText, classification, rules, context);
  const reasons: Found[] = [];
  const add = (code: ReasonCode, rule: string, message: string, timed = false) =>
    reasons.push({ code, rule, message, timed });

  // Who and where: the rep must work the HCP's territory; the number must be usable.
  if (!hcp.assignedToRep)
    add('not_assigned', 'assignment', `${hcp.name} is not in your territories, so you cannot message them.`);
  if (!hcp.hasWhatsappNumber || hcp.whatsappStatus !== 'active')
    add(
      'no_whatsapp_number',
      'whatsapp_number',
      !hcp.hasWhatsappNumber
        ? `${hcp.name} has no WhatsApp number on file.`
        : `${hcp.name}'s WhatsApp number is ${hcp.whatsappStatus} (for example after a number change); confirm it before messaging.`,
    );
  if (context.consentHold)
    add(
      'consent_hold',
      'consent.hold',
      `${hcp.name}'s last reply may have been an opt-out; messages wait until a person has read it.`,
    );
  if (!template && !isFreeText)
    add(
      'template_not_approved',
      'content.template',
      request.templateId
        ? 'That template does not exist.'
        : 'Choose an approved template (or reply with text).',
    );

  // Channel and purpose.
  if (template && !rules.message_types.whatsapp.includes(template.type))
    add(
      'message_type_not_allowed',
      'message_types.whatsapp',
      `A ${label(template.type)} message may not be sent on WhatsApp.`,
    );
  if (purpose && !rules.channel_mix[purpose].includes('whatsapp'))
    add(
      'channel_not_allowed',
      `channel_mix.${purpose}`,
      `${capital(label(purpose))} messages do not go by WhatsApp; use ${listChannels(rules.channel_mix[purpose])}.`,
    );
  const promotionalOn = rules.promotional.whatsapp_allowed;
  if (classification === 'promotional' && !promotionalOn)
    add(
      'promotional_not_allowed',
      'promotional.whatsapp_allowed',
      `Promotional content is not sent by WhatsApp in ${hcp.market}.`,
    );
  // The one confirmation of an opt-out rests on the opt-out itself: it is sent after consent was withdrawn.
  if (purpose && request.kind !== 'opt_out_confirmation')
    checkConsent(purpose, classification, template, context, at, add);
  const preferred = context.preferences?.preferredChannel?.[purpose ?? 'service'];
  if (purpose && rules.preferences.enforce_preferred_channel && preferred && preferred !== 'whatsapp')
    add(
      'channel_not_preferred',
      'preferences.enforce_preferred_channel',
      `${hcp.name} prefers ${label(preferred)} for ${label(purpose)} messages.`,
    );

  // Meta's side: the marketing category is a separate check from the compliance classification.
  if (template?.whatsappCategory === 'marketing') {
    if (hcp.marketingStopped && rules.meta.marketing_stop_blocks)
      add(
        'marketing_opted_out',
        'meta.marketing_stop_blocks',
        `${hcp.name} has stopped marketing messages in WhatsApp; marketing templates cannot be sent.`,
      );
    if (hcp.callingCode && rules.meta.no_marketing_calling_codes.includes(hcp.callingCode))
      add(
        'marketing_not_allowed_for_number',
        'meta.no_marketing_calling_codes',
        `Marketing templates are never sent to +${hcp.callingCode} numbers.`,
      );
  }

  if (template) checkTemplate(template, request, rules, context, at, assets.found, add);
  checkAssets(assets, request, rules, at, add);
  if (classification === 'promotional' && rules.format.promotional_requires_pi_link)
    checkPrescribingInformation(template, assets.found, context, add);

  // The customer-service window: free text only inside it, only non-promotional, always reviewed.
  const lastInbound = context.lastInboundAt ? Date.parse(context.lastInboundAt) : Number.NaN;
  const inWindow =
    Number.isFinite(lastInbound) && lastInbound <= at && at - lastInbound < rules.service_window.hours * HOUR;
  if (isFreeText) {
    if (!rules.service_window.free_text_allowed || !inWindow)
      add(
        'window_closed',
        'service_window',
        rules.service_window.free_text_allowed
          ? `Free text is only possible within ${rules.service_window.hours} h of ${hcp.name}'s last message; use an approved template.`
          : 'Free text is not allowed; use an approved template.',
      );
    if (classification === 'promotional')
      add(
        'promotional_not_allowed',
        'service_window.free_text',
        'Free text may not carry promotional content; use an approved template.',
      );
    if (rules.service_window.free_text_review)
      add(
        'needs_review',
        'service_window.free_text_review',
        'Free text is checked by compliance before it is sent.',
      );
  }
  if (template && rules.review.message_types.includes(template.type))
    add(
      'needs_review',
      'review.message_types',
      `${capital(label(template.type))} messages are checked by compliance first.`,
    );
  if (classification === 'promotional' && rules.review.promotional)
    add('needs_review', 'review.promotional', 'Promotional messages are checked by compliance first.');

  // Time-based rules: caps, hours, duplicates, opt-in spacing.
  const timing = timingOf(request, template, rules, context, at, inWindow, lastInbound);
  for (const f of timing.failuresAt(at, true)) reasons.push(f);

  const denies = reasons.filter((r) => !REVIEW_CODES.has(r.code));
  const outcome: Decision['outcome'] = denies.length > 0 ? 'deny' : reasons.length > 0 ? 'review' : 'allow';
  const decision: Decision = {
    outcome,
    purpose,
    reasons: reasons.map(({ code, message, rule }) => ({ code, message, rule })),
    rulebookVersion: context.rulebook.version,
  };
  if (outcome === 'deny') {
    if (denies.every((r) => r.timed)) {
      const next = timing.nextAllowed(at);
      if (next !== undefined) decision.nextAllowedAt = new Date(next).toISOString();
    }
    if (purpose) {
      const alternatives = alternativesFor(purpose, rules, context, at);
      if (alternatives.length > 0) {
        decision.alternatives = alternatives;
        const first = decision.reasons.find((r) => !REVIEW_CODES.has(r.code));
        if (first) first.message = `${first.message} ${alternativeHint(alternatives, context.hcp.name)}`;
      }
    }
  }
  return decision;
}

/**
 * Of the rep's recent messages, those the rep cap can count from `now` on: counted statuses and kinds, at
 * or after now − the rep's rolling window. What a decision's snapshot keeps of the rep's history (a busy
 * rep's 48-hour read has hundreds); `decide()` gives the same answer on these as on the full read.
 */
export function repMessagesInCap(context: DecisionContext): RecentMessage[] {
  const rules = rulesForMarket(context.rulebook, context.hcp.market);
  const freq = rules.frequency;
  const from = Date.parse(context.now) - freq.per_rep.rolling_hours * HOUR;
  const counted = countedBy(freq);
  return context.repMessages.filter((m) => Date.parse(m.at) >= from && counted(m));
}

/** Whether a message counts against a cap: a counted status (a reservation or a send), not an exempt kind. */
function countedBy(freq: Rules['frequency']): (m: RecentMessage) => boolean {
  return (m) =>
    freq.counted_statuses.includes(m.status as (typeof freq.counted_statuses)[number]) &&
    (m.kind === 'rep' || !freq.exempt.includes(m.kind));
}

/** How far back the counters handed to `decide()` must reach, in hours, for a market's rules. */
export function lookbackHours(rules: Rules): number {
  return Math.max(
    rules.frequency.per_hcp.rolling_hours,
    rules.frequency.per_rep.rolling_hours,
    rules.duplicates.same_template_within_days * 24,
    48, // the daily cap and a rolling window that crosses a DST change
  );
}

type Add = (code: ReasonCode, rule: string, message: string, timed?: boolean) => void;

function purposeOf(
  template: DecisionTemplate | null,
  isFreeText: boolean,
  classification: Classification,
  rules: Rules,
  context: DecisionContext,
): Purpose | null {
  if (template) {
    // A double opt-in confirms a pending (verbal) consent: its purpose is the one awaiting confirmation.
    if (template.type === 'opt_in_request') {
      const pending = PURPOSES.find((p) => context.consent.whatsapp?.[p]?.status === 'pending');
      if (pending) return pending;
    }
    return rules.purposes[template.type][classification];
  }
  if (isFreeText) return classification === 'promotional' ? 'promotional' : rules.free_text_purpose;
  return null;
}

/** The consent status at the send time: a grant that has expired by then counts as expired. */
function statusAt(state: ConsentState | undefined, at: number): ConsentStatus {
  if (!state) return 'none';
  if (state.status === 'granted' && state.expiresAt && Date.parse(state.expiresAt) <= at) return 'expired';
  return state.status;
}

function checkConsent(
  purpose: Purpose,
  classification: Classification,
  template: DecisionTemplate | null,
  context: DecisionContext,
  at: number,
  add: Add,
): void {
  const { hcp } = context;
  const status = statusAt(context.consent.whatsapp?.[purpose], at);
  if (status === 'granted') return;
  // The opt-in request is how a pending consent gets confirmed.
  if (status === 'pending' && template?.type === 'opt_in_request') return;
  const what = `${label(purpose)} messages on WhatsApp`;
  const rule = `consent.whatsapp.${purpose}`;
  if (classification === 'promotional' && (status === 'none' || status === 'pending')) {
    add(
      'promotional_without_consent',
      rule,
      `${hcp.name} has not consented to promotional messages on WhatsApp${status === 'pending' ? ' (a verbal consent awaits confirmation)' : ''}.`,
    );
    return;
  }
  switch (status) {
    case 'none':
      add('consent_missing', rule, `${hcp.name} has not consented to ${what}.`);
      return;
    case 'pending':
      add(
        'consent_pending',
        rule,
        `${hcp.name}'s consent to ${what} awaits confirmation; send the opt-in request first.`,
      );
      return;
    case 'withdrawn':
      add('consent_withdrawn', rule, `${hcp.name} has withdrawn consent to ${what}.`);
      return;
    case 'refused':
      add('consent_refused', rule, `${hcp.name} declined ${what}.`);
      return;
    case 'expired':
      add('consent_expired', rule, `${hcp.name}'s consent to ${what} has expired; ask again.`);
      return;
  }
}

function checkTemplate(
  template: DecisionTemplate,
  request: DecisionRequest,
  rules: Rules,
  context: DecisionContext,
  at: number,
  assets: readonly DecisionAsset[],
  add: Add,
): void {
  const { hcp } = context;
  const name = template.name ?? `${template.key} v${template.version}`;
  if (template.status === 'expired' || (template.expiresAt && Date.parse(template.expiresAt) <= at))
    add('template_expired', 'content.template.expiry', `The template "${name}" has expired.`);
  else if (template.status !== 'approved')
    add(
      'template_not_approved',
      'content.template.status',
      `The template "${name}" is ${label(template.status)}, not approved.`,
    );
  if (template.whatsappStatus !== 'approved')
    add(
      'template_not_approved_by_meta',
      'meta.template_status',
      `WhatsApp has not approved the template "${name}" (its status there is ${template.whatsappStatus}).`,
    );
  if (template.market !== hcp.market)
    add(
      'template_market_mismatch',
      'content.template.market',
      `The template "${name}" is for ${template.market}; ${hcp.name} is in ${hcp.market}.`,
    );
  if (!languagesMatch(template.language, hcp.language, rules.language.match))
    add(
      'language_mismatch',
      'language.match',
      `The template "${name}" is in ${template.language}; ${hcp.name} reads ${hcp.language}.`,
    );
  const params = request.parameters ?? {};
  const assetIds = new Set(assets.map((a) => a.id));
  for (const spec of template.parameters) {
    const value = params[spec.name];
    const problem = parameterProblem(spec, value, assetIds);
    if (problem)
      add(
        'invalid_parameter',
        `content.template.parameters.${spec.name}`,
        `Parameter "${spec.name}" ${problem}.`,
      );
  }
  for (const key of Object.keys(params))
    if (!template.parameters.some((p) => p.name === key))
      add(
        'invalid_parameter',
        `content.template.parameters.${key}`,
        `The template has no parameter "${key}".`,
      );
}

function parameterProblem(
  spec: DecisionTemplate['parameters'][number],
  value: unknown,
  assetIds: ReadonlySet<string>,
): string | undefined {
  // The HCP's name is filled from the HCP record (content renders it); a rep never types it.
  if (spec.type === 'hcp_name')
    return value === undefined ? undefined : 'is filled from the HCP record; do not send a value';
  if (value === undefined || value === null || value === '') return 'is missing';
  if (typeof value !== 'string') return 'must be text';
  if (spec.maxLength !== undefined && value.length > spec.maxLength)
    return `is longer than ${spec.maxLength} characters`;
  // WhatsApp refuses parameters with new lines, tabs or more than four spaces in a row (error 132018).
  if (/[\n\t]| {5,}/.test(value)) return 'may not contain new lines, tabs or long runs of spaces';
  switch (spec.type) {
    case 'date': {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`)))
        return 'must be a date as YYYY-MM-DD';
      const round = new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10);
      return round === value ? undefined : 'must be a real calendar date';
    }
    case 'time':
      return /^([01]\d|2[0-3]):[0-5]\d$/.test(value) ? undefined : 'must be a time as HH:MM';
    case 'asset_link':
      return assetIds.has(value) ? undefined : "must name one of the message's approved assets";
    default:
      return undefined;
  }
}

function languagesMatch(a: string, b: string, match: 'exact' | 'primary'): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return match === 'exact' ? x === y : x.split('-')[0] === y.split('-')[0];
}

interface RequestedAssets {
  found: DecisionAsset[];
  missing: string[];
}

function requestedAssets(request: DecisionRequest, context: DecisionContext): RequestedAssets {
  const found: DecisionAsset[] = [];
  const missing: string[] = [];
  for (const id of request.assetIds ?? []) {
    const asset = context.assets.find((a) => a.id === id);
    if (asset) found.push(asset);
    else missing.push(id);
  }
  return { found, missing };
}

function checkAssets(
  assets: RequestedAssets,
  request: DecisionRequest,
  rules: Rules,
  at: number,
  add: Add,
): void {
  for (const id of assets.missing) add('asset_not_approved', 'content.asset', `Asset ${id} does not exist.`);
  for (const a of assets.found) {
    if (a.status === 'expired' || (a.expiresAt && Date.parse(a.expiresAt) <= at))
      add('asset_expired', 'content.asset.expiry', `"${a.title}" has expired.`);
    else if (a.status !== 'approved')
      add('asset_not_approved', 'content.asset.status', `"${a.title}" is ${label(a.status)}, not approved.`);
    if (rules.format.links_not_files && !/^https:\/\//i.test(a.url))
      add(
        'attachment_not_allowed',
        'format.links_not_files',
        `"${a.title}" is a file, not a link to an approved page.`,
      );
  }
  const count = (request.assetIds ?? []).length;
  if (count > rules.format.max_assets)
    add(
      'too_many_assets',
      'format.max_assets',
      `A message may carry at most ${rules.format.max_assets} assets; this one has ${count}.`,
    );
  if (rules.format.links_not_files && request.assetDelivery === 'file' && count > 0)
    add(
      'attachment_not_allowed',
      'format.links_not_files',
      'Assets are shared as links, never as attached files.',
    );
}

function checkPrescribingInformation(
  template: DecisionTemplate | null,
  assets: readonly DecisionAsset[],
  context: DecisionContext,
  add: Add,
): void {
  const productIds = new Set<string>(template?.products ?? []);
  for (const a of assets)
    if (a.classification === 'promotional') for (const p of a.products) productIds.add(p);
  const keys = new Set(assets.map((a) => a.key));
  for (const id of [...productIds].sort()) {
    const product = context.products.find((p) => p.id === id);
    if (product?.piAssetKey && !keys.has(product.piAssetKey))
      add(
        'pi_link_missing',
        'format.promotional_requires_pi_link',
        `A promotional message about ${product.name} must carry its prescribing information link.`,
      );
  }
}

function alternativesFor(
  purpose: Purpose,
  rules: Rules,
  context: DecisionContext,
  at: number,
): DecisionAlternative[] {
  const out: DecisionAlternative[] = [];
  for (const channel of rules.channel_mix[purpose]) {
    if (channel === 'whatsapp') continue;
    if (NON_CONSENT_CHANNELS.has(channel)) out.push({ channel, consent: 'not_needed' });
    else if (
      (CONSENT_CHANNELS as readonly string[]).includes(channel) &&
      statusAt(context.consent[channel as ConsentChannel]?.[purpose], at) === 'granted'
    )
      out.push({ channel, consent: 'granted' });
  }
  return out;
}

/** The time-based rules, evaluable at any moment (for the decision itself and for `nextAllowedAt`). */
function timingOf(
  request: DecisionRequest,
  template: DecisionTemplate | null,
  rules: Rules,
  context: DecisionContext,
  at: number,
  inWindow: boolean,
  lastInbound: number,
) {
  const { hcp } = context;
  const freq = rules.frequency;
  const counted = countedBy(freq);
  const hcpTimes = context.hcpMessages.filter(counted).map((m) => Date.parse(m.at));
  const repTimes = context.repMessages.filter(counted).map((m) => Date.parse(m.at));
  const hcpDays = hcpTimes.map((x) => localDate(x, hcp.timeZone));

  // A reply to the HCP's own message inside the window, when nobody has answered it yet.
  const answered = context.hcpMessages.some(
    (m) => Date.parse(m.at) > lastInbound && Date.parse(m.at) <= at && m.status !== 'cancelled',
  );
  const kind: 'rep' | CapExemption =
    request.kind ??
    (inWindow && !answered && (request.text !== undefined || template) ? 'reply_in_window' : 'rep');
  const capExempt = kind !== 'rep' && freq.exempt.includes(kind);
  const isQuickReply = (t: number) =>
    Number.isFinite(lastInbound) &&
    lastInbound <= t &&
    t - lastInbound <= rules.quiet_hours.reply_exemption_minutes * 60_000;
  const hoursExempt = (t: number) => kind === 'opt_out_confirmation' || isQuickReply(t);

  const prefs = context.preferences;
  const windows = rules.contact_windows.enforce ? (prefs?.contactWindows ?? null) : null;
  const hours: SendHours = { zone: hcp.timeZone, quiet: rules.quiet_hours, market: context.market, windows };
  const hcpLimit = freq.honour_hcp_limit && prefs?.frequencyLimit ? prefs.frequencyLimit : null;

  // Each opt-out is confirmed once, however recently an earlier one was: no duplicate rule for it.
  const duplicateTimes =
    template && rules.duplicates.same_template_within_days > 0 && kind !== 'opt_out_confirmation'
      ? context.hcpMessages
          .filter((m) => m.templateKey === template.key && counted({ ...m, kind: 'rep' }))
          .map((m) => Date.parse(m.at))
      : [];
  const dupSpan = rules.duplicates.same_template_within_days * DAY;
  const optIns = template?.type === 'opt_in_request' ? context.optInRequests.map((t) => Date.parse(t)) : [];
  const optInSpan = rules.opt_in.min_days_between * DAY;

  const zoneNote = `${hcp.name}'s time (${hcp.timeZone})`;
  function failuresAt(t: number, explain: boolean): Found[] {
    const out: Found[] = [];
    const push = (code: ReasonCode, rule: string, message: () => string, timed = true) =>
      out.push({ code, rule, message: explain ? message() : '', timed });
    if (!capExempt) {
      const ph = freq.per_hcp;
      const rolling = worstWindowCount(t, hcpTimes, ph.rolling_hours * HOUR);
      if (rolling + 1 > ph.max_in_rolling)
        push('frequency_cap', 'frequency.per_hcp.max_in_rolling', () =>
          hcpTimes.some((x) => x > t && x < t + ph.rolling_hours * HOUR)
            ? `${hcp.name} has ${rolling} WhatsApp message${rolling === 1 ? '' : 's'} from reps sent or booked within ${span(ph.rolling_hours)} of this one (the limit is ${ph.max_in_rolling}).`
            : `${hcp.name} has had ${rolling} WhatsApp message${rolling === 1 ? '' : 's'} from reps in the last ${span(ph.rolling_hours)} (the limit is ${ph.max_in_rolling}).`,
        );
      const day = localDate(t, hcp.timeZone);
      const today = hcpDays.filter((x) => x === day).length;
      if (today + 1 > ph.max_per_local_day)
        push(
          'frequency_cap',
          'frequency.per_hcp.max_per_local_day',
          () =>
            `${hcp.name} already has ${today} WhatsApp message${today === 1 ? '' : 's'} on that day in ${zoneNote} (the limit is ${ph.max_per_local_day} a day).`,
        );
      if (hcpLimit) {
        const own = worstWindowCount(t, hcpTimes, hcpLimit.perDays * DAY);
        if (own + 1 > hcpLimit.maxMessages)
          push(
            'frequency_cap',
            'preferences.frequency_limit',
            () =>
              `${hcp.name} asked for at most ${hcpLimit.maxMessages} message${hcpLimit.maxMessages === 1 ? '' : 's'} every ${hcpLimit.perDays} day${hcpLimit.perDays === 1 ? '' : 's'}, and has ${own}.`,
          );
      }
      const pr = freq.per_rep;
      const mine = worstWindowCount(t, repTimes, pr.rolling_hours * HOUR);
      if (mine + 1 > pr.max_in_rolling)
        push(
          'rep_cap',
          'frequency.per_rep.max_in_rolling',
          () =>
            `You have sent or booked ${mine} WhatsApp messages within ${span(pr.rolling_hours)} (your limit is ${pr.max_in_rolling}).`,
        );
    }
    if (!hoursExempt(t)) {
      const verdict = hoursVerdict(t, hours);
      if (verdict === 'quiet_hours')
        push(
          'quiet_hours',
          'quiet_hours',
          () => `It is ${describeLocal(t, hcp.timeZone)} in ${zoneNote}: ${quietWhy(t, rules, context)}.`,
        );
      else if (verdict === 'outside_contact_window')
        push(
          'outside_contact_window',
          'contact_windows',
          () =>
            `It is ${describeLocal(t, hcp.timeZone)} in ${zoneNote}, outside the hours ${hcp.name} asked to be contacted.`,
        );
    }
    const dup = duplicateTimes.filter((x) => Math.abs(x - t) < dupSpan);
    if (dup.length > 0)
      push(
        'duplicate_message',
        'duplicates.same_template_within_days',
        () =>
          `${hcp.name} ${dup.some((x) => x > t) ? 'is booked to get' : 'got'} this template within the last ${rules.duplicates.same_template_within_days} days.`,
      );
    if (optIns.length > 0) {
      if (optIns.length >= rules.opt_in.max_ever)
        push(
          'opt_in_limit',
          'opt_in.max_ever',
          () =>
            `${hcp.name} has been asked to opt in ${optIns.length} times already (the limit is ${rules.opt_in.max_ever}).`,
          false,
        );
      else if (optIns.some((x) => Math.abs(t - x) < optInSpan))
        push(
          'opt_in_limit',
          'opt_in.min_days_between',
          () => `${hcp.name} was asked to opt in less than ${rules.opt_in.min_days_between} days ago.`,
        );
    }
    return out;
  }

  const nextCache = new Map<number, number | undefined>();
  /** The first moment from `from` at which every time-based rule passes (searching about 60 days ahead). */
  function nextAllowed(from: number): number | undefined {
    if (!nextCache.has(from)) nextCache.set(from, searchNextAllowed(from));
    return nextCache.get(from);
  }
  /**
   * Walks forward from `from`: to the next open hour, then, while some rule still fails there, to the
   * earliest moment that rule could lift (a message leaving a rolling window, the next local midnight,
   * the end of a duplicate or opt-in interval). No moment in between can pass, since every failing rule
   * still fails there, so the first passing moment found is the earliest.
   */
  function searchNextAllowed(from: number): number | undefined {
    const horizon = from + 400 * DAY;
    const firstAfter = (t: number, times: readonly number[], span: number) => {
      let best = Infinity;
      for (const x of times) if (x + span > t && x + span < best) best = x + span;
      return best;
    };
    let t = from;
    for (let step = 0; step < 500 && t <= horizon; step++) {
      const open = hoursExempt(t) ? t : nextOpenAt(t, hours);
      if (open === undefined) return undefined;
      const failing = failuresAt(open, false);
      if (failing.length === 0) return open;
      let next = Infinity;
      for (const f of failing) {
        const lift =
          f.rule === 'frequency.per_hcp.max_in_rolling'
            ? firstAfter(open, hcpTimes, freq.per_hcp.rolling_hours * HOUR)
            : f.rule === 'frequency.per_hcp.max_per_local_day'
              ? nextLocalMidnight(open, hcp.timeZone)
              : f.rule === 'preferences.frequency_limit' && hcpLimit
                ? firstAfter(open, hcpTimes, hcpLimit.perDays * DAY)
                : f.rule === 'frequency.per_rep.max_in_rolling'
                  ? firstAfter(open, repTimes, freq.per_rep.rolling_hours * HOUR)
                  : f.rule === 'duplicates.same_template_within_days'
                    ? firstAfter(open, duplicateTimes, dupSpan)
                    : f.rule === 'opt_in.min_days_between'
                      ? firstAfter(open, optIns, optInSpan)
                      : f.code === 'quiet_hours' || f.code === 'outside_contact_window'
                        ? open + 60_000
                        : Infinity;
        if (lift < next) next = lift;
      }
      if (!Number.isFinite(next)) return undefined;
      t = next;
    }
    return undefined;
  }

  const describeNext = (next: number) =>
    `Next possible: ${describeLocal(next, hcp.timeZone)} in ${zoneNote}.`;
  return {
    failuresAt(t: number, explain: boolean): Found[] {
      const found = failuresAt(t, explain);
      if (!explain || found.length === 0) return found;
      // The first timed reason carries the "next possible" hint, so the rep reads one complete sentence.
      const next = found.every((f) => f.timed) ? nextAllowed(t) : undefined;
      const first = found[0];
      if (first && next !== undefined) first.message = `${first.message} ${describeNext(next)}`;
      return found;
    },
    nextAllowed,
  };
}

/**
 * The most messages any rolling window of `span` ms that contains `t` already holds. A window [s, s+span)
 * contains t for s in (t−span, t]; its count only rises when s passes a message's time minus span, so it
 * is enough to look at the left edge and at those points.
 */
function worstWindowCount(t: number, times: readonly number[], span: number): number {
  // Index loops, not for…of: this runs for every step of the next-allowed search, and the array
  // iterators of for…of were a third of what a decision allocated.
  let worst = countFrom(times, t - span + 1, span);
  for (let i = 0; i < times.length; i++) {
    const m = times[i]!;
    if (m > t && m <= t + span - 1) worst = Math.max(worst, countFrom(times, m - span + 1, span));
  }
  return worst;
}

/** How many of `times` fall in [start, start + span). */
function countFrom(times: readonly number[], start: number, span: number): number {
  let n = 0;
  for (let i = 0; i < times.length; i++) if (times[i]! >= start && times[i]! < start + span) n++;
  return n;
}

function quietWhy(t: number, rules: Rules, context: DecisionContext): string {
  const local = localDate(t, context.hcp.timeZone);
  if (rules.quiet_hours.public_holidays && context.market.holidays.includes(local)) return 'a public holiday';
  const weekday = ((new Date(`${local}T12:00:00Z`).getUTCDay() + 6) % 7) + 1;
  if (rules.quiet_hours.weekend_days && context.market.weekendDays.includes(weekday)) return 'a weekend day';
  return `quiet hours are ${rules.quiet_hours.start}–${rules.quiet_hours.end}`;
}

function alternativeHint(alternatives: readonly DecisionAlternative[], name: string): string {
  const words = alternatives.map((a) =>
    a.consent === 'granted' ? `${label(a.channel)}, which ${name} accepts` : label(a.channel),
  );
  return `Or send by ${words.join(', or by ')}.`;
}

function span(hours: number): string {
  return hours % 24 === 0 ? `${hours / 24} day${hours === 24 ? '' : 's'}` : `${hours} hours`;
}

function label(value: string): string {
  return value.replace(/_/g, ' ');
}

function capital(value: string): string {
  return value.charAt(0).toUpperCase() + value.slice(1);
}

function listChannels(channels: readonly MixChannel[]): string {
  return channels.map(label).join(' or ');
}
