import type { AuditActor, AuditTrail } from '../audit/index.js';
import type { Clock } from '../platform/clock/index.js';
import {
  decodeCursor,
  isUniqueViolation,
  pageOf,
  preparedQuery,
  type Db,
  type DbOrTx,
  type Page,
} from '../platform/database/index.js';
import { DomainError } from '../platform/errors/index.js';
import { DEFAULT_RULEBOOK_YAML } from './default-rulebook.js';
import { parseRulebook, type Rulebook, type RulebookProblem } from './rulebook.js';

/** A stored rulebook version, as the API shows it. */
export interface RulebookVersion {
  version: number;
  yaml: string;
  comment: string | null;
  createdBy: string | null;
  createdAt: string;
}

export interface RulebookVersionSummary {
  version: number;
  comment: string | null;
  createdBy: string | null;
  createdAt: string;
}

type Deps = { clock: Clock; audit: AuditTrail };

// A version never changes once stored, so its parsed form is kept (keyed by version and text, since
// tests run several stores in one process).
const parsedByVersion = new Map<string, Rulebook>();

function parsedOf(row: { version: number; yaml: string }): Rulebook {
  const key = `${row.version}\n${row.yaml}`;
  let rulebook = parsedByVersion.get(key);
  if (!rulebook) {
    const parsed = parseRulebook(row.yaml);
    // A stored version was validated when saved; failing here means the schema moved under it.
    if (!parsed.ok)
      throw new DomainError(
        'internal',
        `Rulebook version ${row.version} no longer validates`,
        parsed.problems,
      );
    rulebook = { version: row.version, document: parsed.document };
    parsedByVersion.set(key, rulebook);
  }
  return rulebook;
}

/**
 * Makes sure a rulebook exists: inserts the shipped default as version 1 (audited as Parley's own act)
 * when the table is empty. Safe to run from several instances at once: the loser of the race finds the
 * version already there.
 */
export async function ensureRulebook(db: Db, deps: Deps): Promise<void> {
  const any = await db.selectFrom('rulebooks').select('version').limit(1).executeTakeFirst();
  if (any) return;
  try {
    await db.transaction().execute(async (tx) => {
      await tx
        .insertInto('rulebooks')
        .values({
          version: 1,
          yaml: DEFAULT_RULEBOOK_YAML,
          comment: 'Shipped default',
          created_by: null,
          created_at: deps.clock.now().toISOString(),
        })
        .execute();
      await deps.audit.record(tx, {
        actor: null,
        action: 'rulebook.installed',
        target: { type: 'rulebook', id: '1' },
        after: { version: 1 },
        reason: 'No rulebook yet: the shipped default becomes version 1.',
      });
    });
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
  }
}

/** The latest version, stored and parsed. */
export async function currentRulebook(db: DbOrTx): Promise<{ stored: RulebookVersion; rulebook: Rulebook }> {
  const row = await db
    .selectFrom('rulebooks')
    .selectAll()
    .orderBy('version', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!row) throw new DomainError('unavailable', 'No rulebook is installed yet.');
  return { stored: toVersion(row), rulebook: parsedOf(row) };
}

// The rules of each version a decision has read, per store: a version never changes once stored, and a
// store is known by its Kysely adapter (one per store, shared by its transactions), since tests run
// several stores in one process.
const rulesByStore = new WeakMap<object, Map<number, Rulebook>>();
// Read on every check: built and compiled once (preparedQuery).
const latestVersionNumber = preparedQuery((db) =>
  db.selectFrom('rulebooks').select('version').orderBy('version', 'desc').limit(1),
);

/**
 * The latest version's rules, parsed: what every decision reads. Reads only the latest version's number
 * once that version has been read here: its text (several kilobytes) is not read again for each message.
 */
export async function latestRulebook(db: DbOrTx): Promise<Rulebook> {
  const store = db.getExecutor().adapter;
  const known = rulesByStore.get(store) ?? new Map<number, Rulebook>();
  rulesByStore.set(store, known);
  const latest = await latestVersionNumber.first(db, {});
  if (!latest) throw new DomainError('unavailable', 'No rulebook is installed yet.');
  const rules = known.get(latest.version) ?? (await rulebookVersion(db, latest.version))?.rulebook;
  if (!rules) throw new DomainError('unavailable', 'No rulebook is installed yet.');
  known.set(latest.version, rules);
  return rules;
}

/** One stored version, or undefined. */
export async function rulebookVersion(
  db: DbOrTx,
  version: number,
): Promise<{ stored: RulebookVersion; rulebook: Rulebook } | undefined> {
  const row = await db.selectFrom('rulebooks').selectAll().where('version', '=', version).executeTakeFirst();
  return row ? { stored: toVersion(row), rulebook: parsedOf(row) } : undefined;
}

export async function listRulebookVersions(
  db: DbOrTx,
  query: { limit: number; cursor?: string },
): Promise<Page<RulebookVersionSummary>> {
  let q = db
    .selectFrom('rulebooks')
    .select(['version', 'comment', 'created_by', 'created_at'])
    .orderBy('version', 'desc')
    .limit(query.limit + 1);
  if (query.cursor) {
    const key = decodeCursor(query.cursor);
    if (!key || typeof key[0] !== 'number') throw new DomainError('validation_failed', 'Unknown cursor.');
    q = q.where('version', '<', key[0]);
  }
  const rows = await q.execute();
  return pageOf(
    rows,
    query.limit,
    (r) => [r.version],
    (r) => ({ version: r.version, comment: r.comment, createdBy: r.created_by, createdAt: r.created_at }),
  );
}

/**
 * Saves a new version after validating it. Refused with `validation_failed` (each problem with its line
 * and field) when the YAML is not a valid rulebook; with `conflict` when `baseVersion` is given and is not
 * the latest (someone saved in between). Audited as `rulebook.updated` with the versions before and after,
 * in the same transaction.
 */
export async function saveRulebook(
  db: Db,
  deps: Deps,
  actor: AuditActor,
  input: { yaml: string; comment?: string | null; baseVersion?: number },
): Promise<{ stored: RulebookVersion; rulebook: Rulebook }> {
  const parsed = parseRulebook(input.yaml);
  if (!parsed.ok) throw invalid(parsed.problems);
  try {
    const row = await db.transaction().execute(async (tx) => {
      const latest = await tx
        .selectFrom('rulebooks')
        .select('version')
        .orderBy('version', 'desc')
        .limit(1)
        .executeTakeFirst();
      const before = latest?.version ?? 0;
      if (input.baseVersion !== undefined && input.baseVersion !== before)
        throw new DomainError(
          'conflict',
          `The rulebook is at version ${before}, not ${input.baseVersion}: reload it and apply your change again.`,
        );
      const values = {
        version: before + 1,
        yaml: input.yaml,
        comment: input.comment ?? null,
        created_by: actor.id,
        created_at: deps.clock.now().toISOString(),
      };
      // Two saves at once compute the same version: the primary key lets one win, the other gets a conflict.
      await tx.insertInto('rulebooks').values(values).execute();
      await deps.audit.record(tx, {
        actor,
        action: 'rulebook.updated',
        target: { type: 'rulebook', id: String(values.version) },
        reason: input.comment ?? null,
        before: { version: before },
        after: { version: values.version },
      });
      return values;
    });
    return { stored: toVersion(row), rulebook: parsedOf(row) };
  } catch (err) {
    if (isUniqueViolation(err))
      throw new DomainError(
        'conflict',
        'Someone saved the rulebook at the same moment: reload it and try again.',
      );
    throw err;
  }
}

function invalid(problems: RulebookProblem[]): DomainError {
  const first = problems[0];
  const where = first?.line
    ? `line ${first.line}${first.path ? ` (${first.path})` : ''}`
    : (first?.path ?? '');
  return new DomainError(
    'validation_failed',
    `The rulebook is not valid: ${where}: ${first?.message ?? 'invalid'}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`,
    problems.map((p) => ({
      path: p.path ? `body.${p.path}` : 'body',
      line: p.line,
      column: p.column,
      message: p.message,
    })),
  );
}

function toVersion(row: {
  version: number;
  yaml: string;
  comment: string | null;
  created_by: string | null;
  created_at: string;
}): RulebookVersion {
  return {
    version: Number(row.version),
    yaml: row.yaml,
    comment: row.comment,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}
