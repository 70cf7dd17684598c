/**
 * The page an HCP sees when a tracked link points to a piece no longer in use (expired, superseded,
 * withdrawn) or to nothing at all. Plain HTML with every value escaped, no script and no inline style,
 * so it passes the app's Content-Security-Policy untouched. Pure: words and links in, HTML out.
 */

export interface UnavailablePage {
  /** BCP 47 language of the HCP, e.g. `pt-BR`; the page falls back to English. */
  language: string;
  /** The title of the piece the link pointed to; omitted for an unknown link. */
  title?: string;
  /** Where the current version can be read, when there is one. */
  current?: { title: string; href: string };
}

const WORDS: Record<
  string,
  { heading: string; gone: string; unknown: string; current: string; none: string }
> = {
  pt: {
    heading: 'Conteúdo indisponível',
    gone: 'Este material não está mais disponível:',
    unknown: 'Este link não é válido.',
    current: 'A versão atual está aqui:',
    none: 'Não há uma versão atual. Fale com o seu representante se precisar dele.',
  },
  es: {
    heading: 'Contenido no disponible',
    gone: 'Este material ya no está disponible:',
    unknown: 'Este enlace no es válido.',
    current: 'La versión actual está aquí:',
    none: 'No hay una versión actual. Hable con su representante si la necesita.',
  },
  en: {
    heading: 'Content unavailable',
    gone: 'This material is no longer available:',
    unknown: 'This link is not valid.',
    current: 'The current version is here:',
    none: 'There is no current version. Please ask your representative if you need it.',
  },
};

/** HTML-escapes text for element content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Only http(s) links are ever written into the page: a `javascript:` URL must never become a link. */
function safeHref(href: string): string | undefined {
  try {
    const url = new URL(href, 'https://placeholder.invalid');
    return url.protocol === 'https:' || url.protocol === 'http:' ? href : undefined;
  } catch {
    return undefined;
  }
}

export function renderUnavailablePage(page: UnavailablePage): string {
  const lang = page.language.toLowerCase().split(/[-_]/)[0] ?? 'en';
  const w = WORDS[lang] ?? WORDS.en!;
  const href = page.current ? safeHref(page.current.href) : undefined;
  const lines = [
    '<!doctype html>',
    `<html lang="${escapeHtml(page.language)}">`,
    '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="robots" content="noindex, nofollow">',
    `<title>${escapeHtml(w.heading)}</title></head>`,
    '<body>',
    `<h1>${escapeHtml(w.heading)}</h1>`,
    page.title === undefined
      ? `<p>${escapeHtml(w.unknown)}</p>`
      : `<p>${escapeHtml(w.gone)} <strong>${escapeHtml(page.title)}</strong></p>`,
    page.current && href
      ? `<p>${escapeHtml(w.current)} <a href="${escapeHtml(href)}" rel="noopener noreferrer">${escapeHtml(page.current.title)}</a></p>`
      : `<p>${escapeHtml(w.none)}</p>`,
    '</body></html>',
  ];
  return lines.join('\n');
}
