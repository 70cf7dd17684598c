import type { AuditEvent } from '../audit/index.js';
import { listAuditEvents } from '../audit/index.js';
import type { ParleyContext } from '../context.js';
import { findVisibleHcp } from '../hcps/index.js';
import type { Principal } from '../identity/index.js';
import { messageView } from '../messaging/index.js';
import type { RequestOrigin } from './access-export.store.js';
import { checksumOf } from './canonical-json.js';

type Deps = Pick<ParleyContext, 'cipher' | 'clock' | 'audit' | 'db'>;

/** The action recorded for each inspection export; left out of later inspections' trails. */
export const INSPECTION_EXPORTED = 'audit.inspection_exported';

export interface InspectionExport {
  format: 'parley.inspection-export.v1';
  generatedAt: string;
  generatedBy: string;
  /** Hex SHA-256 of `canonicalJson(document)`: the same for the same HCP, period and stored data. */
  checksum: string;
  document: {
    hcpId: string;
    from: string;
    to: string;
    messages: unknown[];
    auditTrail: AuditEvent[];
  };
}

/**
 * One conversation for an inspector (RELIABILITY 23): the HCP's messages created in `[from, to)`, with
 * text, provenance and status history, and the audit events of that period about the HCP or about those
 * messages, in chain order. The checksummed document holds no generation time and is built in a fixed
 * order, so the same request over a closed period gives the same checksum every time; inspection exports
 * themselves are audited but kept out of the trail they export, so exporting twice does not change it.
 */
export async function inspectionExport(
  deps: Deps,
  principal: Principal,
  query: { hcpId: string; from: string; to: string },
  origin: RequestOrigin,
): Promise<InspectionExport> {
  const { db } = deps;
  await findVisibleHcp(db, deps, principal, query.hcpId, origin);
  const rows = await db
    .selectFrom('messages')
    .selectAll()
    .where('hcp_id', '=', query.hcpId)
    .where('created_at', '>=', query.from)
    .where('created_at', '<', query.to)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  const messages = [];
  for (const row of rows) messages.push(await messageView(db, deps, row, true));
  const messageIds = new Set(rows.map((r) => r.id));

  const trail: AuditEvent[] = [];
  let afterSeq: number | undefined;
  for (;;) {
    const page = await listAuditEvents(db, {
      from: query.from,
      to: query.to,
      order: 'asc',
      limit: 500,
      afterSeq,
    });
    for (const e of page.items) {
      if (e.action === INSPECTION_EXPORTED) continue;
      if (e.subjectId === query.hcpId || (e.target.type === 'message' && messageIds.has(e.target.id)))
        trail.push(e);
    }
    const last = page.items[page.items.length - 1];
    if (!page.nextCursor || !last) break;
    afterSeq = last.seq;
  }

  const document = { hcpId: query.hcpId, from: query.from, to: query.to, messages, auditTrail: trail };
  const checksum = checksumOf(document);
  await deps.audit.record(db, {
    actor: principal,
    action: INSPECTION_EXPORTED,
    target: { type: 'hcp', id: query.hcpId },
    subjectId: query.hcpId,
    after: { checksum, from: query.from, to: query.to, messages: messages.length, auditEvents: trail.length },
  });
  return {
    format: 'parley.inspection-export.v1',
    generatedAt: deps.clock.now().toISOString(),
    generatedBy: principal.id,
    checksum,
    document,
  };
}
