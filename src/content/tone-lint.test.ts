import { describe, expect, it } from 'vitest';
import type { LintableTemplate } from './tone-lint.js';
import { DEFAULT_TONE_RULES, lintTemplate, toneRulesFrom } from './tone-lint.js';

const clean: LintableTemplate = {
  body: 'Olá {{hcp_name}}, confirmamos a visita em {{date}} às {{time}}.',
  buttons: ['Confirmar', 'Remarcar'],
  classification: 'non_promotional',
  whatsappCategory: 'utility',
  language: 'pt-BR',
  parameters: [
    { name: 'hcp_name', type: 'hcp_name' },
    { name: 'date', type: 'date' },
    { name: 'time', type: 'time' },
  ],
};

const rulesOf = (t: LintableTemplate) => lintTemplate(t, DEFAULT_TONE_RULES).map((f) => f.rule);

describe('tone lint', () => {
  it('finds nothing in a plain, formal utility template', () => {
    expect(lintTemplate(clean, DEFAULT_TONE_RULES)).toEqual([]);
  });

  it.each<[string, Partial<LintableTemplate>, string]>([
    ['flags an emoji in the body', { body: 'Olá {{hcp_name}} 👋, até {{date}} {{time}}.' }, 'emoji'],
    ['flags an emoji in a quick-reply label', { buttons: ['Confirmar ✅'] }, 'emoji'],
    ['flags a keycap emoji', { body: 'Olá {{hcp_name}} 1️⃣ {{date}} {{time}}' }, 'emoji'],
    ['flags a composite emoji (flag)', { body: 'Olá {{hcp_name}} 🇧🇷 {{date}} {{time}}' }, 'emoji'],
    [
      'flags a texting abbreviation in Portuguese',
      { body: 'Olá {{hcp_name}}, vc confirma {{date}} {{time}}?' },
      'abbreviation',
    ],
    [
      'flags a texting abbreviation in English',
      { language: 'en-IN', body: 'Hi {{hcp_name}}, pls confirm {{date}} {{time}}' },
      'abbreviation',
    ],
    ['flags slang in Portuguese', { body: 'Valeu {{hcp_name}}! Até {{date}} {{time}}, tmj' }, 'slang'],
    [
      'flags slang in Spanish',
      { language: 'es-ES', body: 'Hola {{hcp_name}}, ¡qué guay! {{date}} {{time}}' },
      'slang',
    ],
    [
      'flags a promotional claim without the prescribing information',
      {
        classification: 'promotional',
        body: 'Olá {{hcp_name}}, Cardiozen é comprovadamente eficaz. {{date}} {{time}}',
      },
      'claim_without_pi',
    ],
    [
      'flags a quantified claim (a percentage) without the prescribing information',
      { classification: 'promotional', body: 'Olá {{hcp_name}}, reduz o LDL em 50% {{date}} {{time}}' },
      'claim_without_pi',
    ],
    [
      'flags a marketing template without an opt-out instruction',
      { whatsappCategory: 'marketing', body: 'Olá {{hcp_name}}, novidades em {{date}} {{time}}.' },
      'missing_opt_out',
    ],
    [
      'flags a quick-reply label that reads as an opt-out word',
      { buttons: ['Confirmar', 'Parar'] },
      'opt_out_button',
    ],
    ['flags an English opt-out label even on a Portuguese template', { buttons: ['STOP'] }, 'opt_out_button'],
  ])('%s', (_name, change, rule) => {
    expect(rulesOf({ ...clean, ...change })).toContain(rule);
  });

  it.each<[string, Partial<LintableTemplate>]>([
    [
      'does not flag a claim that carries a parameter pinned to the prescribing information',
      {
        classification: 'promotional',
        body: 'Olá {{hcp_name}}, Cardiozen é eficaz. Bula: {{pi}} {{date}} {{time}}',
        parameters: [
          ...clean.parameters,
          { name: 'pi', type: 'asset_link', assetKind: 'prescribing_information' },
        ],
      },
    ],
    [
      'does not flag claim words in a non-promotional template',
      { body: 'Olá {{hcp_name}}, o estudo comprovado segue {{date}} {{time}}' },
    ],
    [
      'does not flag a marketing template that says how to opt out',
      {
        whatsappCategory: 'marketing',
        body: 'Olá {{hcp_name}}, novidades {{date}} {{time}}. Responda SAIR para não receber mais.',
      },
    ],
    [
      'does not read words inside placeholders',
      { body: 'Olá {{hcp_name}} {{date}} {{time}} {{vc}}', parameters: [] },
    ],
    [
      'does not flag a word that merely contains an abbreviation',
      { body: 'Olá {{hcp_name}}, a visita {{date}} {{time}} está confirmada' },
    ],
  ])('%s', (_name, change) => {
    expect(rulesOf({ ...clean, ...change })).toEqual([]);
  });

  it('lets a market allow emoji, abbreviations or slang through its rulebook', () => {
    const relaxed = toneRulesFrom({ emoji: true, abbreviations: true, slang: true });
    const casual = { ...clean, body: 'Olá {{hcp_name}} 👋 vc confirma {{date}} {{time}}? valeu' };
    expect(lintTemplate(casual, relaxed)).toEqual([]);
    expect(
      lintTemplate(casual, toneRulesFrom({ emoji: false, abbreviations: true, slang: true })).map(
        (f) => f.rule,
      ),
    ).toEqual(['emoji']);
  });

  it('names what it found, so the reviewer sees the offending words', () => {
    const [flag] = lintTemplate(
      { ...clean, body: 'Olá {{hcp_name}}, vc e tb {{date}} {{time}}' },
      DEFAULT_TONE_RULES,
    );
    expect(flag).toMatchObject({ rule: 'abbreviation', found: ['vc', 'tb'] });
  });
});
