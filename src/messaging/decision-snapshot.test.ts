import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentForMessage } from '../content/index.js';
import {
  decide,
  rulebookVersion,
  type Decision,
  type DecisionContext,
  type DecisionRequest,
} from '../policy/index.js';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { mountedSandbox } from '../whatsapp/index.js';
import { toDecisionTemplate } from './decision-inputs.store.js';
import { approvedTemplate, freshWeek, grant, postMessage } from './messaging-fixtures.test-support.js';

/**
 * Issue 4 item 7: every decision is stored with a snapshot of its inputs, so that it can be explained and
 * replayed later. Replayed here from what is stored alone — the snapshot, the request, the rulebook
 * version it names and the content versions it names — `decide()` must give the same answer.
 */

interface StoredSnapshot {
  now: string;
  rulebookVersion: number;
  hcp: Omit<DecisionContext['hcp'], 'name'>;
  market: DecisionContext['market'];
  consent: DecisionContext['consent'];
  preferences: DecisionContext['preferences'];
  hcpMessages: DecisionContext['hcpMessages'];
  repMessages: DecisionContext['repMessages'];
  lastInboundAt: string | null;
  template: { id: string; status: string; whatsappStatus: string } | null;
  assets: { id: string }[];
  optInRequests: string[];
  consentHold: DecisionContext['consentHold'];
}

async function replay(p: TestParley, decisionId: string): Promise<Decision> {
  const row = await p.context.db
    .selectFrom('policy_decisions')
    .selectAll()
    .where('id', '=', decisionId)
    .executeTakeFirstOrThrow();
  const snapshot = JSON.parse(row.snapshot_json) as StoredSnapshot;
  const { hasText, ...asked } = JSON.parse(row.request_json) as Omit<DecisionRequest, 'repId'> & {
    hasText: boolean;
  };
  expect(hasText).toBe(false);
  const request: DecisionRequest = { ...asked, repId: row.requested_by };
  const rulebook = await rulebookVersion(p.context.db, snapshot.rulebookVersion);
  const content = await contentForMessage(
    p.context.db,
    { templateId: snapshot.template?.id ?? null, assetIds: snapshot.assets.map((a) => a.id) },
    new Date(snapshot.now),
  );
  const template = content.template && snapshot.template ? toDecisionTemplate(content.template) : null;
  const context: DecisionContext = {
    now: snapshot.now,
    rulebook: rulebook!.rulebook,
    // The snapshot leaves the name out (personal data): it only fills the sentences.
    hcp: { ...snapshot.hcp, name: 'the HCP' },
    market: snapshot.market,
    consent: snapshot.consent,
    preferences: snapshot.preferences,
    hcpMessages: snapshot.hcpMessages,
    repMessages: snapshot.repMessages,
    lastInboundAt: snapshot.lastInboundAt,
    template: template
      ? {
          ...template,
          status: snapshot.template!.status as typeof template.status,
          whatsappStatus: snapshot.template!.whatsappStatus as typeof template.whatsappStatus,
        }
      : null,
    assets: [],
    products: [],
    optInRequests: snapshot.optInRequests,
    consentHold: snapshot.consentHold,
  };
  return decide(request, context);
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
});
