import type { ParleyContext } from '../context.js';
import { hcpVisibility } from '../hcps/index.js';
import type { Principal } from '../identity/index.js';
import { decodeCursor, pageOf, type Db, type DbOrTx, type Page } from '../platform/database/index.js';
import { logSecurityEvent } from '../audit/index.js';
import { DomainError } from '../platform/errors/index.js';

/**
 * The two queues inbound WhatsApp fills for people: numbers Parley does not know (admin and compliance
 * decide whether one belongs to an HCP), and inbound media (an image or a voice note may carry patient
 * data or an adverse event, so a person looks at each before anyone relies on it).
 */

export interface UnknownContact {
  id: string;
  waId: string;
  profileName: string | null;
  messageId: string;
  phoneNumberId: string;
  receivedAt: string;
}

function keyCursor(cursor: string | undefined): [string, string] | undefined {
  if (!cursor) return undefined;
  const key = decodeCursor(cursor);
  if (!key || key.length !== 2 || typeof key[0] !== 'string' || typeof key[1] !== 'string')
    throw new DomainError('bad_request', 'The cursor is not one this list gave out.');
  return key as [string, string];
}

/** Unknown senders, newest first. */
export async function listUnknownContacts(
  db: DbOrTx,
  ctx: Pick<ParleyContext, 'cipher'>,
  query: { limit: number; cursor?: string },
): Promise<Page<UnknownContact>> {
  let q = db.selectFrom('unknown_contacts').selectAll();
  const after = keyCursor(query.cursor);
  if (after)
    q = q.where((eb) =>
      eb.or([
        eb('received_at', '<', after[0]),
        eb.and([eb('received_at', '=', after[0]), eb('id', '<', after[1])]),
      ]),
    );
  const rows = await q
    .orderBy('received_at', 'desc')
    .orderBy('id', 'desc')
    .limit(query.limit + 1)
    .execute();
  return pageOf(
    rows,
    query.limit,
    (r) => [r.received_at, r.id],
    (r) => ({
      id: r.id,
      waId: ctx.cipher.open(r.wa_id_enc),
      profileName: r.profile_name_enc ? ctx.cipher.open(r.profile_name_enc) : null,
      messageId: r.message_id,
      phoneNumberId: r.phone_number_id,
      receivedAt: r.received_at,
    }),
  );
}

export interface MediaForReview {
  messageId: string;
  hcpId: string | null;
  type: string;
  media: { id: string; mimeType: string | null; sha256: string | null } | null;
  caption: string | null;
  receivedAt: string;
  status: 'needs_review' | 'reviewed';
}

/**
 * Inbound media waiting for review, oldest first. Media from a known HCP is filtered by the one HCP
 * scoping rule; media from an unknown number is visible to compliance only.
 */
export async function listMediaForReview(
  db: DbOrTx,
  ctx: Pick<ParleyContext, 'cipher'>,
  principal: Principal,
  query: { limit: number; cursor?: string },
): Promise<Page<MediaForReview>> {
  let q = db
    .selectFrom('messages')
    .select(['id', 'hcp_id', 'type', 'provenance_json', 'body_enc', 'meta_timestamp', 'created_at', 'status'])
    .where('direction', '=', 'inbound')
    .where('status', '=', 'needs_review')
    .where((eb) =>
      eb.or([
        eb('hcp_id', 'in', eb.selectFrom('hcps').select('hcps.id').where(hcpVisibility(principal))),
        ...(principal.role === 'compliance' ? [eb('hcp_id', 'is', null)] : []),
      ]),
    );
  const after = keyCursor(query.cursor);
  if (after)
    q = q.where((eb) =>
      eb.or([
        eb('created_at', '>', after[0]),
        eb.and([eb('created_at', '=', after[0]), eb('id', '>', after[1])]),
      ]),
    );
  const rows = await q
    .orderBy('created_at')
    .orderBy('id')
    .limit(query.limit + 1)
    .execute();
  return pageOf(
    rows,
    query.limit,
    (r) => [r.created_at, r.id],
    (r) => {
      const facts = JSON.parse(r.provenance_json) as { media?: MediaForReview['media'] };
      return {
        messageId: r.id,
        hcpId: r.hcp_id,
        type: r.type,
        media: facts.media ?? null,
        caption: r.body_enc ? ctx.cipher.open(r.body_enc) : null,
        receivedAt: r.meta_timestamp ?? r.created_at,
        status: 'needs_review',
      };
    },
  );
}

/**
 * Marks one inbound media message as reviewed; audited. Idempotent: marking it again changes nothing.
 * Out of scope, or not an inbound media message: 404 and a security-log line.
 */
export async function markMediaReviewed(
  db: Db,
  ctx: Pick<ParleyContext, 'clock' | 'audit'>,
  principal: Principal,
  messageId: string,
  note: string | undefined,
  request: { ip?: string; method?: string; route?: string } = {},
): Promise<void> {
  const found = await db.transaction().execute(async (tx) => {
    const row = await tx
      .selectFrom('messages')
      .select(['id', 'hcp_id', 'status'])
      .where('id', '=', messageId)
      .where('direction', '=', 'inbound')
      .where('status', 'in', ['needs_review', 'reviewed'])
      .where((eb) =>
        eb.or([
          eb('hcp_id', 'in', eb.selectFrom('hcps').select('hcps.id').where(hcpVisibility(principal))),
          ...(principal.role === 'compliance' ? [eb('hcp_id', 'is', null)] : []),
        ]),
      )
      .executeTakeFirst();
    if (!row) {
      await logSecurityEvent(tx, ctx.clock.now(), {
        kind: 'out_of_scope',
        actorId: principal.id,
        ip: request.ip ?? null,
        method: request.method ?? null,
        route: request.route ?? null,
        target: messageId,
      });
      return false;
    }
    if (row.status === 'reviewed') return true;
    const now = ctx.clock.now().toISOString();
    await tx
      .updateTable('messages')
      .set({ status: 'reviewed', status_at: now })
      .where('id', '=', row.id)
      .execute();
    await tx
      .updateTable('interactions')
      .set({ status: 'reviewed', updated_at: now })
      .where('message_id', '=', row.id)
      .execute();
    await ctx.audit.record(tx, {
      actor: principal,
      action: 'message.media_reviewed',
      target: { type: 'message', id: row.id },
      subjectId: row.hcp_id,
      reason: note ?? null,
      before: { status: row.status },
      after: { status: 'reviewed' },
    });
    return true;
  });
  if (!found) throw new DomainError('not_found', 'No inbound media with that id');
}
