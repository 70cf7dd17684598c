import { randomBytes } from 'node:crypto';
import type { Expression, ExpressionBuilder, SqlBool } from 'kysely';
import type { ParleyContext } from '../context.js';
import { recordInteraction } from '../engagement/index.js';
import { hcpVisibility } from '../hcps/index.js';
import type { Principal } from '../identity/index.js';
import { decodeCursor, pageOf, type Database, type DbOrTx, type Page } from '../platform/database/index.js';
import { DomainError } from '../platform/errors/index.js';
import { effectiveStatus } from './content-workflow.js';
import { assetsWithReplacements } from './content.store.js';
import { renderUnavailablePage } from './expired-link-page.js';
import { isAutomatedFetch, type LinkRequest } from './link-fetchers.js';

/**
 * Tracked links (`/l/:code`): one unguessable code per message × asset, a click on the HCP's timeline when
 * the HCP (not a preview fetcher or scanner) opens it, and the recall list of who received a version.
 */

/** The path every tracked link lives under; messaging puts its public base URL in front. */
export const TRACKED_LINK_PREFIX = '/l/';

/** 144 random bits, base64url: 24 characters no one guesses or enumerates. */
function newLinkCode(): string {
  return randomBytes(18).toString('base64url');
}

export interface TrackedLink {
  code: string;
  /** `/l/<code>`: the path part of the link as the HCP sees it. */
  path: string;
}

/**
 * The tracked link of one asset in one message, made once: asking again for the same message and asset
 * gives the same link. For messaging, inside the transaction that writes the message (which audits it).
 */
export async function createTrackedLink(
  tx: DbOrTx,
  ctx: Pick<ParleyContext, 'clock'>,
  link: { messageId: string; assetId: string; hcpId: string },
): Promise<TrackedLink> {
  await tx
    .insertInto('tracked_links')
    .values({
      code: newLinkCode(),
      message_id: link.messageId,
      asset_id: link.assetId,
      hcp_id: link.hcpId,
      created_at: ctx.clock.now().toISOString(),
    })
    .onConflict((oc) => oc.columns(['message_id', 'asset_id']).doNothing())
    .execute();
  const row = await tx
    .selectFrom('tracked_links')
    .select('code')
    .where('message_id', '=', link.messageId)
    .where('asset_id', '=', link.assetId)
    .executeTakeFirstOrThrow();
  return { code: row.code, path: `${TRACKED_LINK_PREFIX}${row.code}` };
}

export type LinkOutcome =
  | { kind: 'redirect'; location: string; counted: boolean }
  | { kind: 'page'; status: 404 | 410; html: string; counted: boolean };

/**
 * What opening a tracked link does. A usable asset (approved, not expired): a click on the HCP's timeline,
 * then a redirect to the asset's approved URL. An asset no longer in use: the attempt on the timeline and a
 * friendly page pointing to the version in force (through a tracked link of its own) or to nothing.
 * Preview fetchers, scanners, HEAD and prefetch requests get the same answer but count nothing. Clicks of
 * one link within the same minute are one click (a double tap, a reload).
 */
export async function openTrackedLink(
  db: DbOrTx,
  ctx: Pick<ParleyContext, 'clock'>,
  code: string,
  request: LinkRequest,
): Promise<LinkOutcome> {
  const now = ctx.clock.now();
  const link = /^[A-Za-z0-9_-]{16,64}$/.test(code)
    ? await db.selectFrom('tracked_links').selectAll().where('code', '=', code).executeTakeFirst()
    : undefined;
  const automated = isAutomatedFetch(request);
  if (!link)
    return { kind: 'page', status: 404, html: renderUnavailablePage({ language: 'en' }), counted: false };

  const [assetRow, hcp, message] = await Promise.all([
    db.selectFrom('assets').selectAll().where('id', '=', link.asset_id).executeTakeFirst(),
    db.selectFrom('hcps').select(['language', 'erased_at']).where('id', '=', link.hcp_id).executeTakeFirst(),
    db
      .selectFrom('messages')
      .select(['rep_id', 'template_id'])
      .where('id', '=', link.message_id)
      .executeTakeFirst(),
  ]);
  const language = hcp?.language ?? 'en';
  if (!assetRow)
    return { kind: 'page', status: 404, html: renderUnavailablePage({ language }), counted: false };
  const [asset] = await assetsWithReplacements(db, [assetRow], now);
  const status = effectiveStatus(assetRow.status, assetRow.expires_at, now);
  const usable = status === 'approved';
  const counted = !automated && !!hcp && hcp.erased_at === null;

  if (counted) {
    const minute = now.toISOString().slice(0, 16);
    await recordInteraction(db, ctx, {
      hcpId: link.hcp_id,
      channel: 'whatsapp',
      direction: 'inbound',
      kind: 'click',
      occurredAt: now.toISOString(),
      repId: message?.rep_id ?? null,
      summary: usable
        ? `Opened “${assetRow.title}” (v${Number(assetRow.version)})`
        : `Tried to open “${assetRow.title}” (v${Number(assetRow.version)}, ${status})`,
      topics: asset!.topics,
      products: asset!.products,
      source: 'parley',
      externalId: `click:${link.code}:${minute}`,
      templateId: message?.template_id ?? null,
      assetIds: [assetRow.id],
      messageId: link.message_id,
      status: usable ? 'opened' : status,
    });
  }
  if (usable) return { kind: 'redirect', location: assetRow.url, counted };

  // The version in force, reached through a tracked link of its own so that opening it counts too.
  const replacement = asset!.replacedBy;
  const current = replacement
    ? await db
        .selectFrom('assets')
        .select(['id', 'title'])
        .where('id', '=', replacement.id)
        .executeTakeFirst()
    : undefined;
  const href = current
    ? (
        await createTrackedLink(db, ctx, {
          messageId: link.message_id,
          assetId: current.id,
          hcpId: link.hcp_id,
        })
      ).path
    : undefined;
  return {
    kind: 'page',
    status: 410,
    html: renderUnavailablePage({
      language,
      title: assetRow.title,
      ...(current && href ? { current: { title: current.title, href } } : {}),
    }),
    counted,
  };
}

/** Message statuses that mean the HCP received (or may have received) the message: the recall list. */
export const RECEIVED_STATUSES = ['sent', 'delivered', 'read'] as const;

export interface Recipient {
  hcpId: string;
  hcpName: string;
  crmId: string;
  market: string;
  messageId: string;
  repId: string | null;
  status: string;
  /** When the message was written (queued). */
  queuedAt: string;
  /** When its current status was reached. */
  statusAt: string;
}

function recipientCursor(cursor: string | undefined): [string, string] | undefined {
  if (cursor === undefined) return undefined;
  const key = decodeCursor(cursor);
  if (!key || key.length !== 2 || typeof key[0] !== 'string' || typeof key[1] !== 'string')
    throw new DomainError('bad_request', 'cursor is not valid; start again without it');
  return [key[0], key[1]];
}

/**
 * Every HCP who received a template version (a message with that template in a sent-or-later status),
 * oldest first, as far as the principal may see HCPs. The recall list when a piece is withdrawn.
 */
export function listTemplateRecipients(
  db: DbOrTx,
  principal: Principal,
  templateId: string,
  page: { limit: number; cursor?: string },
): Promise<Page<Recipient>> {
  return listRecipients(db, principal, (eb) => eb('messages.template_id', '=', templateId), page);
}

/** Every HCP who received an asset version through a tracked link in a sent-or-later message. */
export function listAssetRecipients(
  db: DbOrTx,
  principal: Principal,
  assetId: string,
  page: { limit: number; cursor?: string },
): Promise<Page<Recipient>> {
  return listRecipients(
    db,
    principal,
    (eb) =>
      eb(
        'messages.id',
        'in',
        eb
          .selectFrom('tracked_links')
          .select('tracked_links.message_id')
          .where('tracked_links.asset_id', '=', assetId),
      ),
    page,
  );
}

/** Outbound messages that reached their HCP and match `carried`, with the HCP, oldest first. */
async function listRecipients(
  db: DbOrTx,
  principal: Principal,
  carried: (eb: ExpressionBuilder<Database, 'messages' | 'hcps'>) => Expression<SqlBool>,
  page: { limit: number; cursor?: string },
): Promise<Page<Recipient>> {
  let qb = db
    .selectFrom('messages')
    .innerJoin('hcps', 'hcps.id', 'messages.hcp_id')
    .select([
      'messages.id as messageId',
      'messages.rep_id as repId',
      'messages.status',
      'messages.created_at as queuedAt',
      'messages.status_at as statusAt',
      'hcps.id as hcpId',
      'hcps.name as hcpName',
      'hcps.crm_id as crmId',
      'hcps.market_code as market',
    ])
    .where(carried)
    .where('messages.direction', '=', 'outbound')
    .where('messages.status', 'in', [...RECEIVED_STATUSES])
    .where(hcpVisibility(principal));
  const after = recipientCursor(page.cursor);
  if (after)
    qb = qb.where((eb) =>
      eb.or([
        eb('messages.created_at', '>', after[0]),
        eb.and([eb('messages.created_at', '=', after[0]), eb('messages.id', '>', after[1])]),
      ]),
    );
  const rows = await qb
    .orderBy('messages.created_at')
    .orderBy('messages.id')
    .limit(page.limit + 1)
    .execute();
  return pageOf(
    rows,
    page.limit,
    (r) => [r.queuedAt, r.messageId],
    (r) => ({ ...r }),
  );
}
