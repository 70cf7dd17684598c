import type { InteractionExportRecord } from './export.store.js';

/**
 * The per-row part of a whole interactions export, pure (no IO): a table row read as an array (no driver
 * row object) and the names looked up for it make the export record, and a record makes its line. A 10M-row
 * export spends its time here and in the read, in Node, so each step is the cheapest that still gives the
 * same bytes as `JSON.stringify` of the record builder's record (readInteractionFeed) and csv-stringify of
 * its `toCsvRow` (export-lines.test.ts holds them to that).
 */

/** The interaction columns the fast path reads, in this order: `InteractionRow` is one row of them. */
export const INTERACTION_ROW_COLUMNS = [
  'id',
  'hcp_id',
  'channel',
  'kind',
  'direction',
  'occurred_at',
  'rep_id',
  'summary',
  'topics_json',
  'products_json',
  'source',
  'external_id',
  'template_id',
  'asset_ids_json',
  'status',
  'updated_at',
] as const;

export type InteractionRow = [
  id: string,
  hcpId: string,
  channel: string,
  kind: string,
  direction: string,
  occurredAt: string,
  repId: string | null,
  summary: string | null,
  topicsJson: string,
  productsJson: string,
  source: string,
  externalId: string,
  templateId: string | null,
  assetIdsJson: string,
  status: string | null,
  updatedAt: string,
];

/** What an interaction's record names beside its own columns, looked up by the caller (see FeedLookups). */
export interface InteractionNames {
  crmIds: ReadonlyMap<string, string>;
  emails: ReadonlyMap<string, string | null>;
  templates: ReadonlyMap<string, { key: string; version: number; approval_code: string | null }>;
  /** An asset id's code: its approval code, or `key@version` without one. */
  assetCodes: ReadonlyMap<string, string | null>;
}

const NO_ITEMS: string[] = [];
/** Distinct list texts kept before the memo starts afresh (bounded memory whatever the data). */
const LIST_MEMO_LIMIT = 10_000;

/**
 * Stored JSON lists (`topics_json`, …) parsed once per distinct text: a world's rows repeat a few hundred
 * topic and product lists, and a parse per row per list was a fifth of the formatting time. The lists
 * handed out are shared between records and must not be changed.
 */
export class ListMemo {
  readonly #lists = new Map<string, string[]>();

  listOf(text: string): string[] {
    if (text === '[]') return NO_ITEMS;
    let list = this.#lists.get(text);
    if (list === undefined) {
      list = JSON.parse(text) as string[];
      if (this.#lists.size >= LIST_MEMO_LIMIT) this.#lists.clear();
      this.#lists.set(text, list);
    }
    return list;
  }
}

/**
 * An interaction row's export record, field for field what readInteractionFeed builds (same keys in the
 * same order, so the same JSON), or undefined for a row whose HCP has no CRM id in `names` (deleted
 * meanwhile), which the record builder leaves out too.
 */
export function interactionRecordOf(
  r: InteractionRow,
  names: InteractionNames,
  lists: ListMemo,
): InteractionExportRecord | undefined {
  const crmId = names.crmIds.get(r[1]);
  if (crmId === undefined) return undefined;
  const repId = r[6];
  const templateId = r[12];
  const template = templateId ? names.templates.get(templateId) : undefined;
  const assetIds = r[13];
  return {
    id: r[0],
    hcpId: r[1],
    hcpCrmId: crmId,
    channel: r[2],
    kind: r[3],
    direction: r[4],
    occurredAt: r[5],
    repEmail: repId ? (names.emails.get(repId) ?? null) : null,
    summary: r[7],
    topics: lists.listOf(r[8]),
    products: lists.listOf(r[9]),
    source: r[10],
    externalId: r[11],
    templateKey: template?.key ?? null,
    templateVersion: template?.version ?? null,
    approvalCode: template?.approval_code ?? null,
    assetCodes: assetIds === '[]' ? NO_ITEMS : assetCodesOf(lists.listOf(assetIds), names.assetCodes),
    status: r[14],
    updatedAt: r[15],
  };
}

/** Asset ids as their codes, as the record builder names them (unknown ids and empty codes left out). */
function assetCodesOf(ids: readonly string[], codes: InteractionNames['assetCodes']): string[] {
  const named: string[] = [];
  for (const id of ids) {
    const code = codes.get(id);
    if (code) named.push(code);
  }
  return named;
}

/** Characters for which csv-stringify (default options) quotes a field: delimiter, quote, line ends. */
const CSV_QUOTED = /[",\n\r]/;

/** A cell as csv-stringify writes it with default options: quoted, quotes doubled, only when needed. */
export function csvCell(text: string): string {
  return CSV_QUOTED.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A CSV line of a row of cells, as csv-stringify writes a record (`,` between, `\n` after). */
export const csvLine = (cells: readonly string[]): string => `${cells.map(csvCell).join(',')}\n`;
