import { newId } from '../platform/crypto/index.js';
import type { Dialect, MessagesTable } from '../platform/database/index.js';
import { bareMessageRow, openTestStore, startTestParley, type TestStore } from '../test-support/index.js';
import { createCloudApiClient, sandboxNumbers, startStandaloneSandbox } from '../whatsapp/index.js';
import type { MessageProvenance } from './message-provenance.js';
import { startOutboxWorkers, type OutboxWorkers } from './outbox-worker.js';

/**
 * Competing outbox workers draining N queued messages through the Cloud API stand-in over HTTP
 * (RELIABILITY 15), for the test (a smaller N) and the bench (10,000). Each worker set is its own
 * "instance": on PostgreSQL its own connection pool, competing for rows through `FOR UPDATE SKIP LOCKED`;
 * on SQLite the sets share the one writer. The decision is held constant (always allow) and pacing is
 * lifted: this measures claiming, sending and settling, not the policy or Meta's limits.
 */
export interface DrainResult {
  n: number;
  seconds: number;
  sends: number;
  distinctMessages: number;
  distinctWamids: number;
  messagesSent: number;
  outboxDone: number;
  maxAttempts: number;
  sendingMarks: number;
}

const TEMPLATE = 'drain_check';

export async function drainWithCompetingWorkers(input: {
  dialect: Dialect;
  n: number;
  workerSets: number;
  log?: (line: string) => void;
}): Promise<DrainResult> {
  const log = input.log ?? (() => undefined);
  const p = await startTestParley(input.dialect, { env: { PARLEY_SEND_WORKERS: '0' } });
  const stores: TestStore[] = [];
  const sets: OutboxWorkers[] = [];
  const standalone = await startStandaloneSandbox({
    port: 0,
    accessToken: p.context.config.whatsapp.accessToken,
    appSecret: 'unused',
    now: () => p.clock.now(),
    statusDelaysMs: { sent: 0, delivered: 0, read: 0 },
    limits: { messagesPerSecond: 1e9, pairBurst: 1e9, pairRefillMs: 1 },
    templates: async () => [
      {
        name: TEMPLATE,
        language: 'pt_BR',
        category: 'utility',
        status: 'APPROVED',
        bodyParameterCount: 0,
        body: 'Lembrete.',
        buttons: [],
      },
    ],
    numbers: () => sandboxNumbers(p.context.db, p.context.config.whatsapp.phoneNumberId),
    deliverWebhook: async () => 200,
  });
  try {
    await p.context.db.updateTable('sending_numbers').set({ messaging_limit: 0 }).execute();
    log(`queueing ${input.n} messages`);
    await queueMessages(
      p.context,
      input.n,
      Object.values(p.world.hcps).map((h) => h.id),
    );
    const client = createCloudApiClient({
      baseUrl: standalone.baseUrl,
      apiVersion: p.context.config.whatsapp.apiVersion,
      accessToken: p.context.config.whatsapp.accessToken,
      timeoutMs: 10_000,
    });
    for (let s = 0; s < input.workerSets; s++) {
      let ctx = p.context;
      if (input.dialect === 'postgres') {
        const store = await openTestStore('postgres', { sameAs: p.store, maxConnections: 3 });
        stores.push(store);
        ctx = { ...p.context, db: store.db };
      }
      sets.push(
        startOutboxWorkers(ctx, {
          client,
          redecide: async () => ({ outcome: 'allow', purpose: null, reasons: [], rulebookVersion: 1 }),
          workers: 1,
          batchSize: 25,
          pacing: { perNumberPerSecond: 1e9, pairSpacingMs: 0 },
        }),
      );
    }
    log(`draining with ${input.workerSets} competing worker sets`);
    const started = performance.now();
    let idleRounds = 0;
    while (idleRounds < 2) {
      const handled = await Promise.all(sets.map((s) => s.runOnce()));
      idleRounds = handled.every((h) => h === 0) ? idleRounds + 1 : 0;
    }
    const seconds = (performance.now() - started) / 1000;
    const accepted = standalone.sandbox.accepted;
    const count = async (q: Promise<{ n: number | string | bigint } | undefined>) =>
      Number((await q)?.n ?? 0);
    const db = p.context.db;
    return {
      n: input.n,
      seconds,
      sends: accepted.length,
      distinctMessages: new Set(accepted.map((a) => a.request.biz_opaque_callback_data)).size,
      distinctWamids: new Set(accepted.map((a) => a.wamid)).size,
      messagesSent: await count(
        db
          .selectFrom('messages')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('status', '=', 'sent')
          .executeTakeFirst(),
      ),
      outboxDone: await count(
        db
          .selectFrom('outbox')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('state', '=', 'done')
          .executeTakeFirst(),
      ),
      maxAttempts: await count(
        db
          .selectFrom('outbox')
          .select((eb) => eb.fn.max('attempts').as('n'))
          .executeTakeFirst(),
      ),
      sendingMarks: await count(
        db
          .selectFrom('message_history')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('status', '=', 'sending')
          .executeTakeFirst(),
      ),
    };
  } finally {
    for (const s of sets) await s.stop();
    for (const store of stores) await store.destroy();
    await standalone.close();
    await p.destroy();
  }
}

async function queueMessages(
  ctx: Awaited<ReturnType<typeof startTestParley>>['context'],
  n: number,
  hcpIds: string[],
): Promise<void> {
  const iso = ctx.clock.now().toISOString();
  const provenance: MessageProvenance = {
    template: {
      id: 'tpl_drain',
      key: TEMPLATE,
      version: 1,
      approvalCode: null,
      whatsappName: TEMPLATE,
      whatsappLanguage: 'pt_BR',
      whatsappCategory: 'utility',
      classification: 'non_promotional',
      type: 'reminder',
      buttons: [],
    },
    bodyParameters: [],
    assets: [],
    purpose: null,
    consentEntryId: null,
    reviewedBy: null,
    kind: 'rep',
  };
  const body = ctx.cipher.seal('Lembrete.');
  for (let i = 0; i < n; i += 500) {
    const messages: MessagesTable[] = [];
    for (let j = i; j < Math.min(n, i + 500); j++) {
      messages.push(
        bareMessageRow({
          id: newId('msg'),
          hcp_id: hcpIds[j % hcpIds.length]!,
          direction: 'outbound',
          phone_number_id: ctx.config.whatsapp.phoneNumberId,
          body_enc: body,
          provenance_json: JSON.stringify(provenance),
          send_kind: 'rep',
          status: 'queued',
          created_at: iso,
        }),
      );
    }
    await ctx.db.insertInto('messages').values(messages).execute();
    await ctx.db
      .insertInto('outbox')
      .values(
        messages.map((m) => ({
          id: newId('obx'),
          message_id: m.id,
          state: 'pending' as const,
          available_at: iso,
          attempts: 0,
          claimed_by: null,
          claimed_until: null,
          last_error: null,
          created_at: iso,
          updated_at: iso,
        })),
      )
      .execute();
  }
}
