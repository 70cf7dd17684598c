import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHcp } from '../hcps/index.js';
import { resolveSession } from '../identity/index.js';
import { DIALECTS, startTestParley, type TestParley } from '../test-support/index.js';
import { createCloudApiClient, webhookProcessorOf, type CloudApiClient } from '../whatsapp/index.js';
import { sendMessage } from './compose.js';
import {
  approvedTemplate,
  freshWeek,
  grant,
  messageRow,
  outboxRowOf,
  queueReminder,
  sendBasisViolations,
  sendsFor,
  startStandIn,
  workersFor,
  type StandIn,
} from './messaging-fixtures.test-support.js';

/**
 * The send path under faults (RELIABILITY 12–17, 24): a transaction that fails before commit, a worker
 * that dies after Meta accepted, a connection dropped or timed out after the request left, Meta's rate
 * limits, and permanent errors. The stand-in runs on its own port on the test's clock; the workers send
 * to it over real HTTP and its status webhooks come back through Parley's signed webhook route.
 */

describe.each(DIALECTS)('the send path under faults on %s', (dialect) => {
  let p: TestParley;
  let standIn: StandIn;

  beforeAll(async () => {
    p = await startTestParley(dialect, { env: { PARLEY_SEND_WORKERS: '0' } });
    standIn = await startStandIn(p);
    await grant(p, p.world.hcps.br1a.id, 'service');
  });
  afterAll(async () => {
    await standIn?.close();
    await p?.destroy();
  });
  beforeEach(() => freshWeek(p));

  it('leaves no message, outbox row, decision or link when the send transaction fails before commit; after a commit it sends exactly once', async () => {
    const template = await approvedTemplate(p);
    const token = await p.world.tokenFor('rep1');
    const principal = (await resolveSession(p.context.db, token, p.clock.now()))!;
    const count = async () => ({
      messages: Number(
        (
          await p.context.db
            .selectFrom('messages')
            .select((eb) => eb.fn.countAll<number | string>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      ),
      outbox: Number(
        (
          await p.context.db
            .selectFrom('outbox')
            .select((eb) => eb.fn.countAll<number | string>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      ),
      decisions: Number(
        (
          await p.context.db
            .selectFrom('policy_decisions')
            .select((eb) => eb.fn.countAll<number | string>().as('n'))
            .where('kind', '=', 'send')
            .executeTakeFirstOrThrow()
        ).n,
      ),
    });
    const before = await count();
    // The audit write is the last step of the transaction: failing there means everything else was
    // already written inside it (message, decision, outbox row, history).
    const crashing = {
      ...p.context,
      audit: {
        ...p.context.audit,
        record: async () => {
          throw new Error('the process died before commit');
        },
      },
    };
    const body = { hcpId: p.world.hcps.br1a.id, templateId: template.id, parameters: { hora: '15:30' } };
    await expect(sendMessage(crashing, principal, body, 'atomic-1', {})).rejects.toThrow(
      'died before commit',
    );
    expect(await count()).toEqual(before);

    // The same request (same key) again, on a healthy process: one message, sent once however often the
    // workers run.
    const answer = await sendMessage(p.context, principal, body, 'atomic-1', {});
    expect(answer.status).toBe(202);
    const id = (answer.body as { message: { id: string } }).message.id;
    expect(await count()).toEqual({
      messages: before.messages + 1,
      outbox: before.outbox + 1,
      decisions: before.decisions + 1,
    });
    const workers = workersFor(p, standIn.client);
    await workers.runOnce();
    await workers.runOnce();
    p.clock.advance(10 * 60_000);
    await workers.runOnce();
    expect(sendsFor(standIn, id)).toHaveLength(1);
    expect((await messageRow(p, id)).wamid).toBe(sendsFor(standIn, id)[0]!.wamid);
  });

  it.each([
    ['the lease expires first (unknown), then the status webhook links the message', 'lease_first'],
    ['the status webhook links the message first, then the lease expires', 'webhook_first'],
  ] as const)(
    'never sends twice when the worker dies after Meta accepted and before the wamid was saved: %s',
    async (_title, order) => {
      const id = await queueReminder(p, p.world.hcps.br1a.id);
      // A worker whose process dies right after Meta answered: nothing after the HTTP call is written.
      const dying: CloudApiClient = {
        send: async (number, request) => {
          await standIn.client.send(number, request);
          throw new Error('killed after Meta accepted');
        },
        markRead: (number, request) => standIn.client.markRead(number, request),
      };
      if (order === 'lease_first') standIn.hold();
      await workersFor(p, dying, { leaseMs: 60_000 }).runOnce();
      expect(sendsFor(standIn, id)).toHaveLength(1);
      expect((await messageRow(p, id)).wamid).toBeNull();

      const healthy = workersFor(p, standIn.client, { leaseMs: 60_000 });
      if (order === 'lease_first') {
        p.clock.advance(2 * 60_000);
        await healthy.runOnce();
        expect(await messageRow(p, id)).toMatchObject({ status: 'unknown', wamid: null });
        await standIn.release();
      } else {
        await standIn.standalone.sandbox.drain();
        await webhookProcessorOf(p.context)?.drain();
        p.clock.advance(2 * 60_000);
        await healthy.runOnce();
      }
      const linked = await messageRow(p, id);
      expect(linked.wamid).toBe(sendsFor(standIn, id)[0]!.wamid);
      expect(linked.status).toBe('read');
      expect((await outboxRowOf(p, id)).state).toBe('done');
      p.clock.advance(10 * 60_000);
      await healthy.runOnce();
      expect(sendsFor(standIn, id)).toHaveLength(1);
    },
  );

  it('marks a send whose connection dropped after the request left as unknown and never sends it again', async () => {
    const id = await queueReminder(p, p.world.hcps.br1a.id);
    standIn.standalone.sandbox.injectFault({ kind: 'drop' });
    const workers = workersFor(p, standIn.client);
    await workers.runOnce();
    expect(await messageRow(p, id)).toMatchObject({ status: 'unknown', wamid: null });
    expect(await outboxRowOf(p, id)).toMatchObject({ state: 'done' });
    for (let i = 0; i < 3; i++) {
      p.clock.advance(30 * 60_000);
      await workers.runOnce();
    }
    expect(sendsFor(standIn, id)).toHaveLength(0);
    expect((await messageRow(p, id)).status).toBe('unknown');
  });

  it('settles a timed-out send through the status webhook when Meta did accept it, without sending again', async () => {
    const id = await queueReminder(p, p.world.hcps.br1a.id);
    // The stand-in holds its answer for 2 s, longer than this client's 1 s timeout, and then accepts.
    standIn.standalone.sandbox.injectFault({ kind: 'timeout' });
    const impatient = createCloudApiClient({
      baseUrl: standIn.standalone.baseUrl,
      apiVersion: p.context.config.whatsapp.apiVersion,
      accessToken: p.context.config.whatsapp.accessToken,
      timeoutMs: 1_000,
    });
    const workers = workersFor(p, impatient);
    await workers.runOnce();
    expect((await messageRow(p, id)).status).toBe('unknown');
    await waitUntil(() => sendsFor(standIn, id).length === 1);
    await standIn.standalone.sandbox.drain();
    await webhookProcessorOf(p.context)?.drain();
    expect(await messageRow(p, id)).toMatchObject({ status: 'read', wamid: sendsFor(standIn, id)[0]!.wamid });
    p.clock.advance(10 * 60_000);
    await workers.runOnce();
    expect(sendsFor(standIn, id)).toHaveLength(1);
  });

  it.each([
    ['131047 (the window closed)', 131047],
    ['131026 (undeliverable)', 131026],
    ['132001 (template unknown at Meta)', 132001],
    ['131051 (unsupported type)', 131051],
  ])(
    'never retries the permanent error %s: one attempt, then a dead letter with the reason',
    async (_t, code) => {
      const id = await queueReminder(p, p.world.hcps.br1a.id);
      standIn.standalone.sandbox.injectFault({ kind: 'error', code });
      const workers = workersFor(p, standIn.client);
      await workers.runOnce();
      for (let i = 0; i < 3; i++) {
        p.clock.advance(30 * 60_000);
        await workers.runOnce();
      }
      expect(await messageRow(p, id)).toMatchObject({ status: 'failed', error_code: code });
      const row = await outboxRowOf(p, id);
      expect(row).toMatchObject({ state: 'dead', attempts: 1 });
      expect(row.last_error).toContain(String(code));
      expect(sendsFor(standIn, id)).toHaveLength(0);
      const dead = await p.app.inject({
        method: 'GET',
        url: '/api/outbox/dead?limit=200',
        headers: { authorization: `Bearer ${await p.world.tokenFor('admin')}` },
      });
      expect(dead.json().items.map((d: { messageId: string }) => d.messageId)).toContain(id);
      await p.context.db
        .updateTable('hcps')
        .set({ whatsapp_status: 'active' })
        .where('id', '=', p.world.hcps.br1a.id)
        .execute();
    },
  );

  it.each([
    ['130429 (throughput)', 130429],
    ['131056 (pair rate)', 131056],
  ])('retries the rate limit %s with jittered backoff and sends exactly once', async (_t, code) => {
    const id = await queueReminder(p, p.world.hcps.br1a.id);
    standIn.standalone.sandbox.injectFault({ kind: 'error', code }, 3);
    const delays: number[] = [];
    const workers = workersFor(p, standIn.client, { backoffBaseMs: 2000 });
    for (let i = 0; i < 10 && sendsFor(standIn, id).length === 0; i++) {
      await workers.runOnce();
      const row = await outboxRowOf(p, id);
      if (row.state === 'pending') delays.push(Date.parse(row.available_at) - p.clock.now().getTime());
      p.clock.advance(10 * 60_000);
    }
    expect(sendsFor(standIn, id)).toHaveLength(1);
    expect(delays).toHaveLength(3);
    // Full jitter: each wait lies in [0, base·2^attempt] (at least 250 ms), capped at 5 minutes.
    delays.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(250);
      expect(d).toBeLessThanOrEqual(Math.min(2000 * 2 ** (i + 1), 5 * 60_000));
    });
    expect(await outboxRowOf(p, id)).toMatchObject({ state: 'done', attempts: 4 });
    await standIn.standalone.sandbox.drain();
    await webhookProcessorOf(p.context)?.drain();
    expect((await messageRow(p, id)).status).toBe('read');
  });

  describe('the per-number rate (RELIABILITY 16)', () => {
    const hcpIds: string[] = [];
    beforeAll(async () => {
      for (let i = 0; i < 12; i++) {
        const hcp = await createHcp(p.context.db, p.context, null, {
          crmId: `CRM-RATE-${i}`,
          name: `Dr. Taxa ${i}`,
          specialty: 'Cardiology',
          market: 'BR',
          language: 'pt-BR',
          timeZone: 'America/Sao_Paulo',
          whatsappNumber: `+55119${String(70000000 + i).padStart(8, '0')}`,
          territoryIds: [p.world.territories.br1],
        });
        await grant(p, hcp.id, 'service');
        hcpIds.push(hcp.id);
      }
    });

    async function queueAll(): Promise<string[]> {
      const ids: string[] = [];
      for (const hcpId of hcpIds) ids.push(await queueReminder(p, hcpId));
      return ids;
    }

    async function drain(workers: ReturnType<typeof workersFor>, ids: string[]) {
      for (let i = 0; i < 200 && ids.some((id) => sendsFor(standIn, id).length === 0); i++) {
        await workers.runOnce();
        p.clock.advance(100);
      }
    }

    it("paces a burst under the number's rate: the stand-in never refuses and never takes more than the cap in a second", async () => {
      const cap = 5;
      const limited = await startStandIn(p, {
        limits: { messagesPerSecond: cap, pairBurst: 45, pairRefillMs: 6000 },
      });
      try {
        const ids = await queueAll();
        const workers = workersFor(p, limited.client, {
          pacing: { perNumberPerSecond: cap, pairSpacingMs: 6000 },
          batchSize: 50,
        });
        await drain(workers, ids);
        const sends = (id: string) =>
          limited.standalone.sandbox.accepted.filter((a) => a.request.biz_opaque_callback_data === id);
        expect(ids.map((id) => sends(id).length)).toEqual(ids.map(() => 1));
        const times = ids.map((id) => sends(id)[0]!.at.getTime()).sort((a, b) => a - b);
        const busiest = Math.max(
          ...times.map((t, i) => times.filter((u, j) => j >= i && u - t < 1000).length),
        );
        expect(busiest).toBeLessThanOrEqual(cap);
        const rows = await p.context.db
          .selectFrom('outbox')
          .select('attempts')
          .where('message_id', 'in', ids)
          .execute();
        // Paced, not refused: every row went out on its first attempt.
        expect(rows.map((r) => r.attempts)).toEqual(ids.map(() => 1));
      } finally {
        await limited.close();
      }
    });

    it('loses nothing when Meta refuses a burst with 130429: retried with jitter, each sent once, the cap held at the stand-in', async () => {
      const cap = 5;
      const limited = await startStandIn(p, {
        limits: { messagesPerSecond: cap, pairBurst: 45, pairRefillMs: 6000 },
      });
      try {
        const ids = await queueAll();
        // Parley's own pacing set far above Meta's limit, so Meta's 130429 is what holds the burst back.
        const workers = workersFor(p, limited.client, {
          pacing: { perNumberPerSecond: 1000, pairSpacingMs: 0 },
          batchSize: 50,
          backoffBaseMs: 1000,
        });
        await drain(workers, ids);
        const sends = (id: string) =>
          limited.standalone.sandbox.accepted.filter((a) => a.request.biz_opaque_callback_data === id);
        expect(ids.map((id) => sends(id).length)).toEqual(ids.map(() => 1));
        const times = ids.map((id) => sends(id)[0]!.at.getTime()).sort((a, b) => a - b);
        const busiest = Math.max(
          ...times.map((t, i) => times.filter((u, j) => j >= i && u - t < 1000).length),
        );
        expect(busiest).toBeLessThanOrEqual(cap);
        const rows = await p.context.db
          .selectFrom('outbox')
          .select(['attempts', 'state'])
          .where('message_id', 'in', ids)
          .execute();
        expect(rows.every((r) => r.state === 'done')).toBe(true);
        expect(rows.filter((r) => r.attempts > 1).length).toBeGreaterThanOrEqual(ids.length - cap);
      } finally {
        await limited.close();
      }
    });
  });

  it('joins every message that left Parley in this run to a consent entry valid when it was claimed (RELIABILITY 24)', async () => {
    const sent = await p.context.db
      .selectFrom('messages')
      .select('id')
      .where('direction', '=', 'outbound')
      .where('status', 'in', ['unknown', 'sent', 'delivered', 'read'])
      .execute();
    expect(sent.length).toBeGreaterThan(5);
    expect(await sendBasisViolations(p.context.db)).toEqual([]);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
