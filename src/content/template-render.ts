import { DateTime } from 'luxon';
import type { AssetKind, ContentStatus, TemplateParameter, TemplateType } from './content-model.js';
import { isUsable } from './content-workflow.js';
import { venuesOf } from './market-venues.js';

/**
 * Rendering: a template version, the rep's parameter values, the HCP and the tracked links in; the text
 * exactly as the HCP will read it out — or the list of every problem with the values. Pure.
 *
 * Parameter rules (each problem has the stable code `invalid_parameter`, the policy engine's reason code):
 * - `hcp_name` is filled from the HCP record; a value sent for it is refused, never used;
 * - `date` is `YYYY-MM-DD`, shown in the template's language; a reminder, confirmation or invitation
 *   cannot name a day already past in the HCP's time zone;
 * - `time` is `HH:mm` (24 h), shown in the template's language;
 * - `venue` is the id of a venue the market keeps (market-venues.ts), shown by its name;
 * - `asset_link` is the id of an approved, unexpired asset of the template's market (of the pinned kind,
 *   if any), shown as its tracked link;
 * - `text` is allowed only with an MLR maximum length and is screened like free text: no links, e-mail
 *   addresses or phone numbers;
 * - no value may hold a link (links travel only as `asset_link`), a newline or tab, or four or more
 *   spaces in a row — Meta refuses those in template parameters (error 132018).
 */

export interface RenderableTemplate {
  body: string;
  parameters: readonly TemplateParameter[];
  market: string;
  language: string;
  type: TemplateType;
}

export interface RenderHcp {
  name: string;
  timeZone: string;
}

/** A tracked link offered for an `asset_link` value, keyed by asset id in `links`. */
export interface RenderLink {
  /** The text the HCP sees: the tracked link (`https://…/l/<code>`). */
  url: string;
  asset: { id: string; kind: AssetKind; status: ContentStatus; expiresAt: string | null; market: string };
}

export interface ParameterProblem {
  code: 'invalid_parameter';
  /** The parameter's name; `*` for the message as a whole. */
  parameter: string;
  message: string;
}

export type RenderResult =
  | { ok: true; text: string; assetIds: string[]; values: Array<{ name: string; value: string }> }
  | { ok: false; problems: ParameterProblem[] };

/** Meta's limit on a template body, once rendered. */
export const MAX_BODY_LENGTH = 1024;
/** Meta's limit on any one parameter value. */
const MAX_PARAMETER_LENGTH = 1024;

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;
// A scheme, a www. host, or a bare domain with a common top-level name ("bit.ly/x", "site.com.br").
const LINK =
  /(?:[a-z][a-z0-9+.-]*:\/\/|\bwww\.)\S*|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|info|biz|io|ly|me|co|app|link|site|online|xyz|br|es|in|pt|uk|us|de|fr)\b/i;
const EMAIL = /[^\s@]+@[^\s@]+\.[^\s@]+/;
const PHONE_LIKE = /\+?\d[\d\s().-]{6,}\d/g;
const DATE_BOUND_TYPES: readonly TemplateType[] = ['reminder', 'confirmation', 'event_invite'];

/** The placeholder names a body uses, in order of first appearance. */
export function placeholdersOf(body: string): string[] {
  return [...new Set([...body.matchAll(PLACEHOLDER)].map((m) => m[1] ?? ''))];
}

/** Renders a template for one HCP; see the module comment for the rules. */
export function renderTemplate(
  template: RenderableTemplate,
  parameters: Readonly<Record<string, unknown>>,
  hcp: RenderHcp,
  links: Readonly<Record<string, RenderLink>>,
  now: Date,
): RenderResult {
  const problems: ParameterProblem[] = [];
  const problem = (parameter: string, message: string) =>
    problems.push({ code: 'invalid_parameter', parameter, message });
  const declared = new Map(template.parameters.map((p) => [p.name, p]));
  const rendered = new Map<string, string>();
  const assetIds: string[] = [];

  for (const name of Object.keys(parameters)) {
    if (!declared.has(name)) problem(name, `${name} is not a parameter of this template.`);
  }

  for (const p of template.parameters) {
    const raw = parameters[p.name];
    if (p.type === 'hcp_name') {
      if (raw !== undefined) problem(p.name, `${p.name} is filled from the HCP record; do not send a value.`);
      rendered.set(p.name, hcp.name.replace(/\s+/g, ' ').trim());
      continue;
    }
    if (raw === undefined || raw === null || raw === '') {
      problem(p.name, `${p.name} is required.`);
      continue;
    }
    if (typeof raw !== 'string') {
      problem(p.name, `${p.name} must be text.`);
      continue;
    }
    const value = raw.trim();
    if (/[\r\n\t]/.test(raw)) problem(p.name, `${p.name} cannot contain a newline or a tab.`);
    else if (/ {4,}/.test(raw)) problem(p.name, `${p.name} cannot contain four or more spaces in a row.`);
    else if (raw.length > MAX_PARAMETER_LENGTH)
      problem(p.name, `${p.name} is longer than ${MAX_PARAMETER_LENGTH} characters.`);
    else if (p.maxLength !== undefined && value.length > p.maxLength)
      problem(p.name, `${p.name} is longer than the ${p.maxLength} characters MLR allowed.`);
    else if (p.type !== 'asset_link' && LINK.test(value))
      problem(p.name, `${p.name} cannot contain a link; share content only as an approved asset.`);
    else {
      const out = renderValue(p, value, template, hcp, links, now);
      if (typeof out === 'string') {
        rendered.set(p.name, out);
        if (p.type === 'asset_link') assetIds.push(value);
      } else problem(p.name, out.problem);
    }
  }

  if (problems.length > 0) return { ok: false, problems };
  const text = template.body.replace(PLACEHOLDER, (whole, name: string) => rendered.get(name) ?? whole);
  if (text.length > MAX_BODY_LENGTH)
    return {
      ok: false,
      problems: [
        {
          code: 'invalid_parameter',
          parameter: '*',
          message: `The rendered message is longer than WhatsApp's ${MAX_BODY_LENGTH} characters.`,
        },
      ],
    };
  const values = template.parameters.map((p) => ({ name: p.name, value: rendered.get(p.name) ?? '' }));
  return { ok: true, text, assetIds, values };
}

function renderValue(
  p: TemplateParameter,
  value: string,
  template: RenderableTemplate,
  hcp: RenderHcp,
  links: Readonly<Record<string, RenderLink>>,
  now: Date,
): string | { problem: string } {
  switch (p.type) {
    case 'date': {
      const day = /^\d{4}-\d{2}-\d{2}$/.test(value) ? DateTime.fromISO(value, { zone: hcp.timeZone }) : null;
      if (!day?.isValid) return { problem: `${p.name} must be a date written YYYY-MM-DD.` };
      const today = DateTime.fromJSDate(now, { zone: hcp.timeZone }).startOf('day');
      if (DATE_BOUND_TYPES.includes(template.type) && day < today)
        return { problem: `${p.name} is a day already past for the HCP.` };
      return day.setLocale(template.language).toLocaleString(DateTime.DATE_FULL);
    }
    case 'time': {
      if (!/^(?:[01]\d|2[0-3]):[0-5]\d$/.test(value))
        return { problem: `${p.name} must be a time written HH:mm (24 h).` };
      return DateTime.fromFormat(value, 'HH:mm', { zone: 'UTC' })
        .setLocale(template.language)
        .toLocaleString(DateTime.TIME_SIMPLE);
    }
    case 'venue': {
      const venue = venuesOf(template.market).find((v) => v.id === value);
      if (!venue) return { problem: `${p.name} must be one of the venues ${template.market} keeps.` };
      return venue.name;
    }
    case 'asset_link': {
      const link = links[value];
      if (!link) return { problem: `${p.name} must name an approved asset.` };
      const { asset } = link;
      if (!isUsable(asset.status, asset.expiresAt, now))
        return { problem: `${p.name} names an asset that is not approved for use (${asset.status}).` };
      if (asset.market !== template.market)
        return { problem: `${p.name} names an asset approved for ${asset.market}, not ${template.market}.` };
      if (p.assetKind && asset.kind !== p.assetKind)
        return { problem: `${p.name} must be a ${p.assetKind.replace(/_/g, ' ')} asset.` };
      return link.url;
    }
    case 'text': {
      if (p.maxLength === undefined)
        return { problem: `${p.name} has no MLR maximum length, so it takes no text.` };
      if (EMAIL.test(value)) return { problem: `${p.name} cannot contain an e-mail address.` };
      if (hasPhoneNumber(value)) return { problem: `${p.name} cannot contain a phone number.` };
      return value;
    }
    case 'hcp_name':
      return hcp.name;
  }
}

/** Eight digits or more in a run of digits and separators reads as a phone number; a date does not. */
function hasPhoneNumber(value: string): boolean {
  return [...value.matchAll(PHONE_LIKE)].some(
    (m) => m[0].replace(/\D/g, '').length >= 8 && !/^\d{4}-\d{2}-\d{2}$/.test(m[0]),
  );
}
