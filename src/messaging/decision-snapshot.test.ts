import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../platform/crypto/index.js';
import type { Decision } from '../policy/index.js';
import {
  bareAssetRow,
  bareMessageRow,
  DIALECTS,
  startTestParley,
  type TestParley,
} from '../test-support/index.js';
import { mountedSandbox } from '../whatsapp/index.js';
import { replayDecision, type DecisionSnapshot } from './decision-snapshot.js';
import { approvedTemplate, freshWeek, grant, postMessage } from './messaging-fixtures.test-support.js';

/**
 * Issue 4 item 7: every decision is stored with a snapshot of its inputs, so that it can be explained and
 * replayed later. Replayed from what is stored alone — the snapshot, the request, the rulebook version it
 * names and the content versions it names — `decide()` must give the same answer (`replayDecision`).
 */

async function replay(p: TestParley, decisionId: string): Promise<Decision> {
  const replayed = await replayDecision(p.context.db, decisionId);
  expect(replayed).toBeDefined();
  // The decision as it was stored beside its snapshot is the one given again.
  const { stored, replayed: again, agrees } = replayed!;
  expect(agrees).toBe(true);
  expect([again.outcome, again.purpose, again.rulebookVersion]).toEqual([
    stored.outcome,
    stored.purpose,
    stored.rulebookVersion,
  ]);
  expect(again.reasons.map((r) => [r.code, r.rule])).toEqual(stored.reasons.map((r) => [r.code, r.rule]));
  return again;
}

async function snapshotOfDecision(p: TestParley, decisionId: string) {
  const row = await p.context.db
    .selectFrom('policy_decisions')
    .select('snapshot_json')
    .where('id', '=', decisionId)
    .executeTakeFirstOrThrow();
  return JSON.parse(row.snapshot_json) as DecisionSnapshot;
}

const essence = (d: Decision) => ({
  outcome: d.outcome,
  purpose: d.purpose,
  rulebookVersion: d.rulebookVersion,
  reasons: d.reasons.map((r) => [r.code, r.rule]),
  nextAllowedAt: d.nextAllowedAt ?? null,
});

describe.each(DIALECTS)('a stored decision explains itself on %s', (dialect) => {
  let p: TestParley;

  beforeAll(async () => {
    p = await startTestParley(dialect, { env: { PARLEY_SEND_WORKERS: '0' } });
  });
  afterAll(async () => {
    mountedSandbox(p.context)?.close();
    await p?.destroy();
  });

  it('replays from its snapshot, rulebook version and content versions to the same outcome, reasons and next moment', async () => {
    freshWeek(p);
    const { br1a, br1b } = p.world.hcps;
    await grant(p, br1a.id, 'service');
    const template = await approvedTemplate(p);
    const proposal = (hcpId: string) => ({ hcpId, templateId: template.id, parameters: { hora: '15:30' } });
    const check = async (hcpId: string) => {
      const res = await p.app.inject({
        method: 'POST',
        url: '/api/messages/check',
        headers: { authorization: `Bearer ${await p.world.tokenFor('rep1')}` },
        payload: proposal(hcpId),
      });
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as Decision;
    };

    const allowed = await check(br1a.id);
    expect(allowed.outcome).toBe('allow');
    // One message today spends the HCP's daily cap: the next check is a denial with a next allowed moment.
    expect((await postMessage(p, proposal(br1a.id))).statusCode).toBe(202);
    const capped = await check(br1a.id);
    expect(capped.reasons.map((r) => r.code)).toContain('frequency_cap');
    expect(capped.nextAllowedAt).toBeDefined();
    const unconsented = await check(br1b.id);
    expect(unconsented.reasons.map((r) => r.code)).toContain('consent_missing');

    const stored = await p.context.db
      .selectFrom('policy_decisions')
      .select(['id', 'outcome'])
      .where('kind', '=', 'check')
      .where('requested_by', '=', p.world.users.rep1.id)
      .orderBy('decided_at')
      .orderBy('id')
      .execute();
    const lastThree = stored.slice(-3);
    expect(lastThree.map((d) => d.outcome)).toEqual([allowed.outcome, capped.outcome, unconsented.outcome]);
    const answers = [allowed, capped, unconsented];
    for (const [i, d] of lastThree.entries()) {
      expect(essence(await replay(p, d.id))).toEqual(essence(answers[i]!));
    }
  });

  it("keeps of a busy rep's history the send times its cap counts, and of consent what is not `none`", async () => {
    freshWeek(p);
    const { br1b, br2a } = p.world.hcps;
    await grant(p, br1b.id, 'service');
    const template = await approvedTemplate(p);
    const now = p.clock.now().getTime();
    const at = (hoursAgo: number) => new Date(now - hoursAgo * 3600_000).toISOString();
    const phone = p.context.config.whatsapp.phoneNumberId;
    const repMessage = (createdAt: string, status: 'delivered' | 'failed') =>
      bareMessageRow({
        id: newId('msg'),
        hcp_id: br2a.id,
        direction: 'outbound',
        phone_number_id: phone,
        status,
        created_at: createdAt,
        rep_id: p.world.users.rep1.id,
        send_kind: 'rep',
      });
    // The rep cap's 60 in 24 hours, spread over the last 23; a failed one and one from 30 hours ago do not count.
    const counted = Array.from({ length: 60 }, (_, i) => at(23 - i * 0.3));
    await p.context.db
      .insertInto('messages')
      .values([
        ...counted.map((c) => repMessage(c, 'delivered')),
        repMessage(at(1), 'failed'),
        repMessage(at(30), 'delivered'),
      ])
      .execute();
    const assetId = newId('ast');
    await p.context.db
      .insertInto('assets')
      .values(
        bareAssetRow({
          id: assetId,
          key: `leaflet_${assetId.slice(-6)}`,
          market_code: 'BR',
          author_id: p.world.users.brand.id,
          created_at: at(48),
        }),
      )
      .execute();

    const res = await p.app.inject({
      method: 'POST',
      url: '/api/messages/check',
      headers: { authorization: `Bearer ${await p.world.tokenFor('rep1')}` },
      payload: {
        hcpId: br1b.id,
        templateId: template.id,
        parameters: { hora: '15:30' },
        assetIds: [assetId],
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    const answer = res.json() as Decision;
    expect(answer.reasons.map((r) => r.code)).toContain('rep_cap');
    expect(answer.nextAllowedAt).toBeDefined();
    const { id } = await p.context.db
      .selectFrom('policy_decisions')
      .select('id')
      .where('kind', '=', 'check')
      .where('hcp_id', '=', br1b.id)
      .orderBy('decided_at', 'desc')
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();

    const snapshot = await snapshotOfDecision(p, id);
    expect(snapshot.format).toBe(2);
    expect([...snapshot.repCapTimes].sort()).toEqual(counted.sort());
    expect(snapshot.consent).toEqual({
      whatsapp: { service: expect.objectContaining({ status: 'granted' }) },
    });
    expect(snapshot.assets.map((a) => a.id)).toEqual([assetId]);
    expect(essence(await replay(p, id))).toEqual(essence(answer));

    // A snapshot stored in format 1 (before format 2: every consent cell, the counted messages whole) replays too.
    const format1 = {
      ...snapshot,
      format: undefined,
      repCapTimes: undefined,
      products: undefined,
      consent: { ...snapshot.consent, email: { service: { status: 'none', expiresAt: null } } },
      repMessages: snapshot.repCapTimes.map((t) => ({ at: t, status: 'delivered', kind: 'rep' })),
    };
    await p.context.db
      .updateTable('policy_decisions')
      .set({ snapshot_json: JSON.stringify(format1) })
      .where('id', '=', id)
      .execute();
    expect(essence(await replay(p, id))).toEqual(essence(answer));
  });

  it('replays a stored decision for compliance over HTTP, and only for compliance', async () => {
    const { id } = await p.context.db
      .selectFrom('policy_decisions')
      .select('id')
      .where('kind', '=', 'check')
      .orderBy('decided_at', 'desc')
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    const get = async (user: 'compliance' | 'rep1' | 'manager', decisionId: string) =>
      p.app.inject({
        method: 'GET',
        url: `/api/decisions/${decisionId}/replay`,
        headers: { authorization: `Bearer ${await p.world.tokenFor(user)}` },
      });
    const res = await get('compliance', id);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { decisionId: string; agrees: boolean; stored: Decision; replayed: Decision };
    expect(body.decisionId).toBe(id);
    expect(body.agrees).toBe(true);
    expect(body.replayed.reasons.map((r) => r.code)).toEqual(body.stored.reasons.map((r) => r.code));
    // The replayed sentences do not name the HCP: the snapshot leaves the name out.
    for (const hcp of Object.values(p.world.hcps))
      expect(JSON.stringify(body.replayed)).not.toContain(hcp.name);
    expect((await get('rep1', id)).statusCode).toBe(403);
    expect((await get('manager', id)).statusCode).toBe(403);
    expect((await get('compliance', 'dec_nothing')).statusCode).toBe(404);
    // A decision the demo seed wrote with its history has a snapshot of its own, with nothing to replay.
    const seeded = await p.context.db
      .selectFrom('policy_decisions')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    const seededId = `${id}_seed`;
    await p.context.db
      .insertInto('policy_decisions')
      .values({
        ...seeded,
        id: seededId,
        snapshot_json: JSON.stringify({ source: 'demo seed', now: seeded.decided_at }),
      })
      .execute();
    const refused = await get('compliance', seededId);
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error.message).toMatch(/nothing to replay/);
  });
});
