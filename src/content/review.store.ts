import { logSecurityEvent } from '../audit/index.js';
import type { ParleyContext } from '../context.js';
import type { Principal } from '../identity/index.js';
import { newId, verifyPassword } from '../platform/crypto/index.js';
import {
  forUpdate,
  type AssetsTable,
  type Db,
  type DbOrTx,
  type TemplatesTable,
} from '../platform/database/index.js';
import { DomainError, notFound } from '../platform/errors/index.js';
import type { Asset, ContentKind, ContentSignature, Template } from './content-model.js';
import type { ContentRulesSource } from './content-rules.js';
import {
  approvalMeaning,
  checkReviewStep,
  defaultApprovalCode,
  effectiveStatus,
  type ReviewAction,
  type ReviewStep,
} from './content-workflow.js';
import { assetsWithReplacements, templatesWithReplacements } from './content.store.js';
import { lintTemplate } from './tone-lint.js';

/**
 * The review workflow in the store: submit, approve (an electronic signature), reject, withdraw, and the
 * expiry that happens with no one acting. Each transition is one transaction with exactly one audit event
 * for the piece it changes (and one more for each older version an approval supersedes).
 */

type Deps = Pick<ParleyContext, 'clock' | 'audit' | 'dialect'> & { rules: ContentRulesSource };

export interface ReviewInput {
  /** Approve: the approver's password, re-entered as the electronic signature. */
  password?: string;
  /** Approve: the code of the approval in the MLR system; a readable default otherwise. */
  approvalCode?: string;
  /** Reject: the reviewer's comments for the author. */
  comment?: string;
  /** Withdraw: why (the recall reason). */
  reason?: string;
  /** Where the request came from, for the security log on a failed signature. */
  request?: { ip?: string; method?: string; route?: string };
}

type Row = TemplatesTable | AssetsTable;

/** Failed e-signatures allowed per user within the window before further attempts are refused (429). */
const MAX_SIGNATURE_FAILURES = 5;
const SIGNATURE_FAILURE_WINDOW_MS = 15 * 60_000;
const tableOf = (kind: ContentKind) => (kind === 'template' ? 'templates' : 'assets');

async function loadRow(db: DbOrTx, deps: Deps, kind: ContentKind, id: string, lock: boolean): Promise<Row> {
  const query = db.selectFrom(tableOf(kind)).selectAll().where('id', '=', id);
  const row = (await (lock ? forUpdate(deps.dialect, query) : query).executeTakeFirst()) as Row | undefined;
  if (!row) throw notFound(kind === 'template' ? 'Template' : 'Asset');
  return row;
}

async function signaturesOf(db: DbOrTx, kind: ContentKind, id: string) {
  return db
    .selectFrom('content_signatures')
    .select(['signer_id', 'signer_role'])
    .where('content_kind', '=', kind)
    .where('content_id', '=', id)
    .execute();
}

/** The signatures on a version, oldest first: who, when, as what role, and what it meant. */
export async function listSignatures(db: DbOrTx, kind: ContentKind, id: string): Promise<ContentSignature[]> {
  const rows = await db
    .selectFrom('content_signatures')
    .selectAll()
    .where('content_kind', '=', kind)
    .where('content_id', '=', id)
    .orderBy('signed_at')
    .orderBy('id')
    .execute();
  return rows.map((r) => ({
    signerId: r.signer_id,
    signerName: r.signer_name,
    role: r.signer_role,
    meaning: r.meaning,
    signedAt: r.signed_at,
  }));
}

/** Decides a step against the row, or throws the refusal as its domain error. */
async function decideStep(
  db: DbOrTx,
  deps: Deps,
  kind: ContentKind,
  row: Row,
  actor: Principal,
  action: ReviewAction,
  now: Date,
) {
  const rules = await deps.rules(db, row.market_code);
  const signatures = await signaturesOf(db, kind, row.id);
  const step = checkReviewStep(
    action,
    { kind, status: row.status, expiresAt: row.expires_at, authorId: row.author_id, market: row.market_code },
    actor,
    now,
    {
      requiredRoles: rules.approverRoles,
      signatures: signatures.map((s) => ({ signerId: s.signer_id, role: s.signer_role })),
    },
  );
  if (!step.ok) throw new DomainError(step.code, step.message);
  return { step: step as Extract<ReviewStep, { ok: true }>, rules };
}

/**
 * One review step on a template or an asset, by a signed-in user. Refusals: `forbidden` (not yours to
 * do — e.g. an author approving own work), `invalid_transition` (not from this state),
 * `e_signature_failed` (the password re-entered for an approval is wrong; written to the security log).
 */
export async function reviewContent(
  db: Db,
  deps: Deps,
  actor: Principal,
  kind: ContentKind,
  id: string,
  action: ReviewAction,
  input: ReviewInput = {},
): Promise<Template | Asset> {
  const now = deps.clock.now();
  // Check before asking for the signature, so a refused step never costs a password attempt.
  const first = await loadRow(db, deps, kind, id, false);
  await decideStep(db, deps, kind, first, actor, action, now);
  if (action === 'approve') await verifySignature(db, actor, kind, id, input, now);

  const row = await db.transaction().execute(async (tx) => {
    // Decided again under the lock: another reviewer may have acted while the password was checked.
    const current = await loadRow(tx, deps, kind, id, true);
    const { step, rules } = await decideStep(tx, deps, kind, current, actor, action, now);
    const at = now.toISOString();
    const before = { status: effectiveStatus(current.status, current.expires_at, now) };
    const changes: Record<string, unknown> = { status: step.next, updated_at: at };
    let meaning: string | undefined;

    if (action === 'submit' && kind === 'template') {
      const t = current as TemplatesTable;
      const lint = lintTemplate(
        {
          body: t.body,
          buttons: JSON.parse(t.buttons_json) as string[],
          classification: t.classification,
          whatsappCategory: t.whatsapp_category,
          language: t.language,
          parameters: JSON.parse(t.parameters_json) as [],
        },
        rules.tone,
      );
      changes.lint_json = JSON.stringify(lint);
    }
    if (action === 'reject') changes.review_comment = input.comment ?? null;
    if (action === 'approve') {
      if (step.next === 'approved') {
        await refuseIfNewerApproved(tx, kind, current, now);
        changes.approved_by = actor.id;
        changes.approved_at = at;
        changes.approval_code =
          input.approvalCode ??
          defaultApprovalCode(current.market_code, current.key, Number(current.version));
      }
      meaning = approvalMeaning(current.market_code, actor.role, rules.approverRoles);
      await tx
        .insertInto('content_signatures')
        .values({
          id: newId('sig'),
          content_kind: kind,
          content_id: id,
          signer_id: actor.id,
          signer_name: actor.name,
          signer_role: actor.role,
          meaning,
          signed_at: at,
        })
        .execute();
    }
    await tx.updateTable(tableOf(kind)).set(changes).where('id', '=', id).execute();
    const verb = {
      submit: 'submitted',
      approve: step.next === 'approved' ? 'approved' : 'signed',
      reject: 'rejected',
      withdraw: 'withdrawn',
    }[action];
    await deps.audit.record(tx, {
      actor,
      action: `${kind}.${verb}`,
      target: { type: kind, id },
      reason:
        action === 'reject' ? (input.comment ?? null) : action === 'withdraw' ? (input.reason ?? null) : null,
      before,
      after: {
        status: step.next,
        ...(meaning ? { meaning, signerRole: actor.role } : {}),
        ...(changes.approval_code ? { approvalCode: changes.approval_code } : {}),
        ...(changes.lint_json ? { lint: JSON.parse(changes.lint_json as string) as unknown } : {}),
      },
    });
    if (action === 'approve' && step.next === 'approved')
      await supersedeOlder(tx, deps, actor, kind, current, now);
    return loadRow(tx, deps, kind, id, false);
  });
  return kind === 'template'
    ? (await templatesWithReplacements(db, [row as TemplatesTable], now))[0]!
    : (await assetsWithReplacements(db, [row as AssetsTable], now))[0]!;
}

async function verifySignature(
  db: DbOrTx,
  actor: Principal,
  kind: ContentKind,
  id: string,
  input: ReviewInput,
  now: Date,
): Promise<void> {
  // Re-entering a password is a guessing oracle for whoever holds a session: a few failures in a window
  // and further signatures wait (counted in the security log, so every instance sees the same count).
  const since = new Date(now.getTime() - SIGNATURE_FAILURE_WINDOW_MS).toISOString();
  const failures = await db
    .selectFrom('security_log')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('kind', '=', 'invalid_signature')
    .where('actor_id', '=', actor.id)
    .where('at', '>', since)
    .executeTakeFirstOrThrow();
  if (Number(failures.n) >= MAX_SIGNATURE_FAILURES) {
    await logSecurityEvent(db, now, {
      kind: 'throttled',
      actorId: actor.id,
      ip: input.request?.ip ?? null,
      method: input.request?.method ?? null,
      route: input.request?.route ?? null,
      target: id,
      detail: { rule: 'e_signature_failures', max: MAX_SIGNATURE_FAILURES },
    });
    throw new DomainError('rate_limited', 'Too many failed signatures; try again in 15 minutes.');
  }
  const user = await db
    .selectFrom('users')
    .select('password_hash')
    .where('id', '=', actor.id)
    .executeTakeFirst();
  const ok = !!user && !!input.password && (await verifyPassword(input.password, user.password_hash));
  if (ok) return;
  await logSecurityEvent(db, now, {
    kind: 'invalid_signature',
    actorId: actor.id,
    ip: input.request?.ip ?? null,
    method: input.request?.method ?? null,
    route: input.request?.route ?? null,
    target: id,
    detail: { what: 'e_signature', contentKind: kind },
  });
  throw new DomainError(
    'e_signature_failed',
    'The electronic signature failed: re-enter your own password to approve.',
  );
}

/** Approving an older version while a newer one is in force would bring back what MLR replaced. */
async function refuseIfNewerApproved(tx: DbOrTx, kind: ContentKind, row: Row, now: Date): Promise<void> {
  const newer = await tx
    .selectFrom(tableOf(kind))
    .select(['id', 'version'])
    .where('key', '=', row.key)
    .where('version', '>', row.version)
    .where('status', '=', 'approved')
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now.toISOString())]))
    .executeTakeFirst();
  if (newer)
    throw new DomainError(
      'invalid_transition',
      `Version ${Number(newer.version)} of ${row.key} is already approved; an older version cannot replace it.`,
    );
}

/** Every older version of the key still in force becomes `superseded`, each with its own audit event. */
async function supersedeOlder(
  tx: DbOrTx,
  deps: Deps,
  actor: Principal,
  kind: ContentKind,
  row: Row,
  now: Date,
): Promise<void> {
  const at = now.toISOString();
  const older = await tx
    .selectFrom(tableOf(kind))
    .select(['id', 'version'])
    .where('key', '=', row.key)
    .where('version', '<', row.version)
    .where('status', '=', 'approved')
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', at)]))
    .execute();
  for (const o of older) {
    await tx
      .updateTable(tableOf(kind))
      .set({ status: 'superseded', updated_at: at })
      .where('id', '=', o.id)
      .execute();
    await deps.audit.record(tx, {
      actor,
      action: `${kind}.superseded`,
      target: { type: kind, id: o.id },
      reason: `version ${Number(row.version)} approved`,
      before: { status: 'approved' },
      after: { status: 'superseded', replacedBy: { id: row.id, version: Number(row.version) } },
    });
  }
}

/**
 * Expiry with no one acting: every approved template and asset whose expiry has been reached becomes
 * `expired`, each with one audit event by Parley itself. Safe to run from several instances at once: a row
 * is changed (and audited) only by the run whose update found it still approved. Reads never wait for
 * this job (see `effectiveStatus`); it writes the state down for the record and for other systems.
 */
export async function expireDueContent(
  db: Db,
  deps: Pick<ParleyContext, 'clock' | 'audit'>,
): Promise<number> {
  const now = deps.clock.now().toISOString();
  let expired = 0;
  for (const kind of ['template', 'asset'] as const) {
    const due = await db
      .selectFrom(tableOf(kind))
      .select(['id', 'expires_at'])
      .where('status', '=', 'approved')
      .where('expires_at', '<=', now)
      .execute();
    for (const row of due) {
      const changed = await db.transaction().execute(async (tx) => {
        const result = await tx
          .updateTable(tableOf(kind))
          .set({ status: 'expired', updated_at: now })
          .where('id', '=', row.id)
          .where('status', '=', 'approved')
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) !== 1) return false;
        await deps.audit.record(tx, {
          actor: null,
          action: `${kind}.expired`,
          target: { type: kind, id: row.id },
          reason: `expiry date ${row.expires_at ?? ''} reached`,
          before: { status: 'approved' },
          after: { status: 'expired' },
        });
        return true;
      });
      if (changed) expired++;
    }
  }
  return expired;
}
