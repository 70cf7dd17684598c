import type {
  DecisionContext,
  DecisionRequest,
  DecisionTemplate,
  RecentMessage,
} from './decision-context.js';
import { DEFAULT_RULEBOOK_YAML } from './default-rulebook.js';
import { deepMerge, parseRulebook, type Rulebook } from './rulebook.js';
import type { RulesOverride } from './rulebook-schema.js';

/**
 * A small fixed scene for tests and the benchmark of `decide()`: Dra. Ana Souza in São Paulo, consented to
 * service, non-promotional and promotional WhatsApp and to service email; an approved confirmation template
 * for BR; rep1 assigned; Tuesday 3 March 2026, 11:00 in São Paulo (14:00 UTC).
 */
export const NOW = '2026-03-03T14:00:00.000Z';

export function shippedRulebook(global: RulesOverride = {}, version = 1): Rulebook {
  const parsed = parseRulebook(DEFAULT_RULEBOOK_YAML);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  const document = {
    ...parsed.document,
    global: deepMerge(parsed.document.global, global) as typeof parsed.document.global,
  };
  return { version, document };
}

export const SHIPPED = shippedRulebook();

export const CONFIRMATION: DecisionTemplate = {
  id: 'tpl_confirm_2',
  key: 'appointment_confirmation',
  version: 2,
  name: 'Appointment confirmation',
  status: 'approved',
  expiresAt: '2027-01-01T00:00:00.000Z',
  market: 'BR',
  language: 'pt-BR',
  type: 'confirmation',
  classification: 'non_promotional',
  whatsappCategory: 'utility',
  whatsappStatus: 'approved',
  parameters: [
    { name: 'doctor', type: 'hcp_name', maxLength: 60 },
    { name: 'day', type: 'date' },
    { name: 'hour', type: 'time' },
  ],
  products: [],
};

export const PROMO_TEMPLATE: DecisionTemplate = {
  ...CONFIRMATION,
  id: 'tpl_promo_1',
  key: 'cardiozen_launch',
  version: 1,
  name: 'Cardiozen launch',
  type: 'resource_link',
  classification: 'promotional',
  whatsappCategory: 'marketing',
  parameters: [{ name: 'link', type: 'asset_link' }],
  products: ['prd_cardiozen'],
};

export function baseRequest(over: Partial<DecisionRequest> = {}): DecisionRequest {
  return {
    repId: 'usr_rep1',
    hcpId: 'hcp_ana',
    templateId: CONFIRMATION.id,
    parameters: { day: '2026-03-10', hour: '09:30' },
    ...over,
  };
}

export function baseContext(over: Partial<DecisionContext> = {}): DecisionContext {
  return {
    now: NOW,
    rulebook: SHIPPED,
    hcp: {
      id: 'hcp_ana',
      name: 'Dra. Ana Souza',
      market: 'BR',
      language: 'pt-BR',
      timeZone: 'America/Sao_Paulo',
      hasWhatsappNumber: true,
      callingCode: '55',
      whatsappStatus: 'active',
      marketingStopped: false,
      assignedToRep: true,
    },
    market: {
      code: 'BR',
      timeZone: 'America/Sao_Paulo',
      weekendDays: [6, 7],
      holidays: ['2026-04-21', '2026-09-07'],
    },
    consent: {
      whatsapp: {
        service: { status: 'granted', since: '2026-01-10T10:00:00.000Z' },
        non_promotional: { status: 'granted', since: '2026-01-10T10:00:00.000Z' },
        promotional: { status: 'granted', since: '2026-01-10T10:00:00.000Z' },
        events: { status: 'granted', since: '2026-01-10T10:00:00.000Z' },
      },
      email: { service: { status: 'granted', since: '2026-01-10T10:00:00.000Z' } },
    },
    preferences: null,
    hcpMessages: [],
    repMessages: [],
    lastInboundAt: null,
    template: CONFIRMATION,
    assets: [
      {
        id: 'ast_leaflet',
        key: 'cardiozen_leaflet',
        title: 'Cardiozen patient leaflet',
        kind: 'leaflet',
        status: 'approved',
        expiresAt: '2027-01-01T00:00:00.000Z',
        url: 'https://content.example.com/cardiozen/leaflet',
        classification: 'non_promotional',
        products: ['prd_cardiozen'],
      },
      {
        id: 'ast_study',
        key: 'cardiozen_study',
        title: 'Cardiozen study summary',
        kind: 'study_summary',
        status: 'approved',
        expiresAt: null,
        url: 'https://content.example.com/cardiozen/study',
        classification: 'promotional',
        products: ['prd_cardiozen'],
      },
      {
        id: 'ast_pi',
        key: 'cardiozen_pi',
        title: 'Cardiozen prescribing information',
        kind: 'prescribing_information',
        status: 'approved',
        expiresAt: null,
        url: 'https://content.example.com/cardiozen/pi',
        classification: 'non_promotional',
        products: ['prd_cardiozen'],
      },
    ],
    products: [{ id: 'prd_cardiozen', name: 'Cardiozen', piAssetKey: 'cardiozen_pi' }],
    optInRequests: [],
    consentHold: null,
    ...over,
  };
}

/** A rep-initiated WhatsApp message to the scene's HCP. */
export function sent(at: string, over: Partial<RecentMessage> = {}): RecentMessage {
  return {
    repId: 'usr_rep2',
    hcpId: 'hcp_ana',
    at,
    status: 'delivered',
    templateKey: 'other_template',
    kind: 'rep',
    ...over,
  };
}
