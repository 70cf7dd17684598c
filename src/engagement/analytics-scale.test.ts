import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../identity/index.js';
import { bareMessageRow, DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { runAnalyticsReport } from './analytics.store.js';
import { recordInteraction } from './interactions.store.js';
import { dosingLeaflet } from './analytics-fixtures.test-support.js';

/**
 * Reports over more rows than a statement takes parameters (SQLite: 32,766). The `assets` report once sent
 * the ids of every message with a link of the period back to the database as a list, and failed on a
 * year of the large world.
 */
const LINKS = 33_000;
const AT = '2026-03-02T10:00:00.000Z';

describe.each(DIALECTS)('analytics over many rows, on %s', (dialect) => {
  let p: TestParley;
  let principal: Principal;
  beforeAll(async () => {
    p = await startTestParley(dialect);
    principal = await p.world.principalFor('compliance');
  });
  afterAll(async () => {
    await p?.destroy();
  });

  it(`counts the click-through of ${LINKS} links shared in the period`, async () => {
    const db = p.context.db;
    const hcp = p.world.hcps.br1a;
    const asset = { id: 'ast_many' };
    await db
      .insertInto('assets')
      .values(dosingLeaflet(asset.id, p.world.users.brand.id, AT))
      .execute();
    const id = (i: number) => `msg_many_${String(i).padStart(5, '0')}`;
    for (let start = 0; start < LINKS; start += 1_000) {
      const ids = Array.from({ length: Math.min(1_000, LINKS - start) }, (_, k) => id(start + k));
      await db
        .insertInto('messages')
        .values(
          ids.map((messageId) =>
            bareMessageRow({
              id: messageId,
              hcp_id: hcp.id,
              rep_id: p.world.users.rep1.id,
              direction: 'outbound',
              wamid: `wamid.${messageId}`,
              phone_number_id: p.context.config.whatsapp.phoneNumberId,
              asset_ids_json: JSON.stringify([asset.id]),
              send_kind: 'rep',
              status: 'delivered',
              created_at: AT,
            }),
          ),
        )
        .execute();
      await db
        .insertInto('tracked_links')
        .values(
          ids.map((messageId) => ({
            code: `code_${messageId}`,
            message_id: messageId,
            asset_id: asset.id,
            hcp_id: hcp.id,
            created_at: AT,
          })),
        )
        .execute();
    }
    // Three links clicked, one of them twice; one click on the first message names another asset.
    const clicks: [number, string][] = [
      [0, asset.id],
      [0, asset.id],
      [LINKS / 2, asset.id],
      [LINKS - 1, asset.id],
      [1, 'ast_other'],
    ];
    for (const [n, [i, assetId]] of clicks.entries())
      await recordInteraction(db, p.context, {
        hcpId: hcp.id,
        channel: 'whatsapp',
        direction: 'inbound',
        kind: 'click',
        occurredAt: '2026-03-03T10:00:00.000Z',
        source: 'scale-test',
        externalId: `click-${n}`,
        messageId: id(i),
        assetIds: [assetId],
      });

    const result = await runAnalyticsReport(db, principal, 'assets', {
      from: '2026-03-01T00:00:00.000Z',
      to: '2026-04-01T00:00:00.000Z',
      bucket: 'day',
      weeklyCap: 2,
    });
    expect(result.summary).toEqual({
      linksSent: LINKS,
      linksClicked: 3,
      clickThroughRate: Math.round((3 / LINKS) * 10_000) / 10_000,
    });
    expect(result.rows).toMatchObject([{ assetId: asset.id, linksSent: LINKS, linksClicked: 3, clicks: 4 }]);
  }, 60_000);
});
