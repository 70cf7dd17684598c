import { diffLines } from 'diff';
import type { Asset, Template } from './content-model.js';

/**
 * What changed between two versions, for a reviewer: the body line by line, and every other reviewed field
 * that differs. Pure.
 */
export interface ContentDiff {
  from: { id: string; version: number };
  to: { id: string; version: number };
  /** Body lines, in order: unchanged, added in `to`, or removed from `from`. */
  body: Array<{ change: 'same' | 'added' | 'removed'; text: string }>;
  fields: Array<{ field: string; before: unknown; after: unknown }>;
}

const TEMPLATE_FIELDS = [
  'type',
  'classification',
  'whatsappCategory',
  'whatsappName',
  'whatsappLanguage',
  'market',
  'language',
  'brand',
  'products',
  'toneTags',
  'parameters',
  'buttons',
  'expiresAt',
] as const;
const ASSET_FIELDS = [
  'title',
  'kind',
  'url',
  'classification',
  'market',
  'brand',
  'products',
  'topics',
  'expiresAt',
] as const;

function changedFields<T extends object>(from: T, to: T, fields: readonly (keyof T & string)[]) {
  return fields
    .filter((f) => JSON.stringify(from[f]) !== JSON.stringify(to[f]))
    .map((f) => ({ field: f, before: from[f] as unknown, after: to[f] as unknown }));
}

function bodyDiff(before: string, after: string): ContentDiff['body'] {
  return diffLines(before, after).flatMap((part) =>
    part.value
      .replace(/\n$/, '')
      .split('\n')
      .map((text) => ({ change: part.added ? 'added' : part.removed ? 'removed' : 'same', text }) as const),
  );
}

/** The diff from one template version to another (`from` is usually the older). */
export function diffTemplates(from: Template, to: Template): ContentDiff {
  return {
    from: { id: from.id, version: from.version },
    to: { id: to.id, version: to.version },
    body: bodyDiff(from.body, to.body),
    fields: changedFields(from, to, TEMPLATE_FIELDS),
  };
}

/** Assets have no body: the diff is the fields (title, URL, kind, ...). */
export function diffAssets(from: Asset, to: Asset): ContentDiff {
  return {
    from: { id: from.id, version: from.version },
    to: { id: to.id, version: to.version },
    body: [],
    fields: changedFields(from, to, ASSET_FIELDS),
  };
}
