import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RenderableTemplate, RenderLink } from './template-render.js';
import { placeholdersOf, renderTemplate } from './template-render.js';

const now = new Date('2026-03-10T15:00:00.000Z'); // 12:00 in São Paulo
const hcp = { name: 'Dra. Ana Souza', timeZone: 'America/Sao_Paulo' };

const template: RenderableTemplate = {
  body: 'Olá {{hcp_name}}, confirmamos {{date}} às {{time}} em {{venue}}. Material: {{leaflet}} Nota: {{note}}',
  parameters: [
    { name: 'hcp_name', type: 'hcp_name' },
    { name: 'date', type: 'date' },
    { name: 'time', type: 'time' },
    { name: 'venue', type: 'venue' },
    { name: 'leaflet', type: 'asset_link' },
    { name: 'note', type: 'text', maxLength: 40 },
  ],
  market: 'BR',
  language: 'pt-BR',
  type: 'confirmation',
};

const asset = (over: Partial<RenderLink['asset']> = {}): RenderLink['asset'] => ({
  id: 'ast_1',
  kind: 'leaflet',
  status: 'approved',
  expiresAt: null,
  market: 'BR',
  ...over,
});
const links = { ast_1: { url: 'https://parley.example/l/abcdefghijklmnopqrstuvwx', asset: asset() } };
const good = {
  date: '2026-03-12',
  time: '14:30',
  venue: 'br-sp-office',
  leaflet: 'ast_1',
  note: 'Traga o cartão',
};

function problemsOf(
  parameters: Record<string, unknown>,
  l: Record<string, RenderLink> = links,
  t = template,
) {
  const result = renderTemplate(t, parameters, hcp, l, now);
  return result.ok ? [] : result.problems.map((p) => `${p.parameter}: ${p.message}`);
}

describe('renderTemplate', () => {
  it('renders the text exactly as the HCP reads it, in the template language', () => {
    const result = renderTemplate(template, good, hcp, links, now);
    expect(result).toEqual({
      ok: true,
      text:
        'Olá Dra. Ana Souza, confirmamos 12 de março de 2026 às 14:30 em Escritório São Paulo — Av. Paulista, 1000. ' +
        'Material: https://parley.example/l/abcdefghijklmnopqrstuvwx Nota: Traga o cartão',
      assetIds: ['ast_1'],
      values: [
        { name: 'hcp_name', value: 'Dra. Ana Souza' },
        { name: 'date', value: '12 de março de 2026' },
        { name: 'time', value: '14:30' },
        { name: 'venue', value: 'Escritório São Paulo — Av. Paulista, 1000' },
        { name: 'leaflet', value: 'https://parley.example/l/abcdefghijklmnopqrstuvwx' },
        { name: 'note', value: 'Traga o cartão' },
      ],
    });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['refuses a value for hcp_name (it comes from the HCP record)', { ...good, hcp_name: 'Ana' }, 'hcp_name'],
    ['refuses a missing parameter', { ...good, time: undefined }, 'time'],
    ['refuses an empty parameter', { ...good, note: '' }, 'note'],
    ['refuses a parameter the template does not have', { ...good, extra: 'x' }, 'extra'],
    ['refuses a value that is not text', { ...good, note: 42 }, 'note'],
    ['refuses a date in another format', { ...good, date: '12/03/2026' }, 'date'],
    ['refuses a date that does not exist', { ...good, date: '2026-02-30' }, 'date'],
    ['refuses a confirmation for a day already past for the HCP', { ...good, date: '2026-03-09' }, 'date'],
    ['refuses a time outside 24 h', { ...good, time: '24:00' }, 'time'],
    ['refuses a time written with am/pm', { ...good, time: '2:30 PM' }, 'time'],
    ['refuses a venue the market does not keep', { ...good, venue: 'my house' }, 'venue'],
    ['refuses a venue of another market', { ...good, venue: 'es-mad-office' }, 'venue'],
    ['refuses text longer than the MLR maximum', { ...good, note: 'x'.repeat(41) }, 'note'],
    ['refuses a link in free text', { ...good, note: 'veja https://evil.example' }, 'note'],
    ['refuses a bare domain in free text', { ...good, note: 'veja bit.ly/abc' }, 'note'],
    ['refuses a www link in free text', { ...good, note: 'www.exemplo.com.br' }, 'note'],
    ['refuses an e-mail address in free text', { ...good, note: 'ana@example.com' }, 'note'],
    ['refuses a phone number in free text', { ...good, note: 'ligue +55 11 98765-4321' }, 'note'],
    ['refuses a newline (Meta forbids it in parameters)', { ...good, note: 'linha\nduas' }, 'note'],
    ['refuses a tab', { ...good, note: 'a\tb' }, 'note'],
    ['refuses four spaces in a row', { ...good, note: 'a    b' }, 'note'],
    [
      'refuses an asset link to an asset with no link offered',
      { ...good, leaflet: 'ast_unknown' },
      'leaflet',
    ],
  ])('%s', (_name, parameters, parameter) => {
    const problems = problemsOf(parameters);
    expect(problems.some((p) => p.startsWith(`${parameter}:`))).toBe(true);
  });

  it.each<[string, Partial<RenderLink['asset']>]>([
    ['refuses an asset that is not approved', { status: 'in_review' }],
    ['refuses a withdrawn asset', { status: 'withdrawn' }],
    [
      'refuses an asset whose expiry has been reached, even if still marked approved',
      { expiresAt: now.toISOString() },
    ],
    ['refuses an asset of another market', { market: 'ES' }],
  ])('%s', (_name, change) => {
    const l = { ast_1: { url: links.ast_1.url, asset: asset(change) } };
    expect(problemsOf(good, l)[0]).toMatch(/^leaflet:/);
  });

  it('refuses an asset of another kind than the parameter is pinned to', () => {
    const pinned = {
      ...template,
      parameters: template.parameters.map((p) =>
        p.name === 'leaflet' ? { ...p, assetKind: 'prescribing_information' as const } : p,
      ),
    };
    expect(problemsOf(good, links, pinned)).toEqual([
      'leaflet: leaflet must be a prescribing information asset.',
    ]);
  });

  it('allows three spaces, accents and punctuation in text', () => {
    expect(problemsOf({ ...good, note: 'Sala 3   — 2º andar, ok?' })).toEqual([]);
  });

  it('accepts a past date in a recap (it reports what happened)', () => {
    expect(problemsOf({ ...good, date: '2026-03-01' }, links, { ...template, type: 'recap' })).toEqual([]);
  });

  it('refuses text where MLR set no maximum length', () => {
    const unbounded = {
      ...template,
      parameters: template.parameters.map((p) =>
        p.name === 'note' ? { name: 'note', type: 'text' as const } : p,
      ),
    };
    expect(problemsOf(good, links, unbounded)).toEqual([
      'note: note has no MLR maximum length, so it takes no text.',
    ]);
  });

  it('reports every problem at once', () => {
    expect(problemsOf({ date: 'x', time: 'y' })).toHaveLength(5);
  });

  it('refuses a message that renders longer than WhatsApp allows', () => {
    const long = {
      ...template,
      body: `${'a'.repeat(1000)} {{note}}`,
      parameters: [{ name: 'note', type: 'text' as const, maxLength: 100 }],
    };
    expect(problemsOf({ note: 'b'.repeat(30) }, links, long)).toEqual([
      "*: The rendered message is longer than WhatsApp's 1024 characters.",
    ]);
  });

  it('never lets a value inject another placeholder or a link (property)', () => {
    const t: RenderableTemplate = {
      ...template,
      body: 'A {{note}} B',
      parameters: [{ name: 'note', type: 'text', maxLength: 200 }],
    };
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (note) => {
        const result = renderTemplate(t, { note }, hcp, {}, now);
        if (!result.ok) return;
        expect(result.text).toBe(`A ${note.trim()} B`);
        expect(result.text).not.toMatch(/[\n\t]| {4}|https?:\/\//);
      }),
    );
  });

  it('lists the placeholders a body uses', () => {
    expect(placeholdersOf('{{a}} {{ b }} {{a}} {c}')).toEqual(['a', 'b']);
  });
});
