import type { ConsentKeywords, LanguageKeywords } from '../consent/index.js';
import type { Rules } from './rulebook-schema.js';

/**
 * The opt-out and opt-in words in force for a market: the built-in tables (consent's defaults, passed in)
 * with the rulebook's `keywords.opt_out` and `keywords.opt_in` words added, per primary language
 * (`pt-BR` and `pt` both add to `pt`). A single word is added as an opt-out word (it counts when it is
 * most of the reply); several words as an opt-out phrase (it counts wherever it appears). Opt-in words
 * are added as "yes" answers to an opt-in request. The rulebook only adds: withdrawing must never get
 * harder because a rulebook forgot a word. Pure.
 */
export function consentKeywordsFor(base: ConsentKeywords, rules: Pick<Rules, 'keywords'>): ConsentKeywords {
  const out: Record<string, LanguageKeywords> = { ...base };
  const add = (tag: string, change: (table: LanguageKeywords) => Partial<LanguageKeywords>) => {
    const language = tag.toLowerCase().split('-')[0] ?? tag;
    const table = out[language] ?? EMPTY;
    out[language] = { ...table, ...change(table) };
  };
  for (const [tag, words] of Object.entries(rules.keywords.opt_out))
    add(tag, (table) => ({
      optOutWords: unique([...table.optOutWords, ...words.filter((w) => !/\s/.test(w.trim()))]),
      optOutPhrases: unique([...table.optOutPhrases, ...words.filter((w) => /\s/.test(w.trim()))]),
    }));
  for (const [tag, words] of Object.entries(rules.keywords.opt_in))
    add(tag, (table) => ({ yesWords: unique([...table.yesWords, ...words]) }));
  return out;
}

const EMPTY: LanguageKeywords = {
  optOutWords: [],
  optOutPhrases: [],
  ambiguousAfterAppointment: [],
  yesWords: [],
  noWords: [],
  filler: [],
};

function unique(words: readonly string[]): string[] {
  return [...new Set(words.map((w) => w.trim()).filter(Boolean))];
}
