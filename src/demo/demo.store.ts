import { sql } from 'kysely';
import type { ParleyContext } from '../context.js';
import { nextHcpSeqs, numberIndex, normaliseEmail } from '../hcps/index.js';
import { provenanceForStorage, type MessageProvenance } from '../messaging/index.js';
import { refreshConversationFacts, refreshDayCells, refreshMessageDays } from '../engagement/index.js';
import { hashPassword } from '../platform/crypto/index.js';
import {
  INTERACTIONS_OCCURRED_COLUMNS,
  isPostgres,
  type Database,
  type DbOrTx,
  type HcpsTable,
  type InteractionsTable,
  type MessageHistoryTable,
  type MessagesTable,
  type MessageStatusEventsTable,
  type PolicyDecisionsTable,
  type TrackedLinksTable,
  type Tx,
} from '../platform/database/index.js';
import { DomainError } from '../platform/errors/index.js';
import { DEFAULT_RULEBOOK_YAML, ensureRulebook, parseRulebook, rulesForMarket } from '../policy/index.js';
import { DEMO_USERS } from './demo-catalogue.js';
import {
  assetRows,
  consentEntriesFor,
  demoHcp,
  interactionCountFor,
  interactionsFor,
  marketRows,
  productRows,
  sendingNumberRows,
  templateRows,
  territoryRows,
  type DemoHcp,
  type DemoWorldOptions,
} from './demo-world.js';
import { libraryOf, type DemoMessage } from './demo-whatsapp.js';

export interface SeedOptions {
  /** Same seed, same world (names, numbers, consent, history), given the same clock. Default 1. */
  seed?: number;
  /** Default 300. */
  hcps?: number;
  /** Total interactions; default 30 per HCP. */
  interactions?: number;
  /**
   * All in one transaction (the default up to 50,000 rows) or streamed in transactions of about 100,000
   * rows (the default above).
   */
  atomic?: boolean;
  /** Called now and then while the large world is written. */
  onProgress?: (progress: { hcps: number; interactions: number }) => void;
}

export interface SeedSummary {
  seed: number;
  markets: number;
  users: number;
  territories: number;
  products: number;
  hcps: number;
  consentEntries: number;
  templates: number;
  assets: number;
  interactions: number;
  /** WhatsApp messages behind the history's WhatsApp interactions (sends and replies). */
  messages: number;
  /** Policy decisions behind the sends and the blocked attempts. */
  decisions: number;
  /** True when the whole world was written in one transaction (small worlds). */
  atomic: boolean;
}

export const DEFAULT_DEMO_HCPS = 300;
export const DEFAULT_INTERACTIONS_PER_HCP = 30;

/** Up to this many interactions the world is written in one transaction: all or nothing. */
const ATOMIC_LIMIT = 50_000;
/** Bound parameters per statement: under SQLite's 32,766 and PostgreSQL's 65,535. */
const MAX_PARAMETERS = 30_000;
/**
 * Rows per transaction when streaming a large world. Measured on SQLite (1M interactions): 2,000 rows
 * per transaction wrote 29 M blocks and took 150 s, 20,000 wrote 11 M in 105 s, 100,000 wrote 4.6 M in
 * 55 s; memory stays flat either way (rows are flushed every 5,000).
 */
const ROWS_PER_TRANSACTION = 100_000;

type Deps = Pick<ParleyContext, 'db' | 'cipher' | 'clock' | 'audit' | 'config'>;

/** True when the store holds no users and no HCPs: `serve` seeds the demo world only then. */
export async function isStoreEmpty(db: DbOrTx): Promise<boolean> {
  const [user, hcp] = await Promise.all([
    db.selectFrom('users').select('id').limit(1).executeTakeFirst(),
    db.selectFrom('hcps').select('id').limit(1).executeTakeFirst(),
  ]);
  return !user && !hcp;
}

/** The demo sign-ins, as `serve` prints them. */
export function demoLogins(): { email: string; role: string; name: string }[] {
  return DEMO_USERS.map((u) => ({ email: u.email, role: u.role, name: u.name }));
}

/**
 * Inserts rows in multi-row statements of at most MAX_PARAMETERS values. The remainder after the full
 * statements goes in chunks of power-of-two sizes: a flush's row count varies (a few hundred messages per
 * 5,000 interactions), and SQLite's store keeps each distinct statement compiled (connect.ts), hundreds of
 * kilobytes for a statement of a thousand rows, so sizes come from a fixed set of a dozen shapes.
 */
async function insertInBatches<T extends keyof Database & string>(
  db: DbOrTx,
  table: T,
  rows: readonly Database[T][],
): Promise<void> {
  const first = rows[0];
  if (!first) return;
  const size = Math.max(1, Math.floor(MAX_PARAMETERS / Object.keys(first).length));
  let i = 0;
  while (i < rows.length) {
    const left = rows.length - i;
    const n = left >= size ? size : 2 ** Math.floor(Math.log2(left));
    // Kysely's insert typing is per table; the rows are exactly that table's shape.
    await db
      .insertInto(table)
      .values(rows.slice(i, i + n) as never)
      .execute();
    i += n;
  }
}

/** A seeded message as the channel stores it: text, parameter values and provenance values sealed. */
function messageRow(deps: Pick<ParleyContext, 'cipher'>, m: DemoMessage): MessagesTable {
  const { body, parameters, provenance, ...rest } = m;
  return {
    ...rest,
    body_enc: body === null ? null : deps.cipher.seal(body),
    parameters_enc: parameters === null ? null : deps.cipher.seal(JSON.stringify(parameters)),
    provenance_json:
      m.direction === 'outbound'
        ? provenanceForStorage(provenance as MessageProvenance, deps.cipher)
        : JSON.stringify(provenance),
  };
}

function hcpRow(deps: Pick<ParleyContext, 'cipher'>, hcp: DemoHcp, seq: number, at: string): HcpsTable {
  const e164 = hcp.whatsappNumber;
  return {
    id: hcp.id,
    seq,
    crm_id: hcp.crmId,
    name: hcp.name,
    specialty: hcp.specialty,
    institution: hcp.institution,
    market_code: hcp.market.code,
    language: hcp.language,
    time_zone: hcp.timeZone,
    whatsapp_number_enc: e164 ? deps.cipher.seal(e164) : null,
    whatsapp_number_bidx: e164 ? numberIndex(deps, e164) : null,
    // As createHcp does: Meta's wa_id is the number's digits without the plus.
    wa_id_bidx: e164 ? deps.cipher.blindIndex(`wa:${e164.slice(1)}`) : null,
    bsuid: null,
    whatsapp_status: hcp.whatsappStatus,
    marketing_stopped: hcp.marketingStopped ? 1 : 0,
    email_enc: hcp.email ? deps.cipher.seal(normaliseEmail(hcp.email)) : null,
    email_bidx: hcp.email ? deps.cipher.blindIndex(`email:${normaliseEmail(hcp.email)}`) : null,
    segment: hcp.segment,
    legal_hold: 0,
    erased_at: null,
    created_at: at,
    updated_at: at,
  };
}

/**
 * Writes the demo world into an empty store: markets with sending numbers, territories, products, the demo
 * users (password `config.demo.password`), templates, assets, HCPs with their consent ledgers and a year of
 * history each. Rows go straight into the tables in batches (no per-row audit: one `demo.seeded` event
 * summarises the seed). A small world is written in one transaction; a large one is streamed, HCP by
 * HCP, in transactions of about 100,000 rows, so memory stays flat whatever the size.
 */
export async function seedDemoWorld(deps: Deps, options: SeedOptions = {}): Promise<SeedSummary> {
  const seed = options.seed ?? 1;
  const hcpCount = options.hcps ?? DEFAULT_DEMO_HCPS;
  const interactionCount = options.interactions ?? hcpCount * DEFAULT_INTERACTIONS_PER_HCP;
  if (!Number.isSafeInteger(seed) || hcpCount < 1 || interactionCount < 0)
    throw new DomainError('bad_request', 'seed must be an integer, hcps at least 1, interactions at least 0');
  if (!(await isStoreEmpty(deps.db)))
    throw new DomainError('conflict', 'The database already holds users or HCPs: seed only an empty one.');

  const now = deps.clock.now();
  const at = now.toISOString();
  const world: DemoWorldOptions = {
    seed,
    hcps: hcpCount,
    interactions: interactionCount,
    now,
    defaultPhoneNumberId: deps.config.whatsapp.phoneNumberId,
  };
  // One scrypt hash shared by every demo user: they share a published password anyway, and a hash per
  // user would cost about 50 ms each of the 5 s `npm start` may take on a busy two-core machine.
  const passwordHash = await hashPassword(deps.config.demo.password);
  const { templates, signatures: templateSignatures } = templateRows(world);
  const { assets, signatures: assetSignatures } = assetRows(world);
  // The rulebook the seeded decisions cite (version 1, the shipped default) and the purposes it gives.
  await ensureRulebook(deps.db, deps);
  const rulebook = parseRulebook(DEFAULT_RULEBOOK_YAML);
  if (!rulebook.ok) throw new Error('the shipped rulebook does not parse');
  const library = libraryOf(
    templates,
    assets,
    (market) => rulesForMarket({ version: 1, document: rulebook.document }, market).purposes,
    deps.config.publicUrl,
  );
  const atomic = options.atomic ?? interactionCount + hcpCount <= ATOMIC_LIMIT;
  const summary: SeedSummary = {
    seed,
    markets: 0,
    users: DEMO_USERS.length,
    territories: 0,
    products: 0,
    hcps: 0,
    consentEntries: 0,
    templates: templates.length,
    assets: assets.length,
    interactions: 0,
    messages: 0,
    decisions: 0,
    atomic,
  };

  const writeReferenceData = async (tx: DbOrTx) => {
    const markets = marketRows(world);
    const territories = territoryRows();
    const products = productRows();
    await insertInBatches(tx, 'markets', markets);
    await insertInBatches(tx, 'sending_numbers', sendingNumberRows(world));
    await insertInBatches(tx, 'territories', territories);
    await insertInBatches(tx, 'products', products);
    await insertInBatches(
      tx,
      'users',
      DEMO_USERS.map((u) => ({
        id: u.id,
        email: u.email,
        name: u.name,
        role: u.role,
        password_hash: passwordHash,
        manager_id: null,
        active: 1 as const,
        created_at: at,
      })),
    );
    // Managers after everyone exists: users.manager_id references users.
    for (const u of DEMO_USERS.filter((x) => x.manager)) {
      const manager = DEMO_USERS.find((m) => m.key === u.manager);
      await tx
        .updateTable('users')
        .set({ manager_id: manager?.id ?? null })
        .where('id', '=', u.id)
        .execute();
    }
    await insertInBatches(
      tx,
      'user_markets',
      DEMO_USERS.flatMap((u) => u.markets.map((m) => ({ user_id: u.id, market_code: m }))),
    );
    await insertInBatches(
      tx,
      'user_territories',
      DEMO_USERS.flatMap((u) => u.territories.map((t) => ({ user_id: u.id, territory_id: t }))),
    );
    await insertInBatches(tx, 'templates', templates);
    await insertInBatches(tx, 'assets', assets);
    await insertInBatches(tx, 'content_signatures', [...templateSignatures, ...assetSignatures]);
    summary.markets = markets.length;
    summary.territories = territories.length;
    summary.products = products.length;
  };

  // HCPs are written before their consent and history (foreign keys), a chunk of HCPs at a time.
  const writePeople = async (run: (write: (tx: DbOrTx) => Promise<void>) => Promise<void>) => {
    let next = 0;
    let sequence = 1;
    let pending = {
      interactions: [] as InteractionsTable[],
      messages: [] as MessagesTable[],
      decisions: [] as PolicyDecisionsTable[],
      links: [] as TrackedLinksTable[],
      history: [] as MessageHistoryTable[],
      events: [] as MessageStatusEventsTable[],
    };
    // Messages before the links that reference them; decisions and interactions cite them by id only.
    const flushInteractions = async (tx: DbOrTx) => {
      await insertInBatches(tx, 'policy_decisions', pending.decisions);
      await insertInBatches(tx, 'messages', pending.messages);
      await insertInBatches(tx, 'tracked_links', pending.links);
      await insertInBatches(tx, 'message_history', pending.history);
      await insertInBatches(tx, 'message_status_events', pending.events);
      await insertInBatches(tx, 'interactions', pending.interactions);
      summary.interactions += pending.interactions.length;
      summary.messages += pending.messages.length;
      summary.decisions += pending.decisions.length;
      pending = { interactions: [], messages: [], decisions: [], links: [], history: [], events: [] };
    };
    while (next < hcpCount) {
      await run(async (tx) => {
        const hcps: DemoHcp[] = [];
        let rowsInTransaction = 0;
        while (next < hcpCount && rowsInTransaction < ROWS_PER_TRANSACTION) {
          const hcp = demoHcp(world, next);
          hcps.push(hcp);
          rowsInTransaction += interactionCountFor(world, next) + 3;
          next++;
        }
        const seqs = await nextHcpSeqs(tx, hcps.length);
        const seqOf = (i: number) => {
          const seq = seqs[i];
          if (seq === undefined) throw new Error('fewer seqs than HCPs');
          return seq;
        };
        await insertInBatches(
          tx,
          'hcps',
          hcps.map((h, i) => hcpRow(deps, h, seqOf(i), at)),
        );
        await insertInBatches(
          tx,
          'hcp_territories',
          hcps.map((h) => ({ hcp_id: h.id, territory_id: h.territory.id })),
        );
        const ledgers = hcps.map((h) => consentEntriesFor(world, h));
        const consents = ledgers.flat();
        await insertInBatches(tx, 'consent_entries', consents);
        summary.consentEntries += consents.length;
        summary.hcps += hcps.length;
        for (const [i, hcp] of hcps.entries()) {
          const count = interactionCountFor(world, hcp.index);
          for (const row of interactionsFor(
            world,
            hcp,
            seqOf(i),
            count,
            sequence,
            library,
            ledgers[i] ?? [],
          )) {
            pending.interactions.push(row.interaction);
            if (row.message) pending.messages.push(messageRow(deps, row.message));
            if (row.decision) pending.decisions.push(row.decision);
            if (row.trackedLinks) pending.links.push(...row.trackedLinks);
            if (row.history) pending.history.push(...row.history);
            if (row.statusEvents) pending.events.push(...row.statusEvents);
            if (pending.interactions.length >= 5_000) await flushInteractions(tx);
          }
          sequence += count;
        }
        await flushInteractions(tx);
      });
      options.onProgress?.({ hcps: summary.hcps, interactions: summary.interactions });
    }
  };

  const audit = async (tx: DbOrTx) => {
    await deps.audit.record(tx, {
      actor: null,
      action: 'demo.seeded',
      target: { type: 'database', id: 'demo' },
      after: { ...summary },
    });
  };

  if (atomic) {
    await deps.db.transaction().execute(async (tx: Tx) => {
      await writeReferenceData(tx);
      await writePeople((write) => write(tx));
      await audit(tx);
    });
  } else {
    await deps.db.transaction().execute(writeReferenceData);
    // The one index of interactions that a bulk load fills in random order (by time, while rows arrive
    // HCP by HCP): maintaining it row by row costs more than building it once at the end.
    await deps.db.schema.dropIndex('interactions_occurred').execute();
    try {
      await writePeople((write) => deps.db.transaction().execute(write));
    } finally {
      // Even after a failure: the schema must stay what the migrations made.
      await deps.db.schema
        .createIndex('interactions_occurred')
        .ifNotExists()
        .on('interactions')
        .columns(INTERACTIONS_OCCURRED_COLUMNS)
        .execute();
    }
    await deps.db.transaction().execute(audit);
  }
  // What the reports keep as the world is written, brought up to date as `parley serve`'s refresher would
  // (a large world's volume report read every interaction until then): the day cells of the interactions
  // and of the messages, and the facts kept per message. The triggers marked every day and HCP the seed
  // wrote to.
  await refreshDayCells(deps.db);
  await refreshConversationFacts(deps.db);
  await refreshMessageDays(deps.db);
  // Fresh planner statistics: without them PostgreSQL guesses a rep sees two HCPs and sorts every HCP for
  // each page until autovacuum catches up. On PostgreSQL the seeded tables are vacuumed too, as autovacuum
  // would do after such a load: until then the fact refresh's old row versions stay, and index-only reads
  // visit the table for every row (the whatsapp report of the 10M world took 1.3 s instead of 0.6 s on a
  // server with autovacuum off). Named tables only: a test database holds other suites' schemas.
  if (isPostgres(deps.db)) {
    const tables = await sql<{ name: string }>`select table_name as name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`.execute(
      deps.db,
    );
    await sql`vacuum (analyze) ${sql.join(tables.rows.map((t) => sql.table(t.name)))}`.execute(deps.db);
  } else await sql`analyze`.execute(deps.db);
  return summary;
}
