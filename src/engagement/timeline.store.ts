import { sql } from 'kysely';
import {
  decodeCursor,
  pageOf,
  type DbOrTx,
  type InteractionsTable,
  type Page,
  readAsOfOneMoment,
} from '../platform/database/index.js';
import { DomainError } from '../platform/errors/index.js';
import { describeInteraction } from './interaction-labels.js';
import { toInteraction, type Interaction } from './interactions.store.js';
import { listedTimelineChunks, onHcpTimeline } from './timeline-chunks.store.js';

export interface TimelineQuery {
  channel?: InteractionsTable['channel'][];
  kind?: InteractionsTable['kind'][];
  from?: string;
  to?: string;
  repId?: string;
  product?: string;
  limit: number;
  cursor?: string;
}

export interface ContentVersionRef {
  id: string;
  key: string;
  version: number;
  approvalCode: string | null;
  status: string;
}

/** One timeline entry: the interaction, what it was, who did it, which content version, and its outcome. */
export interface TimelineItem extends Interaction {
  what: string;
  repName: string | null;
  template: ContentVersionRef | null;
  assets: (ContentVersionRef & { title: string })[];
}

/** A LIKE pattern matching one element of a JSON list column, with LIKE's wildcards escaped. */
export function jsonListElementPattern(value: string): string {
  return `%${JSON.stringify(value).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * An HCP's timeline, newest first. The order is `(occurred_at, id)` descending and the cursor is that key
 * of the last item, so rows inserted while a client pages (newer ones, or older back-filled ones) never
 * make a page repeat or skip a row that existed when paging began. The caller has already checked the
 * HCP is visible to the principal (`findVisibleHcp`).
 */
export async function listTimeline(
  db: DbOrTx,
  hcpId: string,
  query: TimelineQuery,
): Promise<Page<TimelineItem>> {
  // The chunks and the rows under them as of one moment: an import that listed a chunk and published
  // between the two reads would otherwise show its updates of older rows but not its new ones.
  const rows = await readAsOfOneMoment(db, async (snapshot) =>
    timelineQuery(snapshot, hcpId, query, await listedTimelineChunks(snapshot)).execute(),
  );
  const pageRows = rows.slice(0, query.limit);
  const templateIds = [...new Set(pageRows.flatMap((r) => (r.template_id ? [r.template_id] : [])))];
  const assetIds = [...new Set(pageRows.flatMap((r) => JSON.parse(r.asset_ids_json) as string[]))];
  const templates = new Map<string, ContentVersionRef>();
  if (templateIds.length) {
    const found = await db
      .selectFrom('templates')
      .select(['id', 'key', 'version', 'approval_code', 'status'])
      .where('id', 'in', templateIds)
      .execute();
    for (const t of found)
      templates.set(t.id, {
        id: t.id,
        key: t.key,
        version: t.version,
        approvalCode: t.approval_code,
        status: t.status,
      });
  }
  const assets = new Map<string, ContentVersionRef & { title: string }>();
  if (assetIds.length) {
    const found = await db
      .selectFrom('assets')
      .select(['id', 'key', 'version', 'approval_code', 'status', 'title'])
      .where('id', 'in', assetIds)
      .execute();
    for (const a of found)
      assets.set(a.id, {
        id: a.id,
        key: a.key,
        version: a.version,
        approvalCode: a.approval_code,
        status: a.status,
        title: a.title,
      });
  }
  return pageOf(
    rows,
    query.limit,
    (r) => [r.occurred_at, r.id],
    (r) => {
      const interaction = toInteraction(r);
      return {
        ...interaction,
        what: describeInteraction(r.channel, r.kind, r.direction),
        repName: r.rep_name,
        template: r.template_id ? (templates.get(r.template_id) ?? null) : null,
        assets: interaction.assetIds.flatMap((id) => {
          const a = assets.get(id);
          return a ? [a] : [];
        }),
      };
    },
  );
}

/**
 * The select of one timeline page (one row more than the limit, to tell whether another page follows),
 * searching the timeline index's chunks `chunks` beside its main part (`listedTimelineChunks`).
 */
export function timelineQuery(db: DbOrTx, hcpId: string, query: TimelineQuery, chunks: readonly number[]) {
  let qb = db
    // Never an unpublished import's rows (the view), under the table's name for the clauses below.
    .selectFrom('visible_interactions as interactions')
    .leftJoin('users', 'users.id', 'interactions.rep_id')
    .selectAll('interactions')
    .select('users.name as rep_name')
    // By the HCP's seq in each chunk of the timeline index (timeline_chunk, hcp_seq, occurred_at).
    .where(onHcpTimeline('interactions', hcpId, chunks));
  if (query.channel?.length) qb = qb.where('interactions.channel', 'in', query.channel);
  if (query.kind?.length) qb = qb.where('interactions.kind', 'in', query.kind);
  if (query.from) qb = qb.where('interactions.occurred_at', '>=', query.from);
  if (query.to) qb = qb.where('interactions.occurred_at', '<', query.to);
  if (query.repId) qb = qb.where('interactions.rep_id', '=', query.repId);
  if (query.product) {
    const pattern = jsonListElementPattern(query.product);
    qb = qb.where(sql<boolean>`${sql.ref('interactions.products_json')} like ${pattern} escape '\\'`);
  }
  if (query.cursor) {
    const key = decodeCursor(query.cursor);
    if (!key || key.length !== 2 || typeof key[0] !== 'string' || typeof key[1] !== 'string')
      throw new DomainError('bad_request', 'cursor is not valid; start again without it');
    const [at, id] = key;
    // The index ends (hcp_seq, occurred_at), without id: `occurred_at <= at` is the range both stores read
    // backwards with the limit, and the row-value comparison drops the rows of that first moment that
    // were already on the page (the OR form `a < x OR (a = x AND b < y)` made PostgreSQL collect and sort
    // every older row of the HCP).
    qb = qb
      .where('interactions.occurred_at', '<=', at)
      .where((eb) => eb(eb.refTuple('interactions.occurred_at', 'interactions.id'), '<', eb.tuple(at, id)));
  }
  return qb
    .orderBy('interactions.occurred_at', 'desc')
    .orderBy('interactions.id', 'desc')
    .limit(query.limit + 1);
}
