import { sql } from 'kysely';
import { seedDemoWorld } from '../src/demo/index.js';
import { numberIndex } from '../src/hcps/index.js';
import { createSession } from '../src/identity/index.js';
import { createParley } from '../src/parley.js';
import { parseConfig } from '../src/platform/config/index.js';
import { ilike, type Db, type Dialect } from '../src/platform/database/index.js';
import { createLogger } from '../src/platform/logging/index.js';
import { DIALECTS, openTestStore } from '../src/test-support/index.js';
import { ms, ratio, summarise, table, timeAlternating, type BenchModule } from './bench-kit.js';

/**
 * HCP search through the whole HTTP stack (`GET /api/hcps?q=`: routing, auth, throttle, scoping, zod,
 * opening sealed numbers and emails, JSON) against the bare SQL a search needs at least (the same filter
 * and order, no scoping, nothing opened), on a seeded store of 20,000 HCPs, on both dialects.
 */

const HCPS = 20_000;
const ITERATIONS = 100;
// The route allows 120 reads per user per minute (bulk-extraction guard): spread calls over many users.
const USERS_PER_ROLE = 20;

interface Case {
  label: string;
  q: string | undefined;
  /** For a number search: its blind index, which is what the store looks up. */
  numberIndex?: string;
  /** For an exact CRM-id search: the id, looked up alone. */
  crmId?: string;
}

async function measureDialect(dialect: Dialect, log: (line: string) => void): Promise<string[][]> {
  const store = await openTestStore(dialect);
  const config = parseConfig({ PARLEY_DEMO: '0', PARLEY_LOG_LEVEL: 'silent', PORT: '0', HOST: '127.0.0.1' });
  const parley = await createParley({ config, store, logger: createLogger({ level: 'silent' }) });
  try {
    const { db } = parley.context;
    log(`${dialect}: seeding ${HCPS} HCPs`);
    await seedDemoWorld(parley.context, { seed: 1, hcps: HCPS, interactions: HCPS });
    // PostgreSQL's autovacuum gathers statistics within about a minute of a bulk load. Measured blind (no
    // statistics), it guesses a rep sees 2 HCPs and sorts all of their thousands instead of walking names.
    if (dialect === 'postgres') await sql`analyze`.execute(db);

    const now = new Date();
    const tokens: Record<'rep' | 'compliance', string[]> = { rep: [], compliance: [] };
    for (const role of ['rep', 'compliance'] as const) {
      for (let i = 0; i < USERS_PER_ROLE; i++) {
        const id = `usr_bench_${role}_${i}`;
        await db
          .insertInto('users')
          .values({
            id,
            email: `bench-${role}-${i}@parley.test`,
            name: `Bench ${role} ${i}`,
            role,
            password_hash: 'unused',
            manager_id: null,
            active: 1,
            created_at: now.toISOString(),
          })
          .execute();
        if (role === 'rep')
          await db
            .insertInto('user_territories')
            .values({ user_id: id, territory_id: 'ter_br_sp_centro' })
            .execute();
        tokens[role].push((await createSession(db, id, now, 1)).token);
      }
    }

    // An HCP in the rep's territory, to search for by CRM id and by number.
    const target = await db
      .selectFrom('hcps')
      .innerJoin('hcp_territories', 'hcp_territories.hcp_id', 'hcps.id')
      .select(['hcps.crm_id', 'hcps.whatsapp_number_enc'])
      .where('hcp_territories.territory_id', '=', 'ter_br_sp_centro')
      .where('hcps.whatsapp_number_enc', 'is not', null)
      .orderBy('hcps.id')
      .executeTakeFirstOrThrow();
    const number = parley.context.cipher.open(target.whatsapp_number_enc!);
    const cases: Case[] = [
      { label: 'first page, no `q`', q: undefined },
      { label: 'name contains a common surname (`Silva`)', q: 'Silva' },
      { label: 'name contains, no match', q: 'Zzyzx' },
      { label: 'exact CRM id', q: target.crm_id, crmId: target.crm_id },
      {
        label: 'exact E.164 number (blind index)',
        q: number,
        numberIndex: numberIndex(parley.context, number),
      },
    ];

    const address = await parley.app.listen({ port: 0, host: '127.0.0.1' });
    const rows: string[][] = [];
    let turn = 0;
    for (const role of ['rep', 'compliance'] as const) {
      for (const c of cases) {
        const url = `${address}/api/hcps?limit=50${c.q ? `&q=${encodeURIComponent(c.q)}` : ''}`;
        const times = await timeAlternating(
          async () => {
            const token = tokens[role][turn++ % USERS_PER_ROLE];
            const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
            if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}`);
            await response.arrayBuffer();
          },
          () => bareSearch(db, dialect, c),
          ITERATIONS,
        );
        const http = times.subject;
        const sql = times.baseline;
        const h = summarise(http);
        const s = summarise(sql);
        rows.push([dialect, role, c.label, ms(s.median), ms(h.median), ms(h.p95), ratio(h.median, s.median)]);
        log(`${dialect} ${role} ${c.label}: http ${ms(h.median)} ms, sql ${ms(s.median)} ms`);
      }
    }
    return rows;
  } finally {
    await parley.close();
    await store.destroy();
  }
}

/** The least a search must do: the same filter and order, 51 rows, no scoping, nothing decrypted. */
async function bareSearch(db: Db, dialect: Dialect, c: Case) {
  const q = c.q;
  let query = db.selectFrom('hcps').selectAll();
  if (c.numberIndex) query = query.where('whatsapp_number_bidx', '=', c.numberIndex);
  // An exact CRM id is looked up through its index (listVisibleHcps): the least is that look-up.
  else if (c.crmId) query = query.where('crm_id', '=', c.crmId);
  else if (q) query = query.where((eb) => eb.or([ilike(dialect, 'hcps.name', q), eb('crm_id', '=', q)]));
  return query.orderBy('name').orderBy('id').limit(51).execute();
}

export const bench: BenchModule = {
  name: 'hcp-search',
  title: 'HCP search through HTTP vs bare SQL',
  async run({ log }) {
    const rows: string[][] = [];
    for (const dialect of DIALECTS) rows.push(...(await measureDialect(dialect, log)));
    return [
      `${HCPS.toLocaleString('en')} demo HCPs (seed 1); each figure is over ${ITERATIONS} sequential calls after 5 untimed ones, HTTP and SQL in alternation.`,
      'HTTP is a real request over loopback to `GET /api/hcps?limit=50&q=…` (auth, throttle, territory scoping,',
      'zod, opening sealed numbers and emails of the 50 rows, JSON); the baseline is the bare query with the same',
      'filter and order and no scoping, run in the same process. The rep works one territory (about a quarter',
      'of the HCPs); compliance sees all. PostgreSQL is measured after `ANALYZE` (autovacuum does it within a minute',
      "of a bulk load; blind, it sorted all of a rep's HCPs for each first page); SQLite as it runs. An exact CRM id",
      'is looked up through its index alone, and so is its baseline.',
      '',
      table(
        [
          'store',
          'caller',
          'search',
          'bare SQL median (ms)',
          'HTTP median (ms)',
          'HTTP p95 (ms)',
          'HTTP / SQL',
        ],
        rows,
      ),
    ].join('\n');
  },
};
