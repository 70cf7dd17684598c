import type { ParleyContext } from '../context.js';
import { inListedChunks, listedTimelineChunks } from '../engagement/index.js';
import { currentRulebook, rulesForMarket, type Rulebook } from '../policy/index.js';
import { forUpdateSkipLocked, type Db, type DbOrTx, type Dialect } from '../platform/database/index.js';
import { provenanceWithoutValues } from './personal-scrub.js';
import {
  RETENTION_KINDS,
  candidateCutoff,
  expiredRecords,
  periodFor,
  type RetentionCandidate,
  type RetentionKind,
  type RetentionPeriods,
} from './retention-rules.js';

type Deps = Pick<ParleyContext, 'db' | 'clock' | 'audit' | 'dialect'>;

/** What a run found and (unless a dry run) removed, per kind. */
export interface RetentionRun {
  dryRun: boolean;
  at: string;
  rulebookVersion: number;
  kinds: Record<RetentionKind, { expired: number; ids: string[] }>;
}

/** Ids per audit event: a big first run is recorded as several events, each naming what it removed. */
const CHUNK = 500;
/** Where no market owns a record (raw deliveries, the security log), days count in UTC. */
const NO_MARKET_ZONE = 'UTC';
/** What a message's parameter values become once its body has expired. */
const EXPIRED = '[expired]';
/** Messages still on their way keep their body whatever their age: the worker needs it to send. */
const IN_FLIGHT = ['pending_review', 'scheduled', 'queued', 'sending'];

interface Row {
  id: string;
  at: string;
  market: string | null;
  zone: string | null;
  held: number | null;
}

/**
 * The retention job (RELIABILITY 29): for each kind of record the rulebook sets a period for, finds the
 * records past it in their market's days (retention-rules.ts) and not under a legal hold, and removes
 * them — message bodies and parameters are emptied (the message row, its provenance and status history
 * stay as evidence of what was sent) and an unknown sender's number goes with its message's body; decisions, interactions (but those a case points to), processed
 * raw webhook deliveries and security-log rows are deleted. Audit events are never touched. Each batch
 * of removals is audited as metadata: the kind, how many and which ids (`retention.applied`).
 */
export async function runRetention(deps: Deps, options: { dryRun?: boolean } = {}): Promise<RetentionRun> {
  const now = deps.clock.now();
  const { stored, rulebook } = await currentRulebook(deps.db);
  const kinds = {} as RetentionRun['kinds'];
  for (const kind of RETENTION_KINDS) {
    const ids = await expiredOf(deps.db, kind, rulebook, now);
    if (options.dryRun) {
      kinds[kind] = { expired: ids.length, ids };
      continue;
    }
    const removed: string[] = [];
    for (let i = 0; i < ids.length; i += CHUNK) {
      await deps.db.transaction().execute(async (tx) => {
        // Another instance's run may be on the same rows: take only those still due and not locked.
        const claimed = await stillDue(tx, deps.dialect, kind, ids.slice(i, i + CHUNK));
        if (claimed.length === 0) return;
        await removeExpired(tx, kind, claimed);
        await deps.audit.record(tx, {
          actor: null,
          action: 'retention.applied',
          target: { type: 'retention', id: kind },
          after: { kind, count: claimed.length, ids: claimed, rulebookVersion: stored.version },
        });
        removed.push(...claimed);
      });
    }
    kinds[kind] = { expired: removed.length, ids: removed };
  }
  return { dryRun: options.dryRun ?? false, at: now.toISOString(), rulebookVersion: stored.version, kinds };
}

function periodsOf(rulebook: Rulebook, market: string | null): RetentionPeriods {
  return (market ? rulesForMarket(rulebook, market) : rulebook.document.global).retention;
}

/** The shortest period of a kind across the rulebook, for the store's coarse pre-selection. */
function shortestPeriod(rulebook: Rulebook, kind: RetentionKind): number {
  const markets = Object.keys(rulebook.document.markets ?? {});
  return Math.min(
    periodFor(kind, rulebook.document.global.retention),
    ...markets.map((m) => periodFor(kind, rulesForMarket(rulebook, m).retention)),
  );
}

async function expiredOf(db: Db, kind: RetentionKind, rulebook: Rulebook, now: Date): Promise<string[]> {
  const cutoff = candidateCutoff(shortestPeriod(rulebook, kind), now);
  const rows = await candidates(db, kind, cutoff);
  // Records of one market share a period: decide per market, keep the store's order.
  const byMarket = new Map<string | null, RetentionCandidate[]>();
  for (const r of rows) {
    const list = byMarket.get(r.market) ?? [];
    list.push({ id: r.id, at: r.at, timeZone: r.zone ?? NO_MARKET_ZONE, held: r.held === 1 });
    byMarket.set(r.market, list);
  }
  const expired = new Set<string>();
  for (const [market, list] of byMarket) {
    for (const id of expiredRecords(list, periodFor(kind, periodsOf(rulebook, market)), now)) expired.add(id);
  }
  return rows.map((r) => r.id).filter((id) => expired.has(id));
}

async function candidates(db: Db, kind: RetentionKind, cutoff: string): Promise<Row[]> {
  switch (kind) {
    case 'message_bodies':
      return db
        .selectFrom('messages as x')
        .leftJoin('hcps as h', 'h.id', 'x.hcp_id')
        .leftJoin('markets as k', 'k.code', 'h.market_code')
        .select([
          'x.id',
          'x.created_at as at',
          'h.market_code as market',
          'k.time_zone as zone',
          'h.legal_hold as held',
        ])
        .where('x.created_at', '<', cutoff)
        .where((eb) => eb.or([eb('x.body_enc', 'is not', null), eb('x.parameters_enc', 'is not', null)]))
        .where('x.status', 'not in', IN_FLIGHT)
        .orderBy('x.created_at')
        .orderBy('x.id')
        .execute();
    case 'decisions':
      return db
        .selectFrom('policy_decisions as x')
        .leftJoin('hcps as h', 'h.id', 'x.hcp_id')
        .leftJoin('markets as k', 'k.code', 'h.market_code')
        .select([
          'x.id',
          'x.decided_at as at',
          'h.market_code as market',
          'k.time_zone as zone',
          'h.legal_hold as held',
        ])
        .where('x.decided_at', '<', cutoff)
        .orderBy('x.decided_at')
        .orderBy('x.id')
        .execute();
    case 'interactions': {
      // A period through the index by time: its main part and each chunk an import's rows are still under.
      const chunks = await listedTimelineChunks(db);
      return (
        db
          .selectFrom('interactions as x')
          .leftJoin('hcps as h', 'h.id', 'x.hcp_id')
          .leftJoin('markets as k', 'k.code', 'h.market_code')
          .select([
            'x.id',
            'x.occurred_at as at',
            'h.market_code as market',
            'k.time_zone as zone',
            'h.legal_hold as held',
          ])
          .where(inListedChunks('x', chunks))
          .where('x.occurred_at', '<', cutoff)
          // A case points to the interaction it came from: the case's record needs it.
          .where(({ not, exists, selectFrom }) =>
            not(exists(selectFrom('cases as c').select('c.id').whereRef('c.interaction_id', '=', 'x.id'))),
          )
          .orderBy('x.occurred_at')
          .orderBy('x.id')
          .execute()
      );
    }
    case 'webhook_inbox':
      return (
        await db
          .selectFrom('webhook_inbox')
          .select(['id', 'received_at as at'])
          .where('received_at', '<', cutoff)
          .where('state', '=', 'processed')
          .orderBy('received_at')
          .orderBy('id')
          .execute()
      ).map((r) => ({ ...r, market: null, zone: null, held: 0 }));
    case 'security_log':
      return (
        await db
          .selectFrom('security_log as x')
          .leftJoin('hcps as h', 'h.id', 'x.target')
          .select(['x.id', 'x.at', 'h.legal_hold as held'])
          .where('x.at', '<', cutoff)
          .orderBy('x.at')
          .orderBy('x.id')
          .execute()
      ).map((r) => ({ ...r, market: null, zone: null }));
  }
}

/** Of `ids`, those still holding what the kind removes, locked for this transaction (in the given order). */
async function stillDue(tx: DbOrTx, dialect: Dialect, kind: RetentionKind, ids: string[]): Promise<string[]> {
  let found: Array<{ id: string }>;
  switch (kind) {
    case 'message_bodies':
      found = await forUpdateSkipLocked(
        dialect,
        tx
          .selectFrom('messages')
          .select('id')
          .where('id', 'in', ids)
          .where((eb) => eb.or([eb('body_enc', 'is not', null), eb('parameters_enc', 'is not', null)])),
      ).execute();
      break;
    case 'decisions':
      found = await forUpdateSkipLocked(
        dialect,
        tx.selectFrom('policy_decisions').select('id').where('id', 'in', ids),
      ).execute();
      break;
    case 'interactions':
      found = await forUpdateSkipLocked(
        dialect,
        tx.selectFrom('interactions').select('id').where('id', 'in', ids),
      ).execute();
      break;
    case 'webhook_inbox':
      found = await forUpdateSkipLocked(
        dialect,
        tx.selectFrom('webhook_inbox').select('id').where('id', 'in', ids),
      ).execute();
      break;
    case 'security_log':
      found = await forUpdateSkipLocked(
        dialect,
        tx.selectFrom('security_log').select('id').where('id', 'in', ids),
      ).execute();
      break;
  }
  const present = new Set(found.map((r) => r.id));
  return ids.filter((id) => present.has(id));
}

async function removeExpired(tx: DbOrTx, kind: RetentionKind, ids: string[]): Promise<void> {
  switch (kind) {
    case 'message_bodies': {
      const rows = await tx
        .selectFrom('messages')
        .select(['id', 'provenance_json'])
        .where('id', 'in', ids)
        .execute();
      for (const r of rows)
        await tx
          .updateTable('messages')
          .set({
            body_enc: null,
            parameters_enc: null,
            provenance_json: provenanceWithoutValues(r.provenance_json, EXPIRED),
          })
          .where('id', '=', r.id)
          .execute();
      // A message from a number that matched no HCP is the only reason its sender's number is kept.
      await tx.deleteFrom('unknown_contacts').where('message_id', 'in', ids).execute();
      return;
    }
    case 'decisions':
      await tx.deleteFrom('policy_decisions').where('id', 'in', ids).execute();
      return;
    case 'interactions':
      await tx.deleteFrom('interactions').where('id', 'in', ids).execute();
      return;
    case 'webhook_inbox':
      await tx.deleteFrom('webhook_inbox').where('id', 'in', ids).execute();
      return;
    case 'security_log':
      await tx.deleteFrom('security_log').where('id', 'in', ids).execute();
      return;
  }
}
