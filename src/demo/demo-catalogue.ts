import type { Role } from '../identity/index.js';
import type { AssetsTable, TemplatesTable } from '../platform/database/index.js';

/**
 * The fixed reference data of the demo world: markets with their real time zones, weekends and public
 * holidays, territories, the demo users of CONTRACT.md, products (fictional brands, real generic
 * names), names and institutions to draw HCPs from, and the template and asset libraries as a
 * compliance officer would classify them. Data only; demo-world.ts turns it into rows.
 */

export type MarketCode = 'BR' | 'ES' | 'IN';
export type Lang = 'pt' | 'es' | 'en';

export interface DemoMarket {
  code: MarketCode;
  name: string;
  languages: string[];
  lang: Lang;
  timeZone: string;
  /** Standard UTC offset in minutes, for placing history in office hours without a time-zone library per row. */
  utcOffsetMinutes: number;
  weekendDays: number[];
  holidays: string[];
  legalRegime: string;
  dataResidency: string;
  /** Meta's code for the template language. */
  whatsappLanguage: string;
  /** The market's own sending number id; `null` means the configured default (WHATSAPP_PHONE_NUMBER_ID). */
  phoneNumberId: string | null;
  displayPhoneNumber: string;
  messagingLimit: number;
  countryCallingCode: string;
  /** Whether the market's legal review allows promotional WhatsApp (as the shipped rulebook says). */
  promotionalWhatsapp: boolean;
}

export const DEMO_MARKETS: readonly DemoMarket[] = [
  {
    code: 'BR',
    name: 'Brazil',
    languages: ['pt-BR'],
    lang: 'pt',
    timeZone: 'America/Sao_Paulo',
    utcOffsetMinutes: -180,
    weekendDays: [6, 7],
    // National holidays (Carnival, Good Friday and Corpus Christi move with Easter: 5 Apr 2026, 28 Mar 2027).
    holidays: [
      '2026-01-01',
      '2026-02-16',
      '2026-02-17',
      '2026-04-03',
      '2026-04-21',
      '2026-05-01',
      '2026-06-04',
      '2026-09-07',
      '2026-10-12',
      '2026-11-02',
      '2026-11-15',
      '2026-11-20',
      '2026-12-25',
      '2027-01-01',
      '2027-02-08',
      '2027-02-09',
      '2027-03-26',
      '2027-04-21',
      '2027-05-01',
      '2027-05-27',
      '2027-09-07',
      '2027-10-12',
      '2027-11-02',
      '2027-11-15',
      '2027-11-20',
      '2027-12-25',
    ],
    legalRegime: 'LGPD',
    dataResidency: 'BR',
    whatsappLanguage: 'pt_BR',
    phoneNumberId: null,
    displayPhoneNumber: '551140028922',
    messagingLimit: 10000,
    countryCallingCode: '55',
    promotionalWhatsapp: true,
  },
  {
    code: 'ES',
    name: 'Spain',
    languages: ['es-ES'],
    lang: 'es',
    timeZone: 'Europe/Madrid',
    utcOffsetMinutes: 60,
    weekendDays: [6, 7],
    holidays: [
      '2026-01-01',
      '2026-01-06',
      '2026-04-03',
      '2026-05-01',
      '2026-08-15',
      '2026-10-12',
      '2026-11-01',
      '2026-12-06',
      '2026-12-08',
      '2026-12-25',
      '2027-01-01',
      '2027-01-06',
      '2027-03-26',
      '2027-05-01',
      '2027-08-15',
      '2027-10-12',
      '2027-11-01',
      '2027-12-06',
      '2027-12-08',
      '2027-12-25',
    ],
    legalRegime: 'GDPR',
    dataResidency: 'EU',
    whatsappLanguage: 'es_ES',
    phoneNumberId: '106540352242923',
    displayPhoneNumber: '34910000123',
    messagingLimit: 1000,
    countryCallingCode: '34',
    promotionalWhatsapp: false,
  },
  {
    code: 'IN',
    name: 'India',
    languages: ['en-IN', 'hi-IN'],
    lang: 'en',
    timeZone: 'Asia/Kolkata',
    utcOffsetMinutes: 330,
    weekendDays: [7],
    // Gazetted holidays: Republic Day, Holi, Independence Day, Gandhi Jayanti, Diwali, Christmas.
    holidays: [
      '2026-01-26',
      '2026-03-04',
      '2026-08-15',
      '2026-10-02',
      '2026-11-08',
      '2026-12-25',
      '2027-01-26',
      '2027-03-22',
      '2027-08-15',
      '2027-10-02',
      '2027-10-29',
      '2027-12-25',
    ],
    legalRegime: 'DPDP',
    dataResidency: 'IN',
    whatsappLanguage: 'en',
    phoneNumberId: '106540352242924',
    displayPhoneNumber: '912240001234',
    messagingLimit: 1000,
    countryCallingCode: '91',
    promotionalWhatsapp: false,
  },
];

export interface DemoTerritory {
  id: string;
  name: string;
  market: MarketCode;
  /** The national number's leading digits before the generated part (area code and mobile prefix). */
  numberPrefix: string;
  /** Digits generated after the prefix. */
  numberDigits: number;
  city: string;
}

export const DEMO_TERRITORIES: readonly DemoTerritory[] = [
  {
    id: 'ter_br_sp_centro',
    name: 'São Paulo Centro',
    market: 'BR',
    numberPrefix: '119',
    numberDigits: 8,
    city: 'São Paulo',
  },
  {
    id: 'ter_br_rj_sul',
    name: 'Rio de Janeiro Sul',
    market: 'BR',
    numberPrefix: '219',
    numberDigits: 8,
    city: 'Rio de Janeiro',
  },
  {
    id: 'ter_es_madrid',
    name: 'Madrid Norte',
    market: 'ES',
    numberPrefix: '6',
    numberDigits: 8,
    city: 'Madrid',
  },
  {
    id: 'ter_es_barcelona',
    name: 'Barcelona',
    market: 'ES',
    numberPrefix: '6',
    numberDigits: 8,
    city: 'Barcelona',
  },
  {
    id: 'ter_in_mumbai',
    name: 'Mumbai West',
    market: 'IN',
    numberPrefix: '9',
    numberDigits: 9,
    city: 'Mumbai',
  },
  { id: 'ter_in_delhi', name: 'Delhi NCR', market: 'IN', numberPrefix: '8', numberDigits: 9, city: 'Delhi' },
];

/** Half the HCPs in Brazil, a quarter each in Spain and India; HCP i works in TERRITORY_CYCLE[i % 8]. */
export const TERRITORY_CYCLE: readonly string[] = [
  'ter_br_sp_centro',
  'ter_br_rj_sul',
  'ter_es_madrid',
  'ter_in_mumbai',
  'ter_br_sp_centro',
  'ter_br_rj_sul',
  'ter_es_barcelona',
  'ter_in_delhi',
];

export type DemoUserKey =
  | 'admin'
  | 'compliance'
  | 'brand'
  | 'medical'
  | 'digital'
  | 'manager'
  | 'msl'
  | 'pv'
  | 'rep1'
  | 'rep2'
  | 'rep3'
  | 'rep4';

export interface DemoUser {
  key: DemoUserKey;
  id: string;
  email: string;
  name: string;
  role: Role;
  markets: MarketCode[];
  territories: string[];
  manager: DemoUserKey | null;
}

const ALL: MarketCode[] = ['BR', 'ES', 'IN'];

/** CONTRACT.md's demo users (rep1 and rep2 in different BR territories, led by manager), plus a rep for ES and IN. */
export const DEMO_USERS: readonly DemoUser[] = [
  {
    key: 'admin',
    id: 'usr_demo_admin',
    email: 'admin@parley.test',
    name: 'Alex Moreira',
    role: 'admin',
    markets: ALL,
    territories: [],
    manager: null,
  },
  {
    key: 'compliance',
    id: 'usr_demo_compliance',
    email: 'compliance@parley.test',
    name: 'Carmen Ortiz',
    role: 'compliance',
    markets: ALL,
    territories: [],
    manager: null,
  },
  {
    key: 'brand',
    id: 'usr_demo_brand',
    email: 'brand@parley.test',
    name: 'Bruno Teixeira',
    role: 'brand',
    markets: ['BR', 'ES'],
    territories: [],
    manager: null,
  },
  {
    key: 'medical',
    id: 'usr_demo_medical',
    email: 'medical@parley.test',
    name: 'Júlia Rocha',
    role: 'medical',
    markets: ALL,
    territories: [],
    manager: null,
  },
  {
    key: 'digital',
    id: 'usr_demo_digital',
    email: 'digital@parley.test',
    name: 'Diego Martins',
    role: 'digital',
    markets: ALL,
    territories: [],
    manager: null,
  },
  {
    key: 'manager',
    id: 'usr_demo_manager',
    email: 'manager@parley.test',
    name: 'Paulo Santos',
    role: 'manager',
    markets: ['BR'],
    territories: [],
    manager: null,
  },
  {
    key: 'msl',
    id: 'usr_demo_msl',
    email: 'msl@parley.test',
    name: 'Helena Prado',
    role: 'msl',
    markets: ['BR'],
    territories: [],
    manager: null,
  },
  {
    key: 'pv',
    id: 'usr_demo_pv',
    email: 'pv@parley.test',
    name: 'Sofia Lima',
    role: 'pv',
    markets: ALL,
    territories: [],
    manager: null,
  },
  {
    key: 'rep1',
    id: 'usr_demo_rep1',
    email: 'rep1@parley.test',
    name: 'Marina Costa',
    role: 'rep',
    markets: ['BR'],
    territories: ['ter_br_sp_centro'],
    manager: 'manager',
  },
  {
    key: 'rep2',
    id: 'usr_demo_rep2',
    email: 'rep2@parley.test',
    name: 'Rafael Almeida',
    role: 'rep',
    markets: ['BR'],
    territories: ['ter_br_rj_sul'],
    manager: 'manager',
  },
  {
    key: 'rep3',
    id: 'usr_demo_rep3',
    email: 'rep3@parley.test',
    name: 'Lucía Fernández',
    role: 'rep',
    markets: ['ES'],
    territories: ['ter_es_madrid', 'ter_es_barcelona'],
    manager: null,
  },
  {
    key: 'rep4',
    id: 'usr_demo_rep4',
    email: 'rep4@parley.test',
    name: 'Arjun Mehta',
    role: 'rep',
    markets: ['IN'],
    territories: ['ter_in_mumbai', 'ter_in_delhi'],
    manager: null,
  },
];

export interface DemoProduct {
  brand: string;
  genericName: string;
  approvedIndications: string[];
  topics: string[];
}

/** The same four (fictional) brands in every market, each with its approved indications. */
export const DEMO_PRODUCTS: readonly DemoProduct[] = [
  {
    brand: 'Cardalis',
    genericName: 'valsartan',
    approvedIndications: ['hypertension', 'heart failure (NYHA class II-IV)', 'after myocardial infarction'],
    topics: ['hypertension', 'heart_failure', 'dosing', 'efficacy'],
  },
  {
    brand: 'Glucora',
    genericName: 'empagliflozin',
    approvedIndications: ['type 2 diabetes mellitus', 'chronic heart failure', 'chronic kidney disease'],
    topics: ['diabetes', 'renal', 'heart_failure', 'dosing', 'safety'],
  },
  {
    brand: 'Respiva',
    genericName: 'tiotropium',
    approvedIndications: ['COPD maintenance treatment', 'asthma add-on maintenance in adults'],
    topics: ['copd', 'asthma', 'inhaler_technique', 'dosing'],
  },
  {
    brand: 'Onkavia',
    genericName: 'pembrolizumab',
    approvedIndications: ['advanced melanoma', 'metastatic non-small cell lung cancer (PD-L1 positive)'],
    topics: ['oncology', 'biomarkers', 'safety', 'patient_access'],
  },
];

export const SPECIALTIES: readonly (readonly [string, number])[] = [
  ['Cardiology', 5],
  ['Endocrinology', 4],
  ['Internal Medicine', 4],
  ['General Practice', 5],
  ['Pulmonology', 3],
  ['Nephrology', 2],
  ['Oncology', 2],
];

export const NAMES: Record<
  MarketCode,
  { female: readonly string[]; male: readonly string[]; last: readonly string[]; titles: [string, string] }
> = {
  BR: {
    female: [
      'Ana',
      'Beatriz',
      'Camila',
      'Fernanda',
      'Juliana',
      'Larissa',
      'Mariana',
      'Patrícia',
      'Renata',
      'Tatiana',
      'Luciana',
      'Gabriela',
    ],
    male: [
      'André',
      'Bruno',
      'Carlos',
      'Eduardo',
      'Felipe',
      'Gustavo',
      'João',
      'Marcelo',
      'Paulo',
      'Ricardo',
      'Thiago',
      'Rodrigo',
    ],
    last: [
      'Silva',
      'Souza',
      'Oliveira',
      'Santos',
      'Lima',
      'Pereira',
      'Carvalho',
      'Ferreira',
      'Ribeiro',
      'Almeida',
      'Gomes',
      'Martins',
      'Araújo',
      'Barbosa',
      'Cardoso',
      'Mendes',
      'Nascimento',
      'Rocha',
    ],
    titles: ['Dra.', 'Dr.'],
  },
  ES: {
    female: ['María', 'Lucía', 'Carmen', 'Laura', 'Marta', 'Elena', 'Paula', 'Sara', 'Cristina', 'Raquel'],
    male: [
      'Javier',
      'Alejandro',
      'Daniel',
      'David',
      'Pablo',
      'Sergio',
      'Jorge',
      'Manuel',
      'Álvaro',
      'Miguel',
    ],
    last: [
      'García',
      'Fernández',
      'González',
      'Rodríguez',
      'López',
      'Martínez',
      'Sánchez',
      'Pérez',
      'Gómez',
      'Ruiz',
      'Díaz',
      'Moreno',
      'Muñoz',
      'Álvarez',
      'Romero',
      'Navarro',
    ],
    titles: ['Dra.', 'Dr.'],
  },
  IN: {
    female: ['Priya', 'Ananya', 'Kavya', 'Neha', 'Pooja', 'Sneha', 'Divya', 'Meera', 'Aishwarya', 'Ritu'],
    male: ['Rahul', 'Amit', 'Vikram', 'Sanjay', 'Arjun', 'Rohan', 'Karan', 'Suresh', 'Anil', 'Nikhil'],
    last: [
      'Sharma',
      'Verma',
      'Gupta',
      'Iyer',
      'Nair',
      'Reddy',
      'Patel',
      'Mehta',
      'Joshi',
      'Rao',
      'Kulkarni',
      'Banerjee',
      'Chatterjee',
      'Singh',
      'Menon',
      'Desai',
    ],
    titles: ['Dr.', 'Dr.'],
  },
};

export const INSTITUTIONS: Record<string, readonly string[]> = {
  'São Paulo': [
    'Hospital Santa Clara',
    'Clínica Paulista de Cardiologia',
    'Hospital São Lucas',
    'Centro Médico Vila Mariana',
    'UBS Consolação',
  ],
  'Rio de Janeiro': [
    'Hospital Copacabana',
    'Clínica Botafogo',
    'Instituto do Coração Carioca',
    'Policlínica Tijuca',
  ],
  Madrid: [
    'Hospital Universitario La Paz Norte',
    'Clínica Chamartín',
    'Centro de Salud Tetuán',
    'Hospital San Rafael',
  ],
  Barcelona: ['Hospital del Mar Nord', 'Centre Mèdic Eixample', 'Clínica Sant Gervasi', 'CAP Gràcia'],
  Mumbai: [
    'Lilavati Care Centre',
    'Andheri Heart Clinic',
    'Bandra Diabetes Centre',
    'Western Suburbs Hospital',
  ],
  Delhi: [
    'Saket City Hospital',
    'Dwarka Chest Clinic',
    'Gurugram Metabolic Centre',
    'South Delhi Cancer Institute',
  ],
};

export type ParameterType = 'hcp_name' | 'date' | 'time' | 'venue' | 'asset_link' | 'text';

export interface DemoTemplateVersion {
  version: number;
  status: TemplatesTable['status'];
  reviewComment?: string;
}

export interface DemoTemplateSpec {
  /** Key without the market, e.g. `visit_reminder`; stored as `<market>_<key>` (lower case). */
  key: string;
  type: TemplatesTable['type'];
  classification: TemplatesTable['classification'];
  brand: string | null;
  parameters: { name: string; type: ParameterType; maxLength?: number }[];
  body: Record<Lang, string>;
  buttons: Record<Lang, string[]>;
  versions: DemoTemplateVersion[];
}

const none: Record<Lang, string[]> = { pt: [], es: [], en: [] };

/**
 * The template library, per market. Logistics, confirmations, reminders, service and consent requests are
 * non-promotional (Meta: utility); product recaps, links to product material and brand symposia are
 * promotional (Meta: marketing). Placeholders are `{{name}}` of a declared parameter.
 */
export const TEMPLATE_SPECS: readonly DemoTemplateSpec[] = [
  {
    key: 'visit_reminder',
    type: 'reminder',
    classification: 'non_promotional',
    brand: null,
    parameters: [
      { name: 'hcp_name', type: 'hcp_name' },
      { name: 'date', type: 'date' },
      { name: 'time', type: 'time' },
    ],
    body: {
      pt: 'Olá, {{hcp_name}}. Lembrete da nossa visita em {{date}} às {{time}}. Até lá!',
      es: 'Hola, {{hcp_name}}. Le recuerdo nuestra visita el {{date}} a las {{time}}. ¡Hasta entonces!',
      en: 'Hello {{hcp_name}}, a reminder of our visit on {{date}} at {{time}}. See you then.',
    },
    buttons: none,
    versions: [
      { version: 1, status: 'superseded' },
      { version: 2, status: 'approved' },
    ],
  },
  {
    key: 'meeting_confirmation',
    type: 'confirmation',
    classification: 'non_promotional',
    brand: null,
    parameters: [
      { name: 'hcp_name', type: 'hcp_name' },
      { name: 'date', type: 'date' },
      { name: 'time', type: 'time' },
      { name: 'venue', type: 'venue', maxLength: 80 },
    ],
    body: {
      pt: '{{hcp_name}}, nossa reunião está confirmada para {{date}} às {{time}} em {{venue}}.',
      es: '{{hcp_name}}, nuestra reunión queda confirmada para el {{date}} a las {{time}} en {{venue}}.',
      en: '{{hcp_name}}, our meeting is confirmed for {{date}} at {{time}} at {{venue}}.',
    },
    buttons: {
      pt: ['Confirmar', 'Reagendar'],
      es: ['Confirmar', 'Cambiar cita'],
      en: ['Confirm', 'Reschedule'],
    },
    versions: [{ version: 1, status: 'approved' }],
  },
  {
    key: 'call_follow_up',
    type: 'follow_up',
    classification: 'non_promotional',
    brand: null,
    parameters: [],
    body: {
      pt: 'Obrigada pela conversa de hoje. Fico à disposição para o que precisar.',
      es: 'Gracias por la conversación de hoy. Quedo a su disposición para lo que necesite.',
      en: 'Thank you for your time today. I remain at your disposal for anything you need.',
    },
    buttons: none,
    versions: [{ version: 1, status: 'approved' }],
  },
  {
    key: 'whatsapp_opt_in',
    type: 'opt_in_request',
    classification: 'non_promotional',
    brand: null,
    parameters: [{ name: 'hcp_name', type: 'hcp_name' }],
    body: {
      pt: '{{hcp_name}}, podemos enviar por aqui lembretes de visitas e materiais aprovados? Responda SIM para aceitar ou PARAR a qualquer momento.',
      es: '{{hcp_name}}, ¿podemos enviarle por aquí recordatorios de visitas y materiales aprobados? Responda SÍ para aceptar o BAJA en cualquier momento.',
      en: '{{hcp_name}}, may we send you visit reminders and approved materials here? Reply YES to agree, or STOP at any time.',
    },
    buttons: { pt: ['Sim', 'Não'], es: ['Sí', 'No'], en: ['Yes', 'No'] },
    versions: [{ version: 1, status: 'approved' }],
  },
  {
    // Sent once, by Parley itself, after an HCP opts out (src/messaging/consent-follow-ups.ts).
    key: 'optout_confirmation',
    type: 'service',
    classification: 'non_promotional',
    brand: null,
    parameters: [],
    body: {
      pt: 'Confirmado: você não receberá mais mensagens nossas pelo WhatsApp. Se mudar de ideia, fale com seu representante.',
      es: 'Confirmado: no recibirá más mensajes nuestros por WhatsApp. Si cambia de opinión, hable con su representante.',
      en: 'Confirmed: you will receive no more messages from us on WhatsApp. If you change your mind, tell your representative.',
    },
    buttons: none,
    versions: [{ version: 1, status: 'approved' }],
  },
  {
    // Sent once after an HCP opts in: what to expect, and how to stop.
    key: 'optin_welcome',
    type: 'service',
    classification: 'non_promotional',
    brand: null,
    parameters: [],
    body: {
      pt: 'Obrigado! Por aqui você receberá lembretes de visitas e materiais aprovados, no máximo duas mensagens por semana. Responda PARAR a qualquer momento.',
      es: '¡Gracias! Por aquí recibirá recordatorios de visitas y materiales aprobados, como máximo dos mensajes por semana. Responda BAJA en cualquier momento.',
      en: 'Thank you! Here you will receive visit reminders and approved materials, at most two messages a week. Reply STOP at any time.',
    },
    buttons: none,
    versions: [{ version: 1, status: 'approved' }],
  },
  {
    key: 'sample_request_received',
    type: 'service',
    classification: 'non_promotional',
    brand: null,
    parameters: [{ name: 'date', type: 'date' }],
    body: {
      pt: 'Recebemos sua solicitação. A entrega está prevista para {{date}}.',
      es: 'Hemos recibido su solicitud. La entrega está prevista para el {{date}}.',
      en: 'We have received your request. Delivery is planned for {{date}}.',
    },
    buttons: none,
    versions: [{ version: 1, status: 'approved' }],
  },
  {
    key: 'glucora_visit_recap',
    type: 'recap',
    classification: 'promotional',
    brand: 'Glucora',
    parameters: [
      { name: 'hcp_name', type: 'hcp_name' },
      { name: 'topic', type: 'text', maxLength: 120 },
    ],
    body: {
      pt: '{{hcp_name}}, como conversamos hoje sobre Glucora (empagliflozina): {{topic}}. Consulte a bula para informações completas.',
      es: '{{hcp_name}}, como hablamos hoy sobre Glucora (empagliflozina): {{topic}}. Consulte la ficha técnica para la información completa.',
      en: '{{hcp_name}}, as discussed today about Glucora (empagliflozin): {{topic}}. Please see the prescribing information for full details.',
    },
    buttons: none,
    versions: [{ version: 1, status: 'approved' }],
  },
  {
    key: 'glucora_resource_link',
    type: 'resource_link',
    classification: 'promotional',
    brand: 'Glucora',
    parameters: [
      { name: 'hcp_name', type: 'hcp_name' },
      { name: 'link', type: 'asset_link' },
    ],
    body: {
      pt: '{{hcp_name}}, segue o material aprovado sobre Glucora: {{link}}',
      es: '{{hcp_name}}, le envío el material aprobado sobre Glucora: {{link}}',
      en: '{{hcp_name}}, here is the approved material on Glucora: {{link}}',
    },
    buttons: none,
    versions: [{ version: 1, status: 'approved' }],
  },
  {
    key: 'cardalis_resource_link',
    type: 'resource_link',
    classification: 'promotional',
    brand: 'Cardalis',
    parameters: [
      { name: 'hcp_name', type: 'hcp_name' },
      { name: 'link', type: 'asset_link' },
    ],
    body: {
      pt: '{{hcp_name}}, segue o material aprovado sobre Cardalis (valsartana): {{link}}',
      es: '{{hcp_name}}, le envío el material aprobado sobre Cardalis (valsartán): {{link}}',
      en: '{{hcp_name}}, here is the approved material on Cardalis (valsartan): {{link}}',
    },
    buttons: none,
    versions: [
      { version: 1, status: 'approved' },
      { version: 2, status: 'in_review' },
    ],
  },
  {
    key: 'cardalis_symposium_invite',
    type: 'event_invite',
    classification: 'promotional',
    brand: 'Cardalis',
    parameters: [
      { name: 'hcp_name', type: 'hcp_name' },
      { name: 'date', type: 'date' },
      { name: 'venue', type: 'venue', maxLength: 80 },
    ],
    body: {
      pt: '{{hcp_name}}, convidamos para o simpósio Cardalis em hipertensão, {{date}}, {{venue}}. Posso reservar sua vaga?',
      es: '{{hcp_name}}, le invitamos al simposio Cardalis sobre hipertensión, el {{date}} en {{venue}}. ¿Le reservo plaza?',
      en: '{{hcp_name}}, you are invited to the Cardalis symposium on hypertension, {{date}} at {{venue}}. Shall I save you a seat?',
    },
    buttons: {
      pt: ['Sim, quero', 'Não posso'],
      es: ['Sí, me apunto', 'No puedo'],
      en: ['Yes, please', 'Cannot attend'],
    },
    versions: [{ version: 1, status: 'approved' }],
  },
  {
    key: 'respiva_visit_recap',
    type: 'recap',
    classification: 'promotional',
    brand: 'Respiva',
    parameters: [
      { name: 'hcp_name', type: 'hcp_name' },
      { name: 'topic', type: 'text', maxLength: 120 },
    ],
    body: {
      pt: '{{hcp_name}}, resumo da nossa conversa sobre Respiva (tiotrópio): {{topic}}.',
      es: '{{hcp_name}}, resumen de nuestra conversación sobre Respiva (tiotropio): {{topic}}.',
      en: '{{hcp_name}}, a summary of our conversation on Respiva (tiotropium): {{topic}}.',
    },
    buttons: none,
    versions: [{ version: 1, status: 'draft' }],
  },
  {
    key: 'onkavia_visit_recap',
    type: 'recap',
    classification: 'promotional',
    brand: 'Onkavia',
    parameters: [{ name: 'hcp_name', type: 'hcp_name' }],
    body: {
      pt: '{{hcp_name}}, Onkavia é a melhor escolha para todos os seus pacientes com câncer.',
      es: '{{hcp_name}}, Onkavia es la mejor opción para todos sus pacientes con cáncer.',
      en: '{{hcp_name}}, Onkavia is the best choice for all your cancer patients.',
    },
    buttons: none,
    versions: [
      {
        version: 1,
        status: 'rejected',
        reviewComment: 'Superlative claim beyond the approved indications; no fair balance.',
      },
    ],
  },
  {
    key: 'congress_invite_2025',
    type: 'event_invite',
    classification: 'non_promotional',
    brand: null,
    parameters: [
      { name: 'hcp_name', type: 'hcp_name' },
      { name: 'date', type: 'date' },
    ],
    body: {
      pt: '{{hcp_name}}, convite para o congresso científico anual em {{date}}. Inscrições pelo link da sociedade.',
      es: '{{hcp_name}}, invitación al congreso científico anual el {{date}}. Inscripciones en la web de la sociedad.',
      en: '{{hcp_name}}, an invitation to the annual scientific congress on {{date}}. Registration is on the society website.',
    },
    buttons: none,
    versions: [{ version: 1, status: 'expired' }],
  },
  {
    key: 'visit_follow_up_offer',
    type: 'follow_up',
    classification: 'non_promotional',
    brand: null,
    parameters: [
      { name: 'hcp_name', type: 'hcp_name' },
      { name: 'note', type: 'text', maxLength: 200 },
    ],
    body: {
      pt: '{{hcp_name}}, sobre a sua pergunta: {{note}}',
      es: '{{hcp_name}}, sobre su pregunta: {{note}}',
      en: '{{hcp_name}}, about your question: {{note}}',
    },
    buttons: none,
    versions: [
      {
        version: 1,
        status: 'withdrawn',
        reviewComment: 'Free-text answers to HCP questions go to medical information, not through a rep.',
      },
    ],
  },
];

export interface DemoAssetSpec {
  /** Key suffix; stored as `<market>-<brand>-<suffix>` (lower case). */
  suffix: string;
  kind: AssetsTable['kind'];
  classification: AssetsTable['classification'];
  title: string;
  /** Status per version, oldest first. */
  versions: AssetsTable['status'][];
  /** Only for these brands; every brand when absent. */
  brands?: string[];
}

/** Every product has a prescribing-information asset; promotional pieces come in approved and expired versions. */
export const ASSET_SPECS: readonly DemoAssetSpec[] = [
  {
    suffix: 'pi',
    kind: 'prescribing_information',
    classification: 'non_promotional',
    title: 'Prescribing information',
    versions: ['superseded', 'approved'],
  },
  {
    suffix: 'leaflet',
    kind: 'leaflet',
    classification: 'promotional',
    title: 'Product leaflet',
    versions: ['expired', 'approved'],
  },
  {
    suffix: 'study-summary',
    kind: 'study_summary',
    classification: 'promotional',
    title: 'Pivotal study summary',
    versions: ['approved'],
  },
  {
    suffix: 'dosing-guide',
    kind: 'dosing_guide',
    classification: 'promotional',
    title: 'Dosing guide',
    versions: ['expired'],
    brands: ['Glucora'],
  },
  {
    suffix: 'dosing-guide',
    kind: 'dosing_guide',
    classification: 'promotional',
    title: 'Dosing guide',
    versions: ['approved', 'in_review'],
    brands: ['Cardalis', 'Respiva'],
  },
  {
    suffix: 'mode-of-action',
    kind: 'video',
    classification: 'promotional',
    title: 'Mode of action (video)',
    versions: ['approved'],
    brands: ['Cardalis', 'Onkavia'],
  },
  {
    suffix: 'inhaler-technique',
    kind: 'video',
    classification: 'non_promotional',
    title: 'Inhaler technique (video)',
    versions: ['draft'],
    brands: ['Respiva'],
  },
];
