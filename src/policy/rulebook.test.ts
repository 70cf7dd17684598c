import { describe, expect, it } from 'vitest';
import { DEFAULT_RULEBOOK_YAML } from './default-rulebook.js';
import { deepMerge, parseRulebook, rulesForMarket, type Rulebook } from './rulebook.js';

function shipped(): Rulebook {
  const parsed = parseRulebook(DEFAULT_RULEBOOK_YAML);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return { version: 1, document: parsed.document };
}

/** The shipped YAML with one line replaced: the simplest way to write a broken rulebook. */
function edited(from: string, to: string): string {
  expect(DEFAULT_RULEBOOK_YAML).toContain(from);
  return DEFAULT_RULEBOOK_YAML.replace(from, to);
}

function lineOf(text: string, needle: string): number {
  return text.slice(0, text.indexOf(needle)).split('\n').length;
}

describe('the shipped rulebook', () => {
  it('is valid', () => {
    expect(parseRulebook(DEFAULT_RULEBOOK_YAML).ok).toBe(true);
  });

  it.each([
    ['confirmation', 'non_promotional', 'service'],
    ['event_invite', 'non_promotional', 'events'],
    ['resource_link', 'promotional', 'promotional'],
    ['resource_link', 'non_promotional', 'non_promotional'],
    ['follow_up', 'non_promotional', 'non_promotional'],
  ] as const)('maps a %s template classified %s to the %s purpose', (type, classification, purpose) => {
    expect(rulesForMarket(shipped(), 'BR').purposes[type][classification]).toBe(purpose);
  });

  it.each([
    ['BR', true],
    ['ES', false],
    ['IN', false],
    ['PT', false],
  ])('turns promotional WhatsApp in %s to %s', (market, on) => {
    expect(rulesForMarket(shipped(), market).promotional.whatsapp_allowed).toBe(on);
  });

  it('sets the frequency caps of the seed framework', () => {
    expect(rulesForMarket(shipped(), 'ES').frequency.per_hcp).toEqual({
      rolling_hours: 168,
      max_in_rolling: 2,
      max_per_local_day: 1,
    });
  });

  it('never routes medical information through WhatsApp', () => {
    expect(rulesForMarket(shipped(), 'BR').channel_mix.medical_information).not.toContain('whatsapp');
  });
});

describe('market overrides', () => {
  it('merge mappings key by key and leave the rest of global in force', () => {
    const rules = rulesForMarket(shipped(), 'BR');
    expect(rules.tone).toEqual({ emoji: true, abbreviations: false, slang: false });
    expect(rules.quiet_hours.start).toBe('20:00');
  });

  it.each([
    ['a list replaces the global list whole', { a: [1, 2] }, { a: [3] }, { a: [3] }],
    ['a value replaces the global value', { a: { b: 1, c: 2 } }, { a: { b: 5 } }, { a: { b: 5, c: 2 } }],
    ['a new key is added', { a: 1 }, { b: 2 }, { a: 1, b: 2 }],
  ])('%s', (_name, base, override, expected) => {
    expect(deepMerge(base, override)).toEqual(expected);
  });
});

describe('a rulebook with mistakes', () => {
  it.each([
    [
      'names the line and field of a wrong value',
      edited('      max_in_rolling: 2\n', '      max_in_rolling: two\n'),
      'global.frequency.per_hcp.max_in_rolling',
      'max_in_rolling: two',
    ],
    [
      'names an unknown field by its own line',
      edited('    max_assets: 2\n', '    max_assets: 2\n    max_files: 1\n'),
      'global.format',
      'max_files: 1',
    ],
    [
      'checks a market override against the same rules',
      edited('      emoji: true\n', '      emoji: sometimes\n'),
      'markets.BR.tone.emoji',
      'emoji: sometimes',
    ],
    [
      'refuses a quiet-hours time that is not HH:MM',
      edited('start: "20:00"', 'start: "8pm"'),
      'global.quiet_hours.start',
      'start: "8pm"',
    ],
    [
      'refuses a market code that is not ISO 3166',
      edited('  ES:\n', '  Spain:\n'),
      'markets.Spain',
      'Spain:',
    ],
  ])('%s', (_name, text, path, lineText) => {
    const parsed = parseRulebook(text);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    const problem = parsed.problems.find((p) => p.path.startsWith(path));
    expect(problem, JSON.stringify(parsed.problems)).toBeDefined();
    expect(problem?.line).toBe(lineOf(text, lineText));
  });

  it('names a missing field on its parent line', () => {
    const text = edited('    max_assets: 2\n', '');
    const parsed = parseRulebook(text);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems[0]).toMatchObject({
      path: 'global.format.max_assets',
      line: lineOf(text, '  format:'),
    });
  });

  it('reports a YAML syntax error with its line', () => {
    const text = 'global:\n  purposes: [unclosed\n';
    const parsed = parseRulebook(text);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems[0]?.line).toBeGreaterThanOrEqual(2);
  });

  it('refuses a key written twice', () => {
    const parsed = parseRulebook(
      edited('  duplicates:\n', '  duplicates:\n    same_template_within_days: 3\n'),
    );
    expect(parsed.ok).toBe(false);
  });
});
