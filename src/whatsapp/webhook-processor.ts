import { setImmediate as turnOfTheEventLoop } from 'node:timers/promises';
import { sql } from 'kysely';
import type { ParleyContext } from '../context.js';
import type { DbOrTx, Tx } from '../platform/database/index.js';
import { isDomainError } from '../platform/errors/index.js';
import { applyTemplateCategory, applyTemplateStatus, applyUserPreference } from './account-updates.store.js';
import { applyInboundMessage } from './inbound-messages.store.js';
import {
  claimEvent,
  finishDelivery,
  noteAttemptFailed,
  pendingDeliveries,
  pendingEventKeys,
  quarantineDelivery,
  quarantineEvent,
  readStoredBody,
  storeEvents,
} from './inbox.store.js';
import { applyStatusUpdate } from './statuses.store.js';
import type { WebhookEvent } from './webhook-payload.js';

/** After this many failed attempts a delivery's remaining events are quarantined for a person. */
const MAX_ATTEMPTS = 5;
const BATCH = 100;

/**
 * Processes stored deliveries after Meta has had its 200. It runs when kicked (each new delivery), on a
 * timer (deliveries stored by another instance, retries after a failure) and at start-up (whatever a crash
 * left pending). Each event is applied in its own transaction that first claims it, so a replayed or
 * concurrently processed event takes effect once.
 */
export interface WebhookProcessor {
  /** Asks for a run soon; runs coalesce. Does nothing while paused or stopped. */
  kick(): void;
  /** Holds processing (tests of "acknowledge before processing"); deliveries are still stored. */
  pause(): void;
  resume(): void;
  /** Processes everything pending now, even while paused, and resolves when done. */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

export function createWebhookProcessor(
  ctx: ParleyContext,
  options: { pollMs?: number; paused?: boolean } = {},
): WebhookProcessor {
  let paused = options.paused ?? false;
  let stopped = false;
  let scheduled = false;
  let chain: Promise<void> = Promise.resolve();

  const enqueue = () => {
    chain = chain
      .then(() => processAll(ctx))
      .catch((err: unknown) => ctx.logger.error({ err }, 'webhook processing run failed'));
    return chain;
  };
  const kick = () => {
    if (paused || stopped || scheduled) return;
    scheduled = true;
    chain = chain.then(() => {
      scheduled = false;
    });
    void enqueue();
  };
  const timer = setInterval(kick, options.pollMs ?? 1000);
  timer.unref();
  // Start-up: whatever was acknowledged but not processed before a crash or a restart.
  kick();

  return {
    kick,
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      kick();
    },
    async drain() {
      await enqueue();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await chain;
    },
  };
}

/**
 * better-sqlite3 answers synchronously, so a chain of awaits over SQLite never gives the event loop back:
 * draining a backlog would hold every HTTP request (Meta's next deliveries first) until the inbox is
 * empty. The processor hands the loop back after each slice of this many milliseconds of work.
 */
const SLICE_MS = 5;

/**
 * How one event's effects are made atomic. On PostgreSQL each event is its own transaction: several
 * instances process side by side, and `ctx.audit.record` holds the audit head's lock until commit, so a
 * transaction spanning several events would hold it across other locks (and deadlock with the API). On
 * SQLite there is one connection and one writer: each slice of work is one transaction, and each event a
 * savepoint inside it, so an event that fails still leaves nothing behind, and a commit (the largest part of
 * an event's cost when each had its own) is paid once per slice.
 */
type EventRunner = (apply: (tx: Tx) => Promise<void>) => Promise<void>;

async function processAll(ctx: ParleyContext): Promise<void> {
  const failed: string[] = [];
  for (;;) {
    const batch = await pendingDeliveries(ctx.db, BATCH, failed);
    if (batch.length === 0) return;
    let next = 0;
    while (next < batch.length) {
      const sliceStarted = performance.now();
      const slice = async (db: DbOrTx, runEvent: EventRunner) => {
        while (next < batch.length && performance.now() - sliceStarted < SLICE_MS) {
          const delivery = batch[next++]!;
          if (!(await processDelivery(ctx, db, runEvent, delivery))) failed.push(delivery.id);
        }
      };
      if (ctx.dialect === 'sqlite') {
        await ctx.db.transaction().execute((tx) => slice(tx, (apply) => inSavepoint(tx, apply)));
      } else {
        await slice(ctx.db, (apply) => ctx.db.transaction().execute(apply));
      }
      await turnOfTheEventLoop();
    }
  }
}

async function inSavepoint(tx: Tx, apply: (tx: Tx) => Promise<void>): Promise<void> {
  await sql`savepoint webhook_event`.execute(tx);
  try {
    await apply(tx);
  } catch (err) {
    await sql`rollback to savepoint webhook_event`.execute(tx);
    throw err;
  } finally {
    await sql`release savepoint webhook_event`.execute(tx);
  }
}

/** Applies a delivery's pending events; false when one failed and the delivery should be retried later. */
async function processDelivery(
  ctx: ParleyContext,
  db: DbOrTx,
  runEvent: EventRunner,
  delivery: { id: string; body: string; attempts: number },
): Promise<boolean> {
  const now = () => ctx.clock.now().toISOString();
  const parsed = readStoredBody(ctx, delivery.body);
  if (!parsed.ok) {
    await quarantineDelivery(db, delivery.id, parsed.reason, now());
    return true;
  }
  // The events are stored on the first run (a later run, after a failure or a crash, finds them there).
  await storeEvents(db, delivery.id, parsed.events, now());
  const byKey = new Map(parsed.events.map((e) => [e.key, e]));
  for (const key of await pendingEventKeys(db, delivery.id)) {
    const event = byKey.get(key);
    if (!event || event.kind === 'quarantine') {
      await quarantineEvent(db, key, event ? event.reason : 'the event is no longer in its delivery', now());
      continue;
    }
    try {
      await runEvent(async (tx) => {
        if (!(await claimEvent(tx, key, now()))) return;
        await applyEvent(tx, ctx, event);
      });
    } catch (err) {
      // A domain refusal will not change on retry; anything else (the store went away) may.
      const reason = err instanceof Error ? `${err.name}: ${err.message}` : 'processing failed';
      const attempts = await noteAttemptFailed(db, delivery.id, reason).catch(() => MAX_ATTEMPTS);
      if (isDomainError(err) || attempts >= MAX_ATTEMPTS) {
        await quarantineEvent(db, key, reason, now()).catch(() => undefined);
        ctx.logger.warn({ eventKey: key.split(':')[0], inboxId: delivery.id }, 'webhook event quarantined');
        continue;
      }
      ctx.logger.error({ err, inboxId: delivery.id }, 'webhook event failed; will retry');
      return false;
    }
  }
  await finishDelivery(db, delivery.id, now());
  return true;
}

async function applyEvent(
  tx: Parameters<typeof applyStatusUpdate>[0],
  ctx: ParleyContext,
  event: Exclude<WebhookEvent, { kind: 'quarantine' }>,
): Promise<void> {
  switch (event.kind) {
    case 'message':
      return applyInboundMessage(tx, ctx, event);
    case 'status':
      return applyStatusUpdate(tx, ctx, event);
    case 'user_preference':
      return applyUserPreference(tx, ctx, event);
    case 'template_status':
      return applyTemplateStatus(tx, ctx, event);
    case 'template_category':
      return applyTemplateCategory(tx, ctx, event);
    case 'platform_error':
      // Account-level errors change no record; they are kept in the inbox and surfaced in the logs.
      ctx.logger.warn(
        { codes: event.errors.map((e) => e.code), phoneNumberId: event.phoneNumberId },
        'WhatsApp platform error',
      );
      return;
  }
}
