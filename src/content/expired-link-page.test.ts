import { describe, expect, it } from 'vitest';
import { renderUnavailablePage } from './expired-link-page.js';

describe('the page of a link to a piece no longer in use', () => {
  it('escapes the title and the link, so stored text cannot become markup', () => {
    const html = renderUnavailablePage({
      language: 'pt-BR',
      title: '<script>alert(1)</script> & "quotes"',
      current: { title: '<img src=x onerror=alert(1)>', href: '/l/abc"onmouseover="x' },
    });
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('"onmouseover');
    expect(html).toContain('&#60;script&#62;');
    expect(html).toContain('Conteúdo indisponível');
  });

  it('has no script, no inline style and no event handler (CSP-safe)', () => {
    const html = renderUnavailablePage({
      language: 'es-ES',
      title: 'Folleto',
      current: { title: 'Folleto v2', href: '/l/x' },
    });
    expect(html).not.toMatch(/<script|style=|<style|\son[a-z]+=/i);
    expect(html).toContain('La versión actual está aquí');
    expect(html).toContain('href="/l/x"');
  });

  it('never writes a javascript: link', () => {
    const html = renderUnavailablePage({
      language: 'en',
      title: 'Leaflet',
      current: { title: 'x', href: 'javascript:alert(1)' },
    });
    expect(html).not.toContain('javascript:');
    expect(html).toContain('There is no current version');
  });

  it('explains an unknown link without naming any piece', () => {
    expect(renderUnavailablePage({ language: 'fr' })).toContain('This link is not valid.');
  });
});
