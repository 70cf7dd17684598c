import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bareTemplateRow, DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { exportRecordPages, exportRecords } from './export.store.js';
import { recordInteraction } from './interactions.store.js';

describe.each(DIALECTS)('export paging on %s', (dialect) => {
  let p: TestParley;
  beforeAll(async () => {
    p = await startTestParley(dialect);
  });
  afterAll(async () => {
    await p?.destroy();
  });

  it('gives every record once, in (updatedAt, id) order, for any rows and any page size', async () => {
    let run = 0;
    const hcpIds = Object.values(p.world.hcps).map((h) => h.id);
    await fc.assert(
      fc.asyncProperty(
        // Rows written in a few clock steps, so many share `updated_at` and the id decides.
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 0, maxLength: 20 }),
        fc.integer({ min: 1, max: 6 }),
        async (steps, pageSize) => {
          run++;
          p.clock.advance(86_400_000);
          const since = p.clock.now().toISOString();
          const ids: string[] = [];
          for (const [i, step] of steps.entries()) {
            if (step === 0) p.clock.advance(1000);
            const created = await recordInteraction(p.context.db, p.context, {
              hcpId: hcpIds[i % hcpIds.length]!,
              channel: 'phone',
              direction: 'outbound',
              kind: 'call',
              occurredAt: since,
              source: 'export-prop',
              externalId: `${run}-${i}`,
            });
            ids.push(created.interaction.id);
          }
          const pages: string[][] = [];
          for await (const page of exportRecordPages(p.context.db, 'interactions', { since, pageSize })) {
            expect(page.length).toBeGreaterThan(0);
            expect(page.length).toBeLessThanOrEqual(pageSize);
            pages.push(page.map((r) => `${'updatedAt' in r ? r.updatedAt : ''}|${r.id}`));
          }
          const seen = pages.flat();
          expect(seen.map((k) => k.split('|')[1]).sort()).toEqual([...ids].sort());
          expect(seen).toEqual([...seen].sort());
          const flat: string[] = [];
          for await (const r of exportRecords(p.context.db, 'interactions', { since, pageSize }))
            flat.push(r.id);
          expect(flat).toEqual(seen.map((k) => k.split('|')[1]));
        },
      ),
      { numRuns: 20 },
    );
  });

  it('names the HCP, rep, template version and assets of each record as a join of the tables would', async () => {
    const now = p.clock.now().toISOString();
    const author = p.world.users.compliance.id;
    await p.context.db
      .insertInto('templates')
      .values(
        bareTemplateRow({
          id: 'tpl_export_1',
          key: 'follow-up-cardio',
          version: 3,
          classification: 'promotional',
          whatsapp_category: 'marketing',
          whatsapp_name: 'follow_up_cardio',
          approval_code: 'BR-TPL-0003',
          author_id: author,
          approved_by: author,
          approved_at: now,
          created_at: now,
        }),
      )
      .execute();
    const asset = (id: string, approvalCode: string | null) => ({
      id,
      key: `leaflet-${id}`,
      version: 2,
      title: 'Leaflet',
      kind: 'leaflet' as const,
      status: 'approved' as const,
      url: 'https://example.test/leaflet.pdf',
      approval_code: approvalCode,
      classification: 'promotional' as const,
      market_code: 'BR',
      brand: null,
      products_json: '[]',
      topics_json: '[]',
      author_id: author,
      approved_by: author,
      approved_at: now,
      expires_at: null,
      review_comment: null,
      created_at: now,
      updated_at: now,
    });
    await p.context.db
      .insertInto('assets')
      .values([asset('ast_export_1', 'BR-AST-1'), asset('ast_export_2', null)])
      .execute();
    p.clock.advance(86_400_000 * 400);
    const since = p.clock.now().toISOString();
    const hcps = Object.values(p.world.hcps);
    for (const [i, hcp] of hcps.entries()) {
      const created = await recordInteraction(p.context.db, p.context, {
        hcpId: hcp.id,
        channel: 'whatsapp',
        direction: 'outbound',
        kind: 'message',
        occurredAt: since,
        source: 'export-names',
        externalId: `N-${i}`,
      });
      if (i % 2 === 0)
        await p.context.db
          .updateTable('interactions')
          .set({
            template_id: 'tpl_export_1',
            asset_ids_json: JSON.stringify(['ast_export_1', 'ast_export_2']),
            rep_id: i % 4 === 0 ? p.world.users.rep1.id : 'usr_gone',
          })
          .where('id', '=', created.interaction.id)
          .execute();
    }
    const records = [];
    for await (const r of exportRecords(p.context.db, 'interactions', { since, pageSize: 3 }))
      records.push(r);
    const joined = await p.context.db
      .selectFrom('interactions as i')
      .innerJoin('hcps as h', 'h.id', 'i.hcp_id')
      .leftJoin('users as u', 'u.id', 'i.rep_id')
      .leftJoin('templates as t', 't.id', 'i.template_id')
      .select(['i.id', 'h.crm_id', 'u.email', 't.key', 't.version', 't.approval_code', 'i.asset_ids_json'])
      .where('i.source', '=', 'export-names')
      .execute();
    expect(records).toHaveLength(hcps.length);
    const byId = new Map(joined.map((j) => [j.id, j]));
    for (const r of records as {
      id: string;
      hcpCrmId: string;
      repEmail: string | null;
      templateKey: string | null;
      templateVersion: number | null;
      approvalCode: string | null;
      assetCodes: string[];
    }[]) {
      const j = byId.get(r.id)!;
      expect(r).toMatchObject({
        hcpCrmId: j.crm_id,
        repEmail: j.email,
        templateKey: j.key,
        templateVersion: j.version,
        approvalCode: j.approval_code,
        assetCodes: j.asset_ids_json === '[]' ? [] : ['BR-AST-1', 'leaflet-ast_export_2@2'],
      });
    }
    expect(records.some((r) => 'templateKey' in r && r.templateKey === 'follow-up-cardio')).toBe(true);
    expect(records.some((r) => 'repEmail' in r && r.repEmail === p.world.users.rep1.email)).toBe(true);
  });
});
