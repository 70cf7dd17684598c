/**
 * What templates and assets are, as the API and the other capabilities see them (CONTRACT.md "Template",
 * "Asset"). Types and closed lists only: no IO.
 */

export const CONTENT_STATUSES = [
  'draft',
  'in_review',
  'approved',
  'rejected',
  'superseded',
  'expired',
  'withdrawn',
] as const;
export type ContentStatus = (typeof CONTENT_STATUSES)[number];

export const TEMPLATE_TYPES = [
  'reminder',
  'confirmation',
  'follow_up',
  'recap',
  'resource_link',
  'event_invite',
  'opt_in_request',
  'service',
] as const;
export type TemplateType = (typeof TEMPLATE_TYPES)[number];

export const CLASSIFICATIONS = ['promotional', 'non_promotional'] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

export const WHATSAPP_CATEGORIES = ['utility', 'marketing', 'authentication'] as const;
export type WhatsappCategory = (typeof WHATSAPP_CATEGORIES)[number];

export const WHATSAPP_STATUSES = ['pending', 'approved', 'rejected', 'paused', 'disabled'] as const;
export type WhatsappStatus = (typeof WHATSAPP_STATUSES)[number];

export const PARAMETER_TYPES = ['hcp_name', 'date', 'time', 'venue', 'asset_link', 'text'] as const;
export type ParameterType = (typeof PARAMETER_TYPES)[number];

export const ASSET_KINDS = [
  'leaflet',
  'study_summary',
  'dosing_guide',
  'video',
  'prescribing_information',
] as const;
export type AssetKind = (typeof ASSET_KINDS)[number];

export type ContentKind = 'template' | 'asset';

/**
 * A typed slot in a template body, written `{{name}}` in the body. `maxLength` is the limit MLR set
 * (required for `text`); `assetKind` pins an `asset_link` to one kind of asset (e.g. the prescribing
 * information a promotional claim must carry).
 */
export interface TemplateParameter {
  name: string;
  type: ParameterType;
  maxLength?: number;
  assetKind?: AssetKind;
}

/** An electronic signature on a review step: who, when, and what it meant (21 CFR Part 11). */
export interface ContentSignature {
  signerId: string;
  signerName: string;
  role: string | null;
  meaning: string;
  signedAt: string;
}

/** One tone-lint finding, shown to the reviewer. */
export interface LintFlag {
  rule: ToneRule;
  message: string;
  /** The words or characters that tripped the rule. */
  found?: string[];
}

export const TONE_RULES = [
  'emoji',
  'abbreviation',
  'slang',
  'claim_without_pi',
  'missing_opt_out',
  'opt_out_button',
] as const;
export type ToneRule = (typeof TONE_RULES)[number];

/** The newer approved version that replaces one no longer in use. */
export interface Replacement {
  id: string;
  version: number;
}

export interface Template {
  id: string;
  key: string;
  version: number;
  /** As of the moment of reading: an approved template past its expiry reads `expired`. */
  status: ContentStatus;
  type: TemplateType;
  classification: Classification;
  whatsappCategory: WhatsappCategory;
  whatsappName: string;
  whatsappLanguage: string;
  whatsappStatus: WhatsappStatus;
  market: string;
  language: string;
  brand: string | null;
  products: string[];
  toneTags: string[];
  body: string;
  parameters: TemplateParameter[];
  buttons: string[];
  approvalCode: string | null;
  authorId: string;
  approvedBy: string | null;
  approvedAt: string | null;
  expiresAt: string | null;
  reviewComment: string | null;
  lint: LintFlag[];
  replacedBy: Replacement | null;
  createdAt: string;
  updatedAt: string;
}

export interface Asset {
  id: string;
  key: string;
  version: number;
  title: string;
  kind: AssetKind;
  status: ContentStatus;
  url: string;
  approvalCode: string | null;
  classification: Classification;
  market: string;
  brand: string | null;
  products: string[];
  topics: string[];
  authorId: string;
  approvedBy: string | null;
  approvedAt: string | null;
  expiresAt: string | null;
  reviewComment: string | null;
  replacedBy: Replacement | null;
  createdAt: string;
  updatedAt: string;
}
