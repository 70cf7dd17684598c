import type {
  AssetsTable,
  ConsentEntriesTable,
  ContentSignaturesTable,
  InteractionsTable,
  MarketsTable,
  ProductsTable,
  SendingNumbersTable,
  TemplatesTable,
  TerritoriesTable,
} from '../platform/database/index.js';
import {
  ASSET_SPECS,
  DEMO_MARKETS,
  DEMO_PRODUCTS,
  DEMO_TERRITORIES,
  DEMO_USERS,
  INSTITUTIONS,
  NAMES,
  SPECIALTIES,
  TEMPLATE_SPECS,
  TERRITORY_CYCLE,
  type DemoMarket,
  type DemoTerritory,
  type MarketCode,
} from './demo-catalogue.js';
import { DemoRandom, demoId } from './demo-random.js';
import {
  whatsappEpisode,
  whatsappHistory,
  type DemoHistoryRow,
  type DemoLibrary,
  type RowFactory,
} from './demo-whatsapp.js';

/**
 * The demo world as pure functions of a seed and a moment: no IO, no clock, no `Math.random`. HCP `i`,
 * its consent ledger and its history are each computed on their own, so a world of 100,000 HCPs and
 * 10 million interactions is produced lazily, row by row, in bounded memory (demo.store.ts batches the
 * rows into the database). Personal values (numbers, emails) come out in clear; the store seals them.
 */

const DAY = 86_400_000;

export interface DemoWorldOptions {
  seed: number;
  hcps: number;
  /** Total interactions across all HCPs (exactly this many are generated). */
  interactions: number;
  /** The moment the world is built at: a year of history ends here. */
  now: Date;
  /** The configured default sending number (BR's). */
  defaultPhoneNumberId: string;
}

/** Every consent state an HCP's WhatsApp consent can be in, as CONTRACT.md's `current.status` shows it. */
export const CONSENT_PROFILES = [
  'none',
  'granted_non_promotional',
  'granted_promotional',
  'withdrawn',
  'expired',
  'pending_verbal',
  'refused',
] as const;
export type ConsentProfile = (typeof CONSENT_PROFILES)[number];

const PROFILE_WEIGHTS: readonly (readonly [ConsentProfile, number])[] = [
  ['none', 15],
  ['granted_non_promotional', 30],
  ['granted_promotional', 25],
  ['withdrawn', 10],
  ['expired', 8],
  ['pending_verbal', 8],
  ['refused', 4],
];

type Channel = InteractionsTable['channel'];

/** How an HCP likes to be reached: a few mixes, plus HCPs seen only face to face (or in two channels). */
const CHANNEL_MIXES: readonly (readonly [readonly (readonly [Channel, number])[], number])[] = [
  [
    [
      ['f2f', 5],
      ['phone', 2],
      ['email', 3],
      ['virtual', 1],
      ['event', 1],
      ['whatsapp', 3],
      ['web', 1],
    ],
    40,
  ],
  [
    [
      ['email', 5],
      ['web', 3],
      ['virtual', 3],
      ['whatsapp', 4],
      ['f2f', 1],
    ],
    25,
  ],
  [
    [
      ['event', 3],
      ['f2f', 3],
      ['email', 2],
      ['whatsapp', 2],
      ['phone', 1],
    ],
    20,
  ],
  [
    [
      ['f2f', 4],
      ['email', 1],
    ],
    8,
  ],
  [[['f2f', 1]], 7],
];

const BRANDS_BY_SPECIALTY: Record<string, string[]> = {
  Cardiology: ['Cardalis', 'Glucora'],
  Endocrinology: ['Glucora'],
  'Internal Medicine': ['Cardalis', 'Glucora', 'Respiva'],
  'General Practice': ['Cardalis', 'Glucora', 'Respiva'],
  Pulmonology: ['Respiva'],
  Nephrology: ['Glucora', 'Cardalis'],
  Oncology: ['Onkavia'],
};

export interface DemoHcp {
  index: number;
  id: string;
  crmId: string;
  name: string;
  specialty: string;
  institution: string;
  market: DemoMarket;
  territory: DemoTerritory;
  repId: string | null;
  language: string;
  timeZone: string;
  /** E.164, or null for the few HCPs without a WhatsApp number. */
  whatsappNumber: string | null;
  email: string | null;
  segment: 'A' | 'B' | 'C';
  whatsappStatus: 'active' | 'unreachable';
  marketingStopped: boolean;
  consent: ConsentProfile;
  brands: string[];
  channels: (readonly [Channel, number])[];
}

function marketOf(code: MarketCode): DemoMarket {
  const market = DEMO_MARKETS.find((m) => m.code === code);
  if (!market) throw new Error(`no demo market ${code}`);
  return market;
}

function territoryOf(id: string): DemoTerritory {
  const territory = DEMO_TERRITORIES.find((t) => t.id === id);
  if (!territory) throw new Error(`no demo territory ${id}`);
  return territory;
}

/** The rep who works a territory (the first demo rep listing it). */
export function repOfTerritory(territoryId: string): string | null {
  return DEMO_USERS.find((u) => u.role === 'rep' && u.territories.includes(territoryId))?.id ?? null;
}

// An odd multiplier prime to 10: i -> (i * M + offset) mod 10^d is a bijection on [0, 10^d), so every
// HCP of a territory gets a different number without remembering the ones already given.
const NUMBER_MULTIPLIER = 7919 * 4999;

function numberFor(seed: number, index: number, territory: DemoTerritory, market: DemoMarket): string {
  const space = 10 ** territory.numberDigits;
  const offset = Math.abs(seed * 2_654_435_761) % space;
  // Integer arithmetic beyond 2^53 would round: reduce the product with BigInt.
  const n = Number((BigInt(index) * BigInt(NUMBER_MULTIPLIER) + BigInt(offset)) % BigInt(space));
  return `+${market.countryCallingCode}${territory.numberPrefix}${String(n).padStart(territory.numberDigits, '0')}`;
}

function asciiSlug(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z]/g, '');
}

/**
 * HCP number `index` of the world. Territories follow TERRITORY_CYCLE; the first seven rounds of the
 * cycle give each territory one HCP in every consent state (so every rep has HCPs in all of them), later
 * ones are drawn by weight.
 */
export function demoHcp(options: DemoWorldOptions, index: number): DemoHcp {
  const random = DemoRandom.stream(options.seed, `hcp/${index}`);
  const territory = territoryOf(TERRITORY_CYCLE[index % TERRITORY_CYCLE.length] ?? '');
  const market = marketOf(territory.market);
  const names = NAMES[market.code];
  const female = random.chance(0.5);
  const first = random.pick(female ? names.female : names.male);
  const last1 = random.pick(names.last);
  // Iberian names often carry two surnames; Indian names one.
  const last = market.code === 'IN' || random.chance(0.5) ? last1 : `${last1} ${random.pick(names.last)}`;
  const title = female ? names.titles[0] : names.titles[1];
  const specialty = random.weighted(SPECIALTIES);
  const round = Math.floor(index / TERRITORY_CYCLE.length);
  const consent: ConsentProfile =
    round < CONSENT_PROFILES.length ? (CONSENT_PROFILES[round] ?? 'none') : random.weighted(PROFILE_WEIGHTS);
  const hasNumber = round < CONSENT_PROFILES.length || !random.chance(0.05);
  const hasEmail = !random.chance(0.1);
  let channels = [...random.weighted(CHANNEL_MIXES)];
  const whatsappAllowed =
    hasNumber && consent !== 'none' && consent !== 'pending_verbal' && consent !== 'refused';
  if (!whatsappAllowed) channels = channels.filter(([c]) => c !== 'whatsapp');
  if (!hasEmail) channels = channels.filter(([c]) => c !== 'email');
  if (channels.length === 0) channels = [['f2f', 1]];
  return {
    index,
    id: demoId('hcp', index + 1, random),
    crmId: `CRM-${market.code}-${String(index + 1).padStart(7, '0')}`,
    name: `${title} ${first} ${last}`,
    specialty,
    institution: `${random.pick(INSTITUTIONS[territory.city] ?? ['Clinic'])}, ${territory.city}`,
    market,
    territory,
    repId: repOfTerritory(territory.id),
    language: market.languages[0] ?? 'en',
    timeZone: market.timeZone,
    whatsappNumber: hasNumber ? numberFor(options.seed, index, territory, market) : null,
    email: hasEmail ? `${asciiSlug(first)}.${asciiSlug(last1)}.${index + 1}@example.com` : null,
    segment: random.weighted([
      ['A', 2],
      ['B', 3],
      ['C', 5],
    ] as const),
    whatsappStatus: hasNumber && random.chance(0.02) ? 'unreachable' : 'active',
    marketingStopped: random.chance(0.03),
    consent,
    brands: BRANDS_BY_SPECIALTY[specialty] ?? ['Cardalis'],
    channels,
  };
}

type ConsentRow = ConsentEntriesTable;

/** The HCP's consent ledger: WhatsApp entries matching its profile, and an email consent for most. */
export function consentEntriesFor(options: DemoWorldOptions, hcp: DemoHcp): ConsentRow[] {
  const random = DemoRandom.stream(options.seed, `consent/${hcp.index}`);
  const now = options.now.getTime();
  let sequence = hcp.index * 8 + 1;
  const rows: ConsentRow[] = [];
  const entry = (
    fields: Pick<ConsentRow, 'channel' | 'purpose' | 'status' | 'source'> & {
      at: number;
      expiresAt?: number | null;
      evidence?: string | null;
      byRep?: boolean;
    },
  ) => {
    const at = new Date(fields.at).toISOString();
    rows.push({
      id: demoId('con', sequence++, random),
      hcp_id: hcp.id,
      channel: fields.channel,
      purpose: fields.purpose,
      status: fields.status,
      source: fields.source,
      captured_by: fields.byRep === false ? null : hcp.repId,
      captured_at: at,
      evidence: fields.evidence ?? null,
      wording_version: fields.status === 'granted' || fields.status === 'pending' ? 'wa-consent-v3' : null,
      message_id: null,
      expires_at: fields.expiresAt ? new Date(fields.expiresAt).toISOString() : null,
      recorded_at: at,
    });
  };
  const daysAgo = (min: number, max: number) => now - random.int(min, max) * DAY - random.int(0, DAY - 1);
  const twoYears = 730 * DAY;
  const form = () => `doc:consent-form/${hcp.crmId}/${random.hex(6)}`;
  // The rulebook asks reminders, confirmations and service messages for `service` consent and other
  // non-promotional messages for `non_promotional`: a consent form covers both, so they come as a pair.
  const everyday = (fields: Omit<Parameters<typeof entry>[0], 'purpose'>) => {
    entry({ ...fields, purpose: 'service' });
    entry({ ...fields, purpose: 'non_promotional' });
  };
  switch (hcp.consent) {
    case 'none':
      break;
    case 'granted_non_promotional': {
      const at = daysAgo(30, 330);
      everyday({
        channel: 'whatsapp',
        status: 'granted',
        source: 'written_form',
        at,
        expiresAt: at + twoYears,
        evidence: form(),
      });
      break;
    }
    case 'granted_promotional': {
      const at = daysAgo(60, 330);
      everyday({
        channel: 'whatsapp',
        status: 'granted',
        source: 'written_form',
        at,
        expiresAt: at + twoYears,
        evidence: form(),
      });
      const later = at + random.int(1, 40) * DAY;
      entry({
        channel: 'whatsapp',
        purpose: 'promotional',
        status: 'granted',
        source: 'double_opt_in',
        at: later,
        expiresAt: later + twoYears,
        evidence: `wamid:demo.${random.hex(16)}`,
        byRep: false,
      });
      break;
    }
    case 'withdrawn': {
      const at = daysAgo(200, 360);
      everyday({
        channel: 'whatsapp',
        status: 'granted',
        source: 'web_form',
        at,
        expiresAt: at + twoYears,
        evidence: form(),
      });
      everyday({
        channel: 'whatsapp',
        status: 'withdrawn',
        source: 'whatsapp_reply',
        at: daysAgo(5, 150),
        evidence: `wamid:demo.${random.hex(16)}`,
        byRep: false,
      });
      break;
    }
    case 'expired': {
      const at = daysAgo(400, 700);
      everyday({
        channel: 'whatsapp',
        status: 'granted',
        source: 'written_form',
        at,
        expiresAt: now - random.int(1, 60) * DAY,
        evidence: form(),
      });
      break;
    }
    case 'pending_verbal':
      everyday({
        channel: 'whatsapp',
        status: 'pending',
        source: 'verbal',
        at: daysAgo(1, 20),
        evidence: 'verbal: agreed during a visit; awaiting double opt-in',
      });
      break;
    case 'refused':
      entry({
        channel: 'whatsapp',
        purpose: 'promotional',
        status: 'refused',
        source: 'verbal',
        at: daysAgo(10, 200),
      });
      break;
  }
  if (hcp.email && random.chance(0.7)) {
    const at = daysAgo(30, 360);
    entry({
      channel: 'email',
      purpose: random.chance(0.5) ? 'promotional' : 'non_promotional',
      status: 'granted',
      source: 'web_form',
      at,
      expiresAt: at + twoYears,
      evidence: form(),
    });
  }
  if (random.chance(0.2)) {
    const at = daysAgo(10, 300);
    entry({
      channel: 'email',
      purpose: 'events',
      status: 'granted',
      source: 'crm_import',
      at,
      evidence: 'crm:veeva',
    });
  }
  return rows;
}

/**
 * How many interactions HCP `index` has. Every HCP gets the average; neighbours (2k, 2k+1) then trade
 * up to 60 % of it, so counts vary while the world's total is exactly `options.interactions`.
 */
export function interactionCountFor(options: DemoWorldOptions, index: number): number {
  const base = Math.floor(options.interactions / options.hcps);
  const extra = index < options.interactions % options.hcps ? 1 : 0;
  const pair = Math.floor(index / 2);
  if (pair * 2 + 1 >= options.hcps) return base + extra; // the odd one out trades with nobody
  const swing = Math.floor(base * 0.6);
  const shift = swing > 0 ? DemoRandom.stream(options.seed, `count/${pair}`).int(-swing, swing) : 0;
  return base + extra + (index % 2 === 0 ? shift : -shift);
}

const SOURCE: Record<Channel, string> = {
  f2f: 'veeva',
  phone: 'veeva',
  virtual: 'veeva',
  email: 'sfmc',
  event: 'cvent',
  web: 'web',
  whatsapp: 'parley',
};

/** A moment in local office hours (08:00–17:59, not on the market's weekend) 1–365 days before `now`. */
function officeMoment(random: DemoRandom, market: DemoMarket, now: number): number {
  const offset = market.utcOffsetMinutes * 60_000;
  let dayStart = Math.floor((now + offset) / DAY) * DAY - random.int(1, 365) * DAY;
  for (;;) {
    const weekday = new Date(dayStart).getUTCDay() || 7; // ISO: Monday 1 … Sunday 7
    if (!market.weekendDays.includes(weekday)) break;
    dayStart -= DAY;
  }
  return dayStart + random.int(8 * 60, 18 * 60 - 1) * 60_000 + random.int(0, 59_999) - offset;
}

/**
 * HCP `hcp`'s history: exactly `count` interactions over the year before `now`, across the channels it
 * uses (an email may be opened and clicked, a WhatsApp template may get a reply). Ids continue from
 * `firstSequence`; `hcpSeq` is the seq the store gave the HCP. Lazy: rows are produced as they are consumed.
 */
export function* interactionsFor(
  options: DemoWorldOptions,
  hcp: DemoHcp,
  hcpSeq: number,
  count: number,
  firstSequence: number,
  library: DemoLibrary,
  consent: readonly ConsentEntriesTable[],
): Generator<DemoHistoryRow> {
  const random = DemoRandom.stream(options.seed, `history/${hcp.index}`);
  const now = options.now.getTime();
  const latest = now - 60_000;
  let made = 0;
  let sequence = firstSequence;
  // WhatsApp templates go out only while the consent they need was in force (a compliance demo must not
  // show a send before the opt-in or after the opt-out), and by a rep: an HCP without one is not messaged.
  const whatsapp = hcp.repId
    ? whatsappHistory(
        { ...hcp, repId: hcp.repId },
        hcp.market.phoneNumberId ?? options.defaultPhoneNumberId,
        consent,
        library,
        now,
      )
    : null;
  const row = (
    at: number,
    fields: Pick<InteractionsTable, 'channel' | 'direction' | 'kind'> & Partial<InteractionsTable>,
  ): InteractionsTable => {
    const iso = new Date(Math.min(at, latest)).toISOString();
    const id = demoId('int', sequence++, random);
    made++;
    return {
      id,
      hcp_id: hcp.id,
      hcp_seq: hcpSeq,
      occurred_at: iso,
      rep_id: hcp.repId,
      summary: null,
      topics_json: '[]',
      products_json: '[]',
      source: SOURCE[fields.channel],
      external_id: `demo-${options.seed}-${id.slice(4, 16)}`,
      template_id: null,
      asset_ids_json: '[]',
      message_id: null,
      status: null,
      created_at: iso,
      updated_at: iso,
      import_id: null,
      ...fields,
    };
  };
  /** A timeline row with no WhatsApp records behind it. */
  const plain: (...args: Parameters<RowFactory>) => DemoHistoryRow = (at, fields) => ({
    interaction: row(at, fields),
  });
  while (made < count) {
    const channel = random.weighted(hcp.channels);
    const at = officeMoment(random, hcp.market, now);
    const brand = random.pick(hcp.brands);
    const product = DEMO_PRODUCTS.find((p) => p.brand === brand);
    const topic = product ? random.pick(product.topics) : 'general';
    const about = { topics_json: JSON.stringify([topic]), products_json: JSON.stringify([brand]) };
    switch (channel) {
      case 'f2f':
      case 'phone':
        yield plain(at, {
          channel,
          direction: 'outbound',
          kind: 'call',
          summary: `Discussed ${brand}: ${topic.replace('_', ' ')}`,
          ...about,
        });
        break;
      case 'virtual':
        yield plain(at, {
          channel,
          direction: 'outbound',
          kind: 'meeting',
          summary: `Remote detail on ${brand}`,
          ...about,
        });
        break;
      case 'event':
        yield plain(at, {
          channel,
          direction: 'inbound',
          kind: 'event_attended',
          rep_id: null,
          summary: `Attended ${brand} scientific session`,
          ...about,
        });
        break;
      case 'web':
        yield plain(at, {
          channel,
          direction: 'inbound',
          kind: 'click',
          rep_id: null,
          summary: `Visited the ${brand} HCP portal`,
          ...about,
        });
        break;
      case 'email': {
        yield plain(at, {
          channel,
          direction: 'outbound',
          kind: 'email_sent',
          summary: `${brand} newsletter`,
          ...about,
        });
        if (made < count && random.chance(0.55)) {
          const opened = at + random.int(10, 48 * 60) * 60_000;
          yield plain(opened, { channel, direction: 'inbound', kind: 'email_opened', ...about });
          if (made < count && random.chance(0.3))
            yield plain(opened + random.int(1, 30) * 60_000, {
              channel,
              direction: 'inbound',
              kind: 'email_clicked',
              ...about,
            });
        }
        break;
      }
      case 'whatsapp': {
        let episode = 0;
        if (whatsapp)
          for (const item of whatsappEpisode(whatsapp, random, row, count - made)) {
            episode++;
            yield item;
          }
        // An HCP with nothing it could have been sent (no consent in force, no approved content) is seen.
        if (episode === 0)
          yield plain(at, {
            channel: 'f2f',
            direction: 'outbound',
            kind: 'call',
            summary: `Discussed ${brand}`,
            ...about,
          });
        break;
      }
    }
  }
}

export function marketRows(options: DemoWorldOptions): MarketsTable[] {
  const at = options.now.toISOString();
  return DEMO_MARKETS.map((m) => ({
    code: m.code,
    name: m.name,
    languages_json: JSON.stringify(m.languages),
    time_zone: m.timeZone,
    weekend_days_json: JSON.stringify(m.weekendDays),
    holidays_json: JSON.stringify(m.holidays),
    legal_regime: m.legalRegime,
    data_residency: m.dataResidency,
    created_at: at,
  }));
}

/** One sending number per market; Brazil's is the configured default (WHATSAPP_PHONE_NUMBER_ID). */
export function sendingNumberRows(options: DemoWorldOptions): SendingNumbersTable[] {
  return DEMO_MARKETS.map((m) => ({
    phone_number_id: m.phoneNumberId ?? options.defaultPhoneNumberId,
    market_code: m.code,
    display_phone_number: m.displayPhoneNumber,
    waba_id: '102290129340398',
    messaging_limit: m.messagingLimit,
    status: 'active' as const,
    paused_reason: null,
  }));
}

export function territoryRows(): TerritoriesTable[] {
  return DEMO_TERRITORIES.map((t) => ({ id: t.id, name: t.name, market_code: t.market }));
}

const assetKey = (market: MarketCode, brand: string, suffix: string) =>
  `${market}-${brand}-${suffix}`.toLowerCase();

export function productRows(): ProductsTable[] {
  return DEMO_MARKETS.flatMap((m) =>
    DEMO_PRODUCTS.map((p) => ({
      id: `prd_${m.code}_${p.brand}`.toLowerCase(),
      market_code: m.code,
      brand: p.brand,
      name: p.brand,
      generic_name: p.genericName,
      approved_indications_json: JSON.stringify(p.approvedIndications),
      pi_asset_key: assetKey(m.code, p.brand, 'pi'),
    })),
  );
}

const user = (key: string) => {
  const found = DEMO_USERS.find((u) => u.key === key);
  if (!found) throw new Error(`no demo user ${key}`);
  return found;
};

/** Review dates by status: approved pieces run for a year from approval, expired ones ran out weeks ago. */
function reviewDates(random: DemoRandom, status: TemplatesTable['status'], now: number) {
  const iso = (t: number) => new Date(t).toISOString();
  switch (status) {
    case 'approved': {
      const approved = now - random.int(20, 250) * DAY;
      return {
        created: iso(approved - 14 * DAY),
        approved: iso(approved),
        expires: iso(approved + 365 * DAY),
        updated: iso(approved),
      };
    }
    case 'superseded': {
      const approved = now - random.int(300, 400) * DAY;
      return {
        created: iso(approved - 14 * DAY),
        approved: iso(approved),
        expires: iso(approved + 365 * DAY),
        updated: iso(now - random.int(20, 250) * DAY),
      };
    }
    case 'expired': {
      const approved = now - random.int(380, 420) * DAY;
      return {
        created: iso(approved - 14 * DAY),
        approved: iso(approved),
        expires: iso(approved + 365 * DAY),
        updated: iso(approved + 365 * DAY),
      };
    }
    case 'withdrawn': {
      const approved = now - random.int(200, 300) * DAY;
      return {
        created: iso(approved - 14 * DAY),
        approved: iso(approved),
        expires: iso(approved + 365 * DAY),
        updated: iso(now - random.int(30, 90) * DAY),
      };
    }
    case 'rejected':
    case 'in_review':
    case 'draft': {
      const created = now - random.int(3, 40) * DAY;
      return { created: iso(created), approved: null, expires: null, updated: iso(created + DAY) };
    }
  }
}

const wasApproved = (status: TemplatesTable['status']) =>
  status === 'approved' || status === 'superseded' || status === 'expired' || status === 'withdrawn';

/** The template library of every market, with a signature row for each version compliance approved. */
export function templateRows(options: DemoWorldOptions): {
  templates: TemplatesTable[];
  signatures: ContentSignaturesTable[];
} {
  const random = DemoRandom.stream(options.seed, 'templates');
  const now = options.now.getTime();
  const compliance = user('compliance');
  const templates: TemplatesTable[] = [];
  const signatures: ContentSignaturesTable[] = [];
  let sequence = 1;
  let code = 1;
  for (const market of DEMO_MARKETS) {
    for (const spec of TEMPLATE_SPECS) {
      for (const v of spec.versions) {
        const dates = reviewDates(random, v.status, now);
        const key = `${market.code.toLowerCase()}_${spec.key}`;
        const id = demoId('tpl', sequence++, random);
        const approved = wasApproved(v.status);
        const year = (dates.approved ?? dates.created).slice(0, 4);
        const tag = spec.brand ? spec.brand.slice(0, 3).toUpperCase() : 'GEN';
        templates.push({
          id,
          key,
          version: v.version,
          status: v.status,
          type: spec.type,
          classification: spec.classification,
          whatsapp_category: spec.classification === 'promotional' ? 'marketing' : 'utility',
          whatsapp_name: `${key}_v${v.version}`,
          whatsapp_language: market.whatsappLanguage,
          whatsapp_status:
            v.status === 'approved' || v.status === 'superseded'
              ? 'approved'
              : v.status === 'rejected'
                ? 'rejected'
                : v.status === 'expired' || v.status === 'withdrawn'
                  ? 'disabled'
                  : 'pending',
          market_code: market.code,
          language: market.languages[0] ?? 'en',
          brand: spec.brand,
          products_json: JSON.stringify(spec.brand ? [spec.brand] : []),
          tone_tags_json: '[]',
          body: spec.body[market.lang],
          parameters_json: JSON.stringify(spec.parameters),
          buttons_json: JSON.stringify(spec.buttons[market.lang]),
          approval_code: approved ? `${market.code}-${tag}-${year}-${String(code++).padStart(4, '0')}` : null,
          author_id: user(spec.classification === 'promotional' ? 'brand' : 'medical').id,
          approved_by: approved ? compliance.id : null,
          approved_at: dates.approved,
          expires_at: dates.expires,
          review_comment: v.reviewComment ?? null,
          lint_json: '[]',
          created_at: dates.created,
          updated_at: dates.updated,
        });
        if (approved && dates.approved)
          signatures.push({
            id: demoId('sig', signatures.length + 1, random),
            content_kind: 'template',
            content_id: id,
            signer_id: compliance.id,
            signer_name: compliance.name,
            signer_role: compliance.role,
            meaning: `approved for use in ${market.code}`,
            signed_at: dates.approved,
          });
      }
      // A version is superseded when its successor is approved: the same moment on both.
      const versions = templates.slice(-spec.versions.length);
      for (const [i, v] of versions.entries()) {
        const next = versions[i + 1];
        if (v.status === 'superseded' && next?.approved_at) v.updated_at = next.approved_at;
      }
    }
  }
  return { templates, signatures };
}

/** The asset library: per market and product, a prescribing information and the promotional pieces. */
export function assetRows(options: DemoWorldOptions): {
  assets: AssetsTable[];
  signatures: ContentSignaturesTable[];
} {
  const random = DemoRandom.stream(options.seed, 'assets');
  const now = options.now.getTime();
  const compliance = user('compliance');
  const assets: AssetsTable[] = [];
  const signatures: ContentSignaturesTable[] = [];
  let sequence = 1;
  let code = 1;
  for (const market of DEMO_MARKETS) {
    for (const product of DEMO_PRODUCTS) {
      for (const spec of ASSET_SPECS) {
        if (spec.brands && !spec.brands.includes(product.brand)) continue;
        spec.versions.forEach((status, i) => {
          const version = i + 1;
          const dates = reviewDates(random, status, now);
          const key = assetKey(market.code, product.brand, spec.suffix);
          const id = demoId('ast', sequence++, random);
          const approved = wasApproved(status);
          const extension = spec.kind === 'video' ? 'mp4' : 'pdf';
          const topics =
            spec.kind === 'prescribing_information'
              ? ['prescribing_information', 'safety']
              : product.topics.slice(0, 3);
          assets.push({
            id,
            key,
            version,
            title: `${product.brand} (${product.genericName}): ${spec.title}`,
            kind: spec.kind,
            status,
            url: `https://content.parley.test/${market.code.toLowerCase()}/${product.brand.toLowerCase()}/${spec.suffix}-v${version}.${extension}`,
            approval_code: approved
              ? `${market.code}-${product.brand.slice(0, 3).toUpperCase()}-${(dates.approved ?? '').slice(0, 4)}-A${String(code++).padStart(3, '0')}`
              : null,
            classification: spec.classification,
            market_code: market.code,
            brand: product.brand,
            products_json: JSON.stringify([product.brand]),
            topics_json: JSON.stringify(topics),
            author_id: user(spec.classification === 'promotional' ? 'brand' : 'medical').id,
            approved_by: approved ? compliance.id : null,
            approved_at: dates.approved,
            expires_at: dates.expires,
            review_comment: null,
            created_at: dates.created,
            updated_at: dates.updated,
          });
          if (approved && dates.approved)
            signatures.push({
              id: demoId('sig', 10_000 + signatures.length + 1, random),
              content_kind: 'asset',
              content_id: id,
              signer_id: compliance.id,
              signer_name: compliance.name,
              signer_role: compliance.role,
              meaning: `approved for use in ${market.code}`,
              signed_at: dates.approved,
            });
        });
      }
    }
  }
  return { assets, signatures };
}
