import { isOptOutLabel } from '../consent/index.js';
import type { Classification, LintFlag, TemplateParameter, WhatsappCategory } from './content-model.js';

/**
 * Tone lint: the checks run when a template is submitted for review. Each rule is a flag the reviewer
 * sees on the template (`lint`); none blocks submission, because the judgement is MLR's. Pure: the
 * template and the market's tone rules in, flags out.
 *
 * The word lists below are Parley's defaults per language; whether emoji, abbreviations and slang are
 * forbidden comes from the market's rulebook (`tone`), see `toneRulesFrom`. Quick-reply labels are also read
 * with the consent capability's own opt-out reader, so the lint and the inbound reader never disagree.
 */

export interface ToneRules {
  forbidEmoji: boolean;
  forbidAbbreviations: boolean;
  forbidSlang: boolean;
  /** Text-message abbreviations ("vc", "pls"), per base language ("pt", "es", "en"). */
  abbreviations: Readonly<Record<string, readonly string[]>>;
  slang: Readonly<Record<string, readonly string[]>>;
  /** Words that make a sentence a promotional claim ("eficaz", "proven", "superior"). */
  claimWords: Readonly<Record<string, readonly string[]>>;
  /** Words an HCP uses to opt out ("SAIR", "STOP"): an instruction in the body, never a button label. */
  optOutWords: Readonly<Record<string, readonly string[]>>;
}

export interface LintableTemplate {
  body: string;
  buttons: readonly string[];
  classification: Classification;
  whatsappCategory: WhatsappCategory;
  language: string;
  parameters: readonly TemplateParameter[];
}

export const DEFAULT_TONE_RULES: ToneRules = {
  forbidEmoji: true,
  forbidAbbreviations: true,
  forbidSlang: true,
  abbreviations: {
    pt: ['vc', 'vcs', 'pq', 'tb', 'tbm', 'qdo', 'msg', 'obg', 'blz', 'td', 'hj', 'dps', 'q'],
    es: ['xq', 'pq', 'tb', 'tmb', 'q', 'msj', 'porfa', 'xfa', 'dnd', 'bss'],
    en: ['u', 'ur', 'pls', 'plz', 'thx', 'asap', 'btw', 'fyi', 'msg', 'tmrw', 'b4'],
  },
  slang: {
    pt: ['kkk', 'rs', 'vlw', 'valeu', 'tmj', 'massa', 'galera', 'mano'],
    es: ['jaja', 'guay', 'chido', 'mola', 'tío', 'bacán', 'chévere', 'vale tío'],
    en: ['lol', 'gonna', 'wanna', 'awesome', 'cool', 'hey guys', 'yay', 'omg', 'kinda'],
  },
  claimWords: {
    pt: [
      'eficaz',
      'eficácia',
      'superior',
      'melhor',
      'reduz',
      'comprovado',
      'comprovada',
      'seguro',
      'primeiro e único',
      'mais rápido',
    ],
    es: [
      'eficaz',
      'eficacia',
      'superior',
      'mejor',
      'reduce',
      'demostrado',
      'demostrada',
      'seguro',
      'primero y único',
      'más rápido',
    ],
    en: [
      'effective',
      'efficacy',
      'superior',
      'best',
      'reduces',
      'proven',
      'safe',
      'first and only',
      'faster',
    ],
  },
  optOutWords: {
    pt: ['sair', 'parar', 'pare', 'cancelar', 'descadastrar', 'stop'],
    es: ['baja', 'parar', 'cancelar', 'salir', 'stop'],
    en: ['stop', 'unsubscribe', 'opt out', 'opt-out', 'cancel'],
  },
};

/**
 * The tone rules for a market from its rulebook's `tone` section, where `true` means the thing is allowed
 * (`emoji: true` in BR); absent, everything is forbidden.
 */
export function toneRulesFrom(tone?: { emoji: boolean; abbreviations: boolean; slang: boolean }): ToneRules {
  if (!tone) return DEFAULT_TONE_RULES;
  return {
    ...DEFAULT_TONE_RULES,
    forbidEmoji: !tone.emoji,
    forbidAbbreviations: !tone.abbreviations,
    forbidSlang: !tone.slang,
  };
}

// Pictographic symbols, regional-indicator pairs (flags) and keycaps ("1️⃣").
const EMOJI = /\p{Extended_Pictographic}|[\u{1F1E6}-\u{1F1FF}]|[0-9#*]\u{FE0F}?\u{20E3}/gu;

/** "pt-BR" → "pt": word lists are kept per base language. */
function baseLanguage(language: string): string {
  return language.toLowerCase().split(/[-_]/)[0] ?? language.toLowerCase();
}

/** Lower case without accents, so "Eficácia" and "eficacia" are the same word to a list. */
function fold(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** The entries of `words` present in `text` as whole words (or whole phrases), in list order. */
function wordsIn(text: string, words: readonly string[]): string[] {
  // Placeholders are not the author's wording: `{{hcp_name}}` must not match anything.
  const folded = ` ${fold(text.replace(/\{\{[^}]*\}\}/g, ' '))
    .replace(/[^\p{L}\p{N}%-]+/gu, ' ')
    .trim()} `;
  return words.filter((w) => folded.includes(` ${fold(w).replace(/[^\p{L}\p{N}%-]+/gu, ' ')} `));
}

// Trademark signs are pictographic to Unicode but are how brand names are written (Cardiozen®).
const TRADEMARK_SIGNS = new Set(['\u00A9', '\u00AE', '\u2122']);

function emojiIn(text: string): string[] {
  return [...new Set(text.match(EMOJI) ?? [])].filter((c) => !TRADEMARK_SIGNS.has(c));
}

/** Numbers with a percent sign read as a quantified claim ("reduces LDL by 50%"). */
const PERCENT_CLAIM = /\d+(?:[.,]\d+)?\s?%/;

/**
 * Lints a template against its market's tone rules. Rules, each one flag:
 * - `emoji`: an emoji in the body or a button, where the market forbids them;
 * - `abbreviation`, `slang`: text-speak or casual words from the language's lists, where forbidden;
 * - `claim_without_pi`: a promotional template making a claim (claim words, or a percentage) without an
 *   `asset_link` parameter pinned to the prescribing information;
 * - `missing_opt_out`: a marketing-category template whose body gives no opt-out instruction;
 * - `opt_out_button`: a quick-reply label that reads as an opt-out word (a tap would be taken as one).
 */
export function lintTemplate(template: LintableTemplate, rules: ToneRules): LintFlag[] {
  const flags: LintFlag[] = [];
  const lang = baseLanguage(template.language);
  const allText = [template.body, ...template.buttons].join('\n');

  if (rules.forbidEmoji) {
    const found = emojiIn(allText);
    if (found.length > 0)
      flags.push({ rule: 'emoji', message: 'Emoji are not allowed in this market’s messages.', found });
  }
  if (rules.forbidAbbreviations) {
    const found = wordsIn(allText, rules.abbreviations[lang] ?? []);
    if (found.length > 0)
      flags.push({
        rule: 'abbreviation',
        message: 'Text-message abbreviations are not allowed; write the words out.',
        found,
      });
  }
  if (rules.forbidSlang) {
    const found = wordsIn(allText, rules.slang[lang] ?? []);
    if (found.length > 0)
      flags.push({ rule: 'slang', message: 'Slang or casual wording is not allowed with HCPs.', found });
  }
  if (template.classification === 'promotional') {
    const claims = wordsIn(template.body, rules.claimWords[lang] ?? []);
    const percent = PERCENT_CLAIM.exec(template.body)?.[0];
    const found = percent ? [...claims, percent] : claims;
    const carriesPi = template.parameters.some(
      (p) => p.type === 'asset_link' && p.assetKind === 'prescribing_information',
    );
    if (found.length > 0 && !carriesPi)
      flags.push({
        rule: 'claim_without_pi',
        message:
          'A promotional claim needs the prescribing information: add an asset_link parameter pinned to it (assetKind: prescribing_information).',
        found,
      });
  }
  const optOutWords = rules.optOutWords[lang] ?? [];
  if (template.whatsappCategory === 'marketing' && wordsIn(template.body, optOutWords).length === 0)
    flags.push({
      rule: 'missing_opt_out',
      message: `A marketing message must tell the HCP how to stop receiving them (e.g. “reply ${(optOutWords[0] ?? 'STOP').toUpperCase()}”).`,
    });
  const optOutButtons = template.buttons.filter(
    (b) => isOptOutLabel(b) || wordsIn(b, optOutWords).length > 0,
  );
  if (optOutButtons.length > 0)
    flags.push({
      rule: 'opt_out_button',
      message: 'A quick-reply label reads as an opt-out word; a tap on it would be taken as a withdrawal.',
      found: optOutButtons,
    });
  return flags;
}
