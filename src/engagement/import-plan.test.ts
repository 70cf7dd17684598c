import { CompiledQuery } from 'kysely';
import { describe, expect, it } from 'vitest';
import { queryPlan } from '../test-support/index.js';
import { seededPlanWorld } from '../test-support/plan-world.js';
import { PG_STORED_ROWS } from './import-interactions.store.js';

/**
 * An import looks up the rows already stored under each batch's keys. On PostgreSQL, with statistics that
 * do not know the import's source yet (gathered before its first rows, as on any store), the look-up as
 * `source in (…) and external_id in (…)` read every stored row of the source: an import of a million
 * lines got slower with each batch. It must seek the (source, external_id) index once per key.
 */
describe('the stored-rows look-up of an interactions import on postgres', () => {
  // Rows of a source the statistics have not seen: as many as the rest of the table.
  const world = seededPlanWorld('postgres', async (p) => {
    await p.context.db.executeQuery(
      CompiledQuery.raw(
        `insert into interactions (id, hcp_id, hcp_seq, channel, direction, kind, occurred_at, topics_json,
                                   products_json, source, external_id, asset_ids_json, created_at, updated_at)
         select 'int_new_' || i.id, i.hcp_id, i.hcp_seq, i.channel, i.direction, i.kind, i.occurred_at, '[]',
                '[]', 'crm-new', 'E-' || i.id, '[]', i.created_at, i.updated_at
           from interactions i`,
        [],
      ),
    );
  });

  it('seeks the key index once per key, whatever the statistics know of the source', async () => {
    const keys = Array.from({ length: 500 }, (_, i) => `E-int_${i}`);
    const plan = await queryPlan(world().context.db, {
      compile: () => CompiledQuery.raw(PG_STORED_ROWS, [keys.map(() => 'crm-new'), keys]),
    });
    expect(plan).toMatch(/Nested Loop/);
    expect(plan).toMatch(
      /Index Scan using interactions_source_external on interactions\s.*\n\s+Index Cond: \(\(source = k\.source\) AND \(external_id = k\.external_id\)\)/,
    );
    expect(plan).not.toMatch(/Seq Scan on interactions|Filter: .*external_id/);
  });
});
