import type { Clock } from '../platform/clock/index.js';
import { newId, type PersonalDataCipher } from '../platform/crypto/index.js';
import { forUpdate, type Db, type DbOrTx, type Dialect, type Tx } from '../platform/database/index.js';
import { ChainVerifier, GENESIS_HASH, hashAuditRow, type ChainBreak } from './audit-chain.js';

/** Who did something; a `Principal` fits. `null` means Parley itself (a job, a webhook). */
export interface AuditActor {
  readonly id: string;
  readonly role: string;
}

/** One state change, as a capability reports it. */
export interface AuditEntry {
  actor: AuditActor | null;
  /** `<thing>.<verb>`, e.g. `consent.recorded`, `template.approved`. */
  action: string;
  target: { type: string; id: string };
  /** The HCP this concerns, if any: access requests and erasure find events through it. */
  subjectId?: string | null;
  reason?: string | null;
  /** Non-personal fields before and after the change. */
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
  /** Personal values (numbers, emails, text): sealed outside the chain, so erasure leaves it whole. */
  personal?: Record<string, unknown>;
}

export interface AuditTrail {
  /** Appends one event to the chain, inside the caller's transaction when given one. */
  record(db: DbOrTx, entry: AuditEntry): Promise<{ id: string; seq: number }>;
  /** Walks the whole chain; names the first broken row. */
  verify(db: Db): Promise<{
    ok: boolean;
    checked: number;
    firstBrokenId?: string;
    firstBrokenSeq?: number;
    problem?: ChainBreak['problem'];
  }>;
}

export function createAuditTrail(deps: {
  dialect: Dialect;
  cipher: PersonalDataCipher;
  clock: Clock;
}): AuditTrail {
  async function append(tx: Tx, entry: AuditEntry) {
    // The head row is the chain's lock: on PostgreSQL FOR UPDATE serialises writers across instances;
    // SQLite has a single writer at a time anyway.
    const head = await forUpdate(
      deps.dialect,
      tx.selectFrom('audit_head').selectAll().where('id', '=', 1),
    ).executeTakeFirst();
    const prev = head ?? { seq: 0, hash: GENESIS_HASH };
    const subjectId = entry.subjectId ?? null;
    let personalRef: string | null = null;
    const at = deps.clock.now().toISOString();
    if (entry.personal && Object.keys(entry.personal).length > 0) {
      personalRef = newId('aup');
      await tx
        .insertInto('audit_personal')
        .values({
          id: personalRef,
          subject_id: subjectId ?? entry.target.id,
          payload_enc: deps.cipher.seal(JSON.stringify(entry.personal)),
          created_at: at,
        })
        .execute();
    }
    const row = {
      seq: prev.seq + 1,
      id: newId('aud'),
      at,
      actor_id: entry.actor?.id ?? null,
      actor_role: entry.actor?.role ?? null,
      action: entry.action,
      target_type: entry.target.type,
      target_id: entry.target.id,
      subject_id: subjectId,
      reason: entry.reason ?? null,
      changes_json: JSON.stringify({ before: entry.before ?? null, after: entry.after ?? null }),
      personal_ref: personalRef,
      prev_hash: prev.hash,
    };
    const hash = hashAuditRow(row);
    await tx
      .insertInto('audit_events')
      .values({ ...row, hash })
      .execute();
    if (head) await tx.updateTable('audit_head').set({ seq: row.seq, hash }).where('id', '=', 1).execute();
    else await tx.insertInto('audit_head').values({ id: 1, seq: row.seq, hash }).execute();
    return { id: row.id, seq: row.seq };
  }

  return {
    async record(db, entry) {
      if (db.isTransaction) return append(db as Tx, entry);
      return (db as Db).transaction().execute((tx) => append(tx, entry));
    },
    async verify(db) {
      const verifier = new ChainVerifier();
      let after = 0;
      for (;;) {
        const rows = await db
          .selectFrom('audit_events')
          .selectAll()
          .where('seq', '>', after)
          .orderBy('seq')
          .limit(1000)
          .execute();
        for (const row of rows) {
          const broken = verifier.feed(row);
          if (broken)
            return {
              ok: false,
              checked: verifier.checked,
              firstBrokenId: broken.id ?? undefined,
              firstBrokenSeq: broken.seq,
              problem: broken.problem,
            };
        }
        if (rows.length < 1000) break;
        after = rows[rows.length - 1]!.seq;
      }
      const head = await db
        .selectFrom('audit_head')
        .select(['seq', 'hash'])
        .where('id', '=', 1)
        .executeTakeFirst();
      const broken = verifier.finish(head);
      if (broken)
        return { ok: false, checked: verifier.checked, firstBrokenSeq: broken.seq, problem: broken.problem };
      return { ok: true, checked: verifier.checked };
    },
  };
}
