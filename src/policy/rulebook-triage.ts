import type { TriageLanguage, TriageSignal } from '../assistant/index.js';
import type { Rules } from './rulebook-schema.js';

type Lexicons = Readonly<Record<string, Readonly<Record<TriageSignal, readonly string[]>>>>;

/**
 * First triage's lexicons with the rulebook's `triage` words added (language → signal → words). The
 * rulebook only adds: a market can widen the safety net, never narrow it, since a missed adverse event
 * costs a late report. A language the built-in tables lack gets a table of its own. Pure.
 */
export function triageLexiconsFor<L extends Lexicons>(
  base: L,
  rules: Pick<Rules, 'triage'>,
): Record<TriageLanguage | string, Record<TriageSignal, readonly string[]>> {
  const out: Record<string, Record<TriageSignal, readonly string[]>> = {};
  for (const [language, lexicon] of Object.entries(base)) out[language] = { ...lexicon };
  for (const [language, additions] of Object.entries(rules.triage)) {
    const lexicon = (out[language] ??= emptyLexicon());
    for (const [signal, words] of Object.entries(additions) as Array<[TriageSignal, readonly string[]]>)
      lexicon[signal] = [...new Set([...lexicon[signal], ...words.map((w) => w.trim()).filter(Boolean)])];
  }
  return out;
}

function emptyLexicon(): Record<TriageSignal, readonly string[]> {
  return {
    adverse_reaction: [],
    pregnancy_exposure: [],
    breastfeeding_exposure: [],
    overdose: [],
    medication_error: [],
    misuse: [],
    lack_of_efficacy: [],
    off_label_use: [],
    medical_question: [],
    product_complaint: [],
  };
}
