import { describe, expect, it } from 'vitest';
import { classifyConsentReply, DEFAULT_CONSENT_KEYWORDS } from '../consent/index.js';
import { shippedRulebook } from './decide.fixtures.js';
import { rulesForMarket } from './rulebook.js';
import { consentKeywordsFor } from './rulebook-keywords.js';

describe('the rulebook’s opt-out and opt-in words', () => {
  const rules = rulesForMarket(
    shippedRulebook({
      keywords: { opt_out: { 'pt-BR': ['chega de mensagens', 'desisto'] }, opt_in: { pt: ['topo'] } },
    }),
    'BR',
  );
  const keywords = consentKeywordsFor(DEFAULT_CONSENT_KEYWORDS, rules);

  it.each([
    [
      'a phrase added by the rulebook withdraws wherever it appears',
      'Olá, chega de mensagens por favor',
      'opt_out',
    ],
    ['a word added by the rulebook withdraws when it is the reply', 'DESISTO', 'opt_out'],
    ['the built-in words still withdraw', 'PARAR', 'opt_out'],
  ])('%s', (_name, text, intent) => {
    expect(classifyConsentReply(text, { language: 'pt-BR', keywords }).intent).toBe(intent);
  });

  it('adds opt-in words as yes answers without removing the built-in ones', () => {
    expect(keywords.pt?.yesWords).toContain('topo');
    expect(keywords.pt?.yesWords).toEqual(
      expect.arrayContaining([...(DEFAULT_CONSENT_KEYWORDS.pt?.yesWords ?? [])]),
    );
  });

  it('leaves the built-in tables as they are when the rulebook adds nothing', () => {
    expect(consentKeywordsFor(DEFAULT_CONSENT_KEYWORDS, rulesForMarket(shippedRulebook(), 'BR'))).toEqual(
      DEFAULT_CONSENT_KEYWORDS,
    );
  });
});
