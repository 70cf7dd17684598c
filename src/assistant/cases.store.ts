import { sql, type ExpressionBuilder, type Expression, type SqlBool } from 'kysely';
import type { ParleyContext } from '../context.js';
import { logSecurityEvent } from '../audit/index.js';
import { hcpVisibility } from '../hcps/index.js';
import type { Principal } from '../identity/index.js';
import { newId } from '../platform/crypto/index.js';
import {
  decodeCursor,
  pageOf,
  writeInChunks,
  type CasesTable,
  type Database,
  type Db,
  type DbOrTx,
  type Page,
  type Tx,
} from '../platform/database/index.js';
import { DomainError } from '../platform/errors/index.js';
import { OWNER_TEAM, type CaseKind, type TriageFinding } from './triage.js';

/** How long a case may wait: safety reporting clocks start at awareness, so 24 h from Meta's timestamp. */
export const CASE_DUE_HOURS = 24;

/** A case as the API shows it (CONTRACT.md "Case"); `verbatim` and `product` are null when withheld. */
export interface CaseView {
  id: string;
  kind: CasesTable['kind'];
  hcpId: string | null;
  messageId: string | null;
  interactionId: string | null;
  verbatim: string | null;
  product: string | null;
  market: string | null;
  awareAt: string;
  dueAt: string;
  status: CasesTable['status'];
  ownerTeam: CasesTable['owner_team'];
  triage: { signals: string[]; matched: string[] } | null;
  /** True for roles that may see that a case exists but not what it says (rep, manager). */
  contentWithheld: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface NewCase {
  finding: TriageFinding;
  hcpId: string | null;
  messageId: string | null;
  interactionId: string | null;
  verbatim: string;
  product: string | null;
  marketCode: string | null;
  /** When the company became aware: Meta's timestamp of the message, not when Parley processed it. */
  awareAt: string;
}

/** Opens a case from a triage finding, audited in the caller's transaction (actor: Parley itself). */
export async function openCase(
  tx: Tx,
  ctx: Pick<ParleyContext, 'cipher' | 'clock' | 'audit'>,
  input: NewCase,
): Promise<{ id: string }> {
  const [opened] = await openCases(tx, ctx, [input]);
  return opened!;
}

/**
 * Opens cases in order, as `openCase` would one after the other, in a few statements: an import's call
 * notes open thousands when it publishes, in the one transaction that also holds the audit chain's head.
 */
export async function openCases(
  tx: Tx,
  ctx: Pick<ParleyContext, 'cipher' | 'clock' | 'audit'>,
  inputs: readonly NewCase[],
): Promise<{ id: string }[]> {
  const now = ctx.clock.now().toISOString();
  const rows: CasesTable[] = inputs.map((input) => ({
    id: newId('case'),
    kind: input.finding.kind,
    hcp_id: input.hcpId,
    message_id: input.messageId,
    interaction_id: input.interactionId,
    verbatim_enc: ctx.cipher.seal(input.verbatim),
    product: input.product,
    market_code: input.marketCode,
    aware_at: input.awareAt,
    due_at: new Date(Date.parse(input.awareAt) + CASE_DUE_HOURS * 3_600_000).toISOString(),
    status: 'open',
    owner_team: OWNER_TEAM[input.finding.kind],
    triage_json: JSON.stringify({ signals: input.finding.signals, matched: input.finding.matched }),
    created_at: now,
    updated_at: now,
  }));
  await writeInChunks(rows, (chunk) => tx.insertInto('cases').values(chunk).execute());
  await ctx.audit.recordAll(
    tx,
    rows.map((row, i) => ({
      actor: null,
      action: 'case.opened',
      target: { type: 'case', id: row.id },
      subjectId: row.hcp_id,
      after: {
        kind: row.kind,
        ownerTeam: row.owner_team,
        product: row.product,
        messageId: row.message_id,
        awareAt: row.aware_at,
        dueAt: row.due_at,
        signals: inputs[i]!.finding.signals,
      },
    })),
  );
  return rows.map((row) => ({ id: row.id }));
}

/**
 * Which cases a principal sees (CONTRACT.md "Who sees what"): compliance all; pv adverse events and
 * complaints; msl medical inquiries of their own markets; rep and manager the cases of HCPs they see
 * (through the one HCP scoping rule), content withheld; anyone else none.
 */
function caseVisibility(principal: Principal) {
  return (eb: ExpressionBuilder<Database, 'cases'>): Expression<SqlBool> => {
    switch (principal.role) {
      case 'compliance':
        return sql<SqlBool>`1 = 1`;
      case 'pv':
        return eb('cases.kind', 'in', ['adverse_event', 'complaint']);
      case 'msl':
        return principal.marketCodes.length === 0
          ? sql<SqlBool>`1 = 0`
          : eb.and([
              eb('cases.kind', '=', 'medical_inquiry'),
              eb('cases.market_code', 'in', [...principal.marketCodes]),
            ]);
      case 'rep':
      case 'manager':
        return eb(
          'cases.hcp_id',
          'in',
          eb.selectFrom('hcps').select('hcps.id').where(hcpVisibility(principal)),
        );
      default:
        return sql<SqlBool>`1 = 0`;
    }
  };
}

function withholdsContent(principal: Principal): boolean {
  return principal.role === 'rep' || principal.role === 'manager';
}

/** What triage recorded; cases opened elsewhere (a rep's notes, an import) may carry less. */
function triageOf(json: string): CaseView['triage'] {
  const t = JSON.parse(json) as { signals?: unknown; matched?: unknown };
  const strings = (v: unknown) =>
    Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  return { signals: strings(t.signals), matched: strings(t.matched) };
}

function toView(ctx: Pick<ParleyContext, 'cipher'>, row: CasesTable, withheld: boolean): CaseView {
  return {
    id: row.id,
    kind: row.kind,
    hcpId: row.hcp_id,
    messageId: withheld ? null : row.message_id,
    interactionId: row.interaction_id,
    verbatim: withheld ? null : ctx.cipher.open(row.verbatim_enc),
    product: withheld ? null : row.product,
    market: row.market_code,
    awareAt: row.aware_at,
    dueAt: row.due_at,
    status: row.status,
    ownerTeam: row.owner_team,
    triage: withheld ? null : triageOf(row.triage_json),
    contentWithheld: withheld,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface CaseQuery {
  kind?: CaseKind;
  status?: CasesTable['status'];
  hcpId?: string;
  limit: number;
  cursor?: string;
}

/** Cases the principal may see, most urgent first (due time, then id). */
export async function listCases(
  db: DbOrTx,
  ctx: Pick<ParleyContext, 'cipher'>,
  principal: Principal,
  query: CaseQuery,
): Promise<Page<CaseView>> {
  let q = db.selectFrom('cases').selectAll().where(caseVisibility(principal));
  if (query.kind) q = q.where('kind', '=', query.kind);
  if (query.status) q = q.where('status', '=', query.status);
  if (query.hcpId) q = q.where('hcp_id', '=', query.hcpId);
  if (query.cursor) {
    const key = decodeCursor(query.cursor);
    if (!key || key.length !== 2 || typeof key[0] !== 'string' || typeof key[1] !== 'string')
      throw new DomainError('bad_request', 'The cursor is not one this list gave out.');
    const [dueAt, id] = key as [string, string];
    q = q.where((eb) =>
      eb.or([eb('due_at', '>', dueAt), eb.and([eb('due_at', '=', dueAt), eb('id', '>', id)])]),
    );
  }
  const rows = await q
    .orderBy('due_at')
    .orderBy('id')
    .limit(query.limit + 1)
    .execute();
  const withheld = withholdsContent(principal);
  return pageOf(
    rows,
    query.limit,
    (r) => [r.due_at, r.id],
    (r) => toView(ctx, r, withheld),
  );
}

const TRANSITIONS: Record<CasesTable['status'], readonly CasesTable['status'][]> = {
  open: ['in_progress', 'closed'],
  in_progress: ['open', 'closed'],
  closed: ['in_progress'],
};

export interface CasePatch {
  status?: CasesTable['status'];
  ownerTeam?: CasesTable['owner_team'];
  reason?: string;
}

/**
 * Changes a case's status or owner team, audited with before and after. A case the principal may not see
 * is a 404 and a security-log line, as for HCPs.
 */
export async function updateCase(
  db: Db,
  ctx: Pick<ParleyContext, 'cipher' | 'clock' | 'audit'>,
  principal: Principal,
  caseId: string,
  patch: CasePatch,
  request: { ip?: string; method?: string; route?: string } = {},
): Promise<CaseView> {
  const run = async (tx: DbOrTx) => {
    const row = await tx
      .selectFrom('cases')
      .selectAll()
      .where('id', '=', caseId)
      .where(caseVisibility(principal))
      .executeTakeFirst();
    if (!row) {
      await logSecurityEvent(tx, ctx.clock.now(), {
        kind: 'out_of_scope',
        actorId: principal.id,
        ip: request.ip ?? null,
        method: request.method ?? null,
        route: request.route ?? null,
        target: caseId,
      });
      return undefined;
    }
    const next = { status: patch.status ?? row.status, owner_team: patch.ownerTeam ?? row.owner_team };
    if (next.status !== row.status && !TRANSITIONS[row.status].includes(next.status))
      throw new DomainError('invalid_transition', `A ${row.status} case cannot become ${next.status}.`, {
        from: row.status,
        to: next.status,
      });
    if (next.status === row.status && next.owner_team === row.owner_team) return toView(ctx, row, false);
    const now = ctx.clock.now().toISOString();
    await tx
      .updateTable('cases')
      .set({ ...next, updated_at: now })
      .where('id', '=', caseId)
      .execute();
    await ctx.audit.record(tx, {
      actor: principal,
      action: 'case.updated',
      target: { type: 'case', id: caseId },
      subjectId: row.hcp_id,
      reason: patch.reason ?? null,
      before: { status: row.status, ownerTeam: row.owner_team },
      after: { status: next.status, ownerTeam: next.owner_team },
    });
    return toView(ctx, { ...row, ...next, updated_at: now }, false);
  };
  // The 404 is a value inside the transaction, not a throw, so the security-log line commits with it.
  const view = await db.transaction().execute(run);
  if (!view) throw new DomainError('not_found', 'Case not found');
  return view;
}
