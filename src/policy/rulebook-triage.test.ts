import { describe, expect, it } from 'vitest';
import { LEXICONS } from '../assistant/index.js';
import { shippedRulebook } from './decide.fixtures.js';
import { rulesForMarket } from './rulebook.js';
import { triageLexiconsFor } from './rulebook-triage.js';

describe('the rulebook’s triage words', () => {
  it('adds words to a signal of a language and keeps the built-in ones', () => {
    const rules = rulesForMarket(
      shippedRulebook({ triage: { pt: { adverse_reaction: ['coceira*'] } } }),
      'BR',
    );
    const lexicons = triageLexiconsFor(LEXICONS, rules);
    expect(lexicons.pt?.adverse_reaction).toContain('coceira*');
    expect(lexicons.pt?.adverse_reaction).toEqual(expect.arrayContaining([...LEXICONS.pt.adverse_reaction]));
    expect(lexicons.en).toEqual(LEXICONS.en);
  });

  it('gives a language the built-in tables lack a table of its own', () => {
    const rules = rulesForMarket(
      shippedRulebook({ triage: { fr: { product_complaint: ['emballage abime'] } } }),
      'BR',
    );
    expect(triageLexiconsFor(LEXICONS, rules).fr?.product_complaint).toEqual(['emballage abime']);
  });

  it('changes nothing when the rulebook adds nothing', () => {
    expect(triageLexiconsFor(LEXICONS, rulesForMarket(shippedRulebook(), 'BR'))).toEqual(LEXICONS);
  });
});
