import {
  LEXICONS,
  type AdverseEventSignal,
  type TriageLanguage,
  type TriageSignal,
} from './triage-lexicons.js';

/**
 * First triage of inbound text: a pure function of the text and the known products. It never decides that
 * something is *not* an adverse event; it only raises flags for people (pharmacovigilance, medical
 * information, quality) with the clock already running. When in doubt it flags.
 */

export type CaseKind = 'adverse_event' | 'medical_inquiry' | 'complaint';
export type OwnerTeam = 'safety' | 'medical_information' | 'quality';

export const OWNER_TEAM: Record<CaseKind, OwnerTeam> = {
  adverse_event: 'safety',
  medical_inquiry: 'medical_information',
  complaint: 'quality',
};

export interface KnownProduct {
  /** The brand name as written in text. */
  name: string;
  genericName?: string | null;
}

export interface TriageFinding {
  kind: CaseKind;
  ownerTeam: OwnerTeam;
  /** Which signals fired, e.g. `pregnancy_exposure`, `medical_question`. */
  signals: TriageSignal[];
  /** The lexicon entries that matched, as `<language>:<entry>` (lexicon words, never the HCP's text). */
  matched: string[];
}

export interface TriageResult {
  findings: TriageFinding[];
  /** The first known product named in the text (its brand name), if any. */
  product: string | null;
}

/** Lower case, accents and punctuation removed, one space between words: the form lexicons are written in. */
export function normaliseForTriage(text: string): string {
  return text
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/['’`]/g, '')
    .replace(/[^\p{L}\p{N}?]+/gu, ' ')
    .trim();
}

interface CompiledEntry {
  signal: TriageSignal;
  /** The lexicon entry as written (`side effect*`). */
  entry: string;
  label: string;
  pattern: RegExp;
}

function compile(entry: string): RegExp {
  const words = entry.split(' ').map((w) => {
    const stem = w.endsWith('*');
    const escaped = (stem ? w.slice(0, -1) : w).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    return stem ? `${escaped}[\\p{L}\\p{N}]*` : escaped;
  });
  return new RegExp(`(?<![\\p{L}\\p{N}])${words.join(' ')}(?![\\p{L}\\p{N}])`, 'u');
}

const COMPILED: CompiledEntry[] = Object.entries(LEXICONS).flatMap(([language, lexicon]) =>
  Object.entries(lexicon).flatMap(([signal, entries]) =>
    entries.map((entry) => ({
      signal: signal as TriageSignal,
      entry,
      label: `${language as TriageLanguage}:${entry}`,
      pattern: compile(entry),
    })),
  ),
);

/**
 * Which entries could match a text, from its words alone: an entry can only match where its first word
 * does, since normalised text is words of letters and digits with one space between them. That is the
 * whole word for a plain first word, a word's start for a stem (`rash*`). Most texts (a call note, a
 * thank-you) then run a handful of the patterns instead of every one of them; the patterns still decide.
 */
const ENTRIES_BY_FIRST_WORD = new Map<string, number[]>();
/** Stems by their first letter: a word is compared only with the stems it could start with. */
const STEMS_BY_INITIAL = new Map<string, { stem: string; entries: number[] }[]>();
COMPILED.forEach(({ entry }, index) => {
  const first = entry.split(' ')[0]!;
  if (first.endsWith('*')) {
    const stem = first.slice(0, -1);
    const stems = STEMS_BY_INITIAL.get(stem.charAt(0)) ?? [];
    const known = stems.find((s) => s.stem === stem);
    if (known) known.entries.push(index);
    else stems.push({ stem, entries: [index] });
    STEMS_BY_INITIAL.set(stem.charAt(0), stems);
  } else ENTRIES_BY_FIRST_WORD.set(first, [...(ENTRIES_BY_FIRST_WORD.get(first) ?? []), index]);
});

/**
 * The entries (indexes into COMPILED, in its order) whose first word occurs in `plain`: a call note of a
 * dozen words looks up a dozen words, rather than every entry and stem of every lexicon.
 */
function candidateEntries(plain: string): number[] {
  const candidates = new Set<number>();
  for (const word of new Set(plain.split(' '))) {
    for (const i of ENTRIES_BY_FIRST_WORD.get(word) ?? []) candidates.add(i);
    for (const { stem, entries } of STEMS_BY_INITIAL.get(word.charAt(0)) ?? [])
      if (word.startsWith(stem)) for (const i of entries) candidates.add(i);
  }
  return [...candidates].sort((a, b) => a - b);
}

const ADVERSE_EVENT_SIGNALS: ReadonlySet<TriageSignal> = new Set<AdverseEventSignal>([
  'adverse_reaction',
  'pregnancy_exposure',
  'breastfeeding_exposure',
  'overdose',
  'medication_error',
  'misuse',
  'lack_of_efficacy',
  'off_label_use',
]);

const QUESTION_OPENERS =
  /^(can|could|is|are|does|do|what|how|should|puedo|puede|se puede|es|cual|como|posso|pode|qual|como|kya|kitni|kitna)\b/;

/**
 * Reads one inbound text and returns what it may be: at most one finding per case kind, each naming the
 * signals and lexicon entries that fired, plus the product named. An off-label mention is an adverse-event
 * special situation and, when asked as a question, a medical inquiry too.
 */
export function triageText(text: string, products: readonly KnownProduct[] = []): TriageResult {
  const normalised = normaliseForTriage(text);
  const byKind = new Map<CaseKind, { signals: Set<TriageSignal>; matched: Set<string> }>();
  const add = (kind: CaseKind, signal: TriageSignal, label: string) => {
    const entry = byKind.get(kind) ?? { signals: new Set(), matched: new Set() };
    entry.signals.add(signal);
    entry.matched.add(label);
    byKind.set(kind, entry);
  };
  const isQuestion = normalised.includes('?') || QUESTION_OPENERS.test(normalised);
  const plain = normalised.replace(/\?/g, ' ').replace(/ +/g, ' ');
  for (const i of candidateEntries(plain)) {
    const entry = COMPILED[i]!;
    if (!entry.pattern.test(plain)) continue;
    if (ADVERSE_EVENT_SIGNALS.has(entry.signal)) {
      add('adverse_event', entry.signal, entry.label);
      if (entry.signal === 'off_label_use' && isQuestion)
        add('medical_inquiry', 'medical_question', entry.label);
    } else if (entry.signal === 'medical_question') add('medical_inquiry', entry.signal, entry.label);
    else add('complaint', entry.signal, entry.label);
  }
  const order: CaseKind[] = ['adverse_event', 'medical_inquiry', 'complaint'];
  const findings = order.flatMap((kind) => {
    const hit = byKind.get(kind);
    return hit
      ? [{ kind, ownerTeam: OWNER_TEAM[kind], signals: [...hit.signals], matched: [...hit.matched] }]
      : [];
  });
  return { findings, product: namedProduct(plain, products) };
}

function namedProduct(normalised: string, products: readonly KnownProduct[]): string | null {
  for (const p of products) {
    for (const name of [p.name, p.genericName]) {
      const pattern = name ? productPattern(name) : null;
      if (pattern?.test(normalised)) return p.name;
    }
  }
  return null;
}

/**
 * A product name's pattern, compiled once: a market names the same few products in every text, and
 * compiling a Unicode-aware pattern costs more than testing it. Bounded, for a catalogue that keeps
 * changing in a long-running process.
 */
const productPatterns = new Map<string, RegExp | null>();
function productPattern(name: string): RegExp | null {
  let pattern = productPatterns.get(name);
  if (pattern === undefined) {
    const normalised = normaliseForTriage(name);
    pattern = normalised ? compile(normalised) : null;
    if (productPatterns.size >= 10_000) productPatterns.clear();
    productPatterns.set(name, pattern);
  }
  return pattern;
}
