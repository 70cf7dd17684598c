import { randomBytes } from 'node:crypto';
import type { ParleyContext } from '../context.js';
import {
  CONSENT_BUTTON_PAYLOADS,
  consentBasisAt,
  foldConsent,
  isOptOutLabel,
  listConsentEntries,
  type ConsentEntry,
  type ConsentPurpose,
} from '../consent/index.js';
import { recordInteraction } from '../engagement/index.js';
import type { Db, DbOrTx, MessagesTable } from '../platform/database/index.js';
import type { Decision } from '../policy/index.js';
import {
  advanceStatus,
  backoffDelayMs,
  classifyCloudApiError,
  type CloudApiClient,
  type SendOutcome,
} from '../whatsapp/index.js';
import {
  buildSendRequest,
  provenanceFromStorage,
  storedProvenance,
  type MessageProvenance,
  type StoredProvenance,
} from './message-provenance.js';
import {
  claimDue,
  haltSends,
  hasRecentlySentTo,
  recentRecipientCount,
  recordHistory,
  recoverExpiredClaims,
  releaseRow,
  sendHaltFor,
  settleRow,
  type ClaimedRow,
} from './outbox.store.js';
import { SendPacer, type PacingLimits } from './send-pacing.js';

/** Decides a claimed message again, at claim time: consent, caps, hours and content may have changed. */
export type Redecide = (tx: DbOrTx, message: MessagesTable, now: Date) => Promise<Decision>;

export interface OutboxWorkerOptions {
  client: CloudApiClient;
  redecide: Redecide;
  /** Workers in this process; they compete for rows like separate instances would. */
  workers?: number;
  batchSize?: number;
  pollMs?: number;
  leaseMs?: number;
  /** Transient failures are retried this many times, then dead-lettered. */
  maxAttempts?: number;
  pacing?: PacingLimits;
  /** Backoff base for retries, in ms (full jitter). */
  backoffBaseMs?: number;
  random?: () => number;
  /**
   * Work done before each claim round, once per round for the process (the messaging module queues the
   * confirmations of fresh opt-outs here, so they go out on the next claim).
   */
  beforeRound?: () => Promise<unknown>;
}

export interface OutboxWorkers {
  /** Starts the polling loops (one per worker). */
  start(): void;
  /** Wakes the workers now (after a send was queued). */
  kick(): void;
  /** Runs one claim-and-send round across all workers; resolves with how many rows were handled. */
  runOnce(): Promise<number>;
  stop(): Promise<void>;
}

type Ctx = Pick<ParleyContext, 'db' | 'dialect' | 'clock' | 'cipher' | 'audit' | 'logger'>;

const MINUTE = 60_000;

/**
 * The outbox workers (issue 5 items 9–10). Each claims due rows, takes the whole decision again, paces the
 * send (per number and per recipient, and Meta's messaging-limit tier), sends through the Cloud API client
 * and settles the row from the outcome: accepted → sent; transient errors → retried with exponential
 * backoff and full jitter, then dead-lettered with an alert; permanent errors → failed with a sentence for
 * the rep; an ambiguous outcome → `unknown`, never re-sent automatically.
 */
export function startOutboxWorkers(ctx: Ctx, options: OutboxWorkerOptions): OutboxWorkers {
  const pacer = new SendPacer(options.pacing);
  const random = options.random ?? Math.random;
  const count = options.workers ?? 2;
  const pollMs = options.pollMs ?? 250;
  const leaseMs = options.leaseMs ?? 2 * MINUTE;
  const maxAttempts = options.maxAttempts ?? 5;
  const backoffBase = options.backoffBaseMs ?? 2000;
  let stopped = false;
  let wake: (() => void) | undefined;
  const loops: Promise<void>[] = [];

  async function settleOutcome(row: ClaimedRow, outcome: SendOutcome, to: string): Promise<void> {
    const now = ctx.clock.now();
    const iso = now.toISOString();
    const m = row.message;
    await ctx.db.transaction().execute(async (tx) => {
      const current = await tx
        .selectFrom('messages')
        .select(['status', 'wamid'])
        .where('id', '=', m.id)
        .executeTakeFirstOrThrow();
      if (outcome.outcome === 'accepted') {
        const status = advanceStatus(current.status, 'sent');
        await tx
          .updateTable('messages')
          .set({ wamid: outcome.wamid, status, status_at: iso })
          .where('id', '=', m.id)
          .execute();
        await recordHistory(tx, m.id, 'sent', iso, 'accepted by the Cloud API');
        await settleRow(tx, now, row.outbox.id, 'done', { countAttempt: true });
        if (m.hcp_id) {
          await recordInteraction(tx, ctx, {
            hcpId: m.hcp_id,
            channel: 'whatsapp',
            direction: 'outbound',
            kind: 'message',
            occurredAt: iso,
            repId: m.rep_id,
            summary: summaryOf(m),
            source: 'parley',
            externalId: m.id,
            templateId: m.template_id,
            assetIds: JSON.parse(m.asset_ids_json) as string[],
            messageId: m.id,
            status,
          });
        }
        await ctx.audit.record(tx, {
          actor: null,
          action: 'message.sent',
          target: { type: 'message', id: m.id },
          subjectId: m.hcp_id,
          after: { status, wamid: outcome.wamid, attempt: row.outbox.attempts + 1 },
        });
        return;
      }
      if (outcome.outcome === 'ambiguous') {
        await tx
          .updateTable('messages')
          .set({ status: advanceStatus(current.status, 'unknown'), status_at: iso })
          .where('id', '=', m.id)
          .execute();
        await recordHistory(
          tx,
          m.id,
          'unknown',
          iso,
          `the answer was lost (${outcome.cause}); waiting for the status webhook`,
        );
        await settleRow(tx, now, row.outbox.id, 'done', {
          countAttempt: true,
          lastError: `ambiguous: ${outcome.cause}`,
        });
        await ctx.audit.record(tx, {
          actor: null,
          action: 'message.outcome_unknown',
          target: { type: 'message', id: m.id },
          subjectId: m.hcp_id,
          reason: outcome.cause,
          after: { status: 'unknown' },
        });
        ctx.logger.warn(
          { messageId: m.id, cause: outcome.cause },
          'send outcome unknown; not re-sent, the status webhook will settle it',
        );
        return;
      }
      const code = outcome.outcome === 'rejected' ? outcome.error.code : undefined;
      const httpStatus = outcome.outcome === 'rejected' ? outcome.httpStatus : undefined;
      const title = outcome.outcome === 'rejected' ? outcome.error.message : `not sent: ${outcome.cause}`;
      const klass =
        outcome.outcome === 'not_sent'
          ? {
              handling: 'retry' as const,
              explanation: 'WhatsApp could not be reached; Parley will try again.',
            }
          : classifyCloudApiError(code, httpStatus);
      const attempts = row.outbox.attempts + 1;
      // Every failure is a dead letter with its reason (RELIABILITY 17): permanent ones at once (never
      // retried), transient ones once their retries are spent. Only the latter and unknown codes alert.
      const fail = async (explanation: string, exhausted = false) => {
        const state = 'dead' as const;
        await tx
          .updateTable('messages')
          .set({
            status: 'failed',
            status_at: iso,
            error_code: code ?? null,
            error_title: title,
            error_detail: explanation,
          })
          .where('id', '=', m.id)
          .execute();
        await recordHistory(tx, m.id, 'failed', iso, explanation);
        await settleRow(tx, now, row.outbox.id, state, {
          countAttempt: true,
          lastError: `${code ?? outcome.outcome}: ${title}`,
        });
        if (m.hcp_id) {
          await recordInteraction(tx, ctx, {
            hcpId: m.hcp_id,
            channel: 'whatsapp',
            direction: 'outbound',
            kind: 'message',
            occurredAt: iso,
            repId: m.rep_id,
            summary: `Not delivered: ${explanation}`,
            source: 'parley',
            externalId: m.id,
            templateId: m.template_id,
            messageId: m.id,
            status: 'failed',
          });
        }
        await ctx.audit.record(tx, {
          actor: null,
          action: exhausted ? 'message.dead_lettered' : 'message.failed',
          target: { type: 'message', id: m.id },
          subjectId: m.hcp_id,
          reason: explanation,
          after: { status: 'failed', errorCode: code ?? null, outbox: state },
        });
      };
      const retryAt = (delayMs: number) => new Date(now.getTime() + delayMs);
      const requeue = async (at: Date, detail: string, countAttempt = true) => {
        await tx
          .updateTable('messages')
          .set({ status: 'queued', status_at: iso })
          .where('id', '=', m.id)
          .where('status', '=', 'sending')
          .execute();
        await recordHistory(tx, m.id, 'queued', iso, detail);
        await releaseRow(tx, now, row.outbox.id, {
          availableAt: at,
          countAttempt,
          lastError: `${code ?? outcome.outcome}: ${title}`,
        });
      };
      switch (klass.handling) {
        case 'retry':
          if (attempts >= maxAttempts) {
            await fail(`${klass.explanation} Gave up after ${attempts} attempts.`, true);
            ctx.logger.error(
              { alert: 'outbox_dead_letter', messageId: m.id, code },
              'send dead-lettered after retries',
            );
          } else {
            await requeue(
              retryAt(Math.max(250, backoffDelayMs(attempts, random(), backoffBase))),
              klass.explanation,
            );
          }
          return;
        case 'retry_after_24h':
          if (attempts >= 2) await fail(klass.explanation);
          else await requeue(retryAt(24 * 60 * MINUTE), klass.explanation);
          return;
        case 'fail':
          await fail(klass.explanation);
          return;
        case 'fail_unreachable':
          await fail(klass.explanation);
          if (m.hcp_id) {
            await tx
              .updateTable('hcps')
              .set({ whatsapp_status: 'unreachable', updated_at: iso })
              .where('id', '=', m.hcp_id)
              .execute();
            await ctx.audit.record(tx, {
              actor: null,
              action: 'hcp.whatsapp_unreachable',
              target: { type: 'hcp', id: m.hcp_id },
              subjectId: m.hcp_id,
              reason: `Cloud API error ${code}`,
              after: { whatsappStatus: 'unreachable' },
            });
          }
          return;
        case 'pause_number':
        case 'halt_all': {
          const scope = klass.handling === 'halt_all' ? 'all' : m.phone_number_id;
          await haltSends(tx, now, scope, klass.explanation, code ?? 0);
          await requeue(retryAt(5 * MINUTE), klass.explanation, false);
          await ctx.audit.record(tx, {
            actor: null,
            action: klass.handling === 'halt_all' ? 'sending.halted' : 'sending_number.paused',
            target: { type: 'sending_number', id: scope },
            reason: klass.explanation,
            after: { errorCode: code ?? null },
          });
          ctx.logger.error({ alert: klass.handling, scope, code }, klass.explanation);
          return;
        }
        case 'dead_letter':
          await fail(klass.explanation, true);
          ctx.logger.error(
            { alert: 'outbox_dead_letter', messageId: m.id, code },
            'send dead-lettered: unknown error code',
          );
          return;
      }
    });
    void to;
  }

  /** Re-decides, paces and marks the message `sending` in one transaction; returns the recipient or why not. */
  async function prepare(row: ClaimedRow): Promise<{ to: string; basis: string | null } | undefined> {
    const now = ctx.clock.now();
    const iso = now.toISOString();
    const m = row.message;
    return ctx.db.transaction().execute(async (tx) => {
      const halt = await sendHaltFor(tx, m.phone_number_id);
      if (halt) {
        await releaseRow(tx, now, row.outbox.id, {
          availableAt: new Date(now.getTime() + MINUTE),
          countAttempt: false,
          lastError: `halted: ${halt.reason}`,
        });
        return undefined;
      }
      const hcp = m.hcp_id
        ? await tx
            .selectFrom('hcps')
            .select(['whatsapp_number_enc', 'whatsapp_status'])
            .where('id', '=', m.hcp_id)
            .executeTakeFirst()
        : undefined;
      const decision = await options.redecide(tx, m, now);
      if (decision.outcome !== 'allow' || !hcp?.whatsapp_number_enc) {
        const cancelled = await tx
          .updateTable('messages')
          .set({ status: 'cancelled', status_at: iso, error_detail: JSON.stringify(decision.reasons) })
          .where('id', '=', m.id)
          .where('status', 'in', ['queued', 'scheduled'])
          .executeTakeFirst();
        await settleRow(tx, now, row.outbox.id, 'cancelled', {
          countAttempt: false,
          lastError: decision.reasons.map((r) => r.code).join(','),
        });
        if (Number(cancelled.numUpdatedRows) > 0) {
          await recordHistory(tx, m.id, 'cancelled', iso, decision.reasons.map((r) => r.message).join(' '));
          if (m.hcp_id) {
            await recordInteraction(tx, ctx, {
              hcpId: m.hcp_id,
              channel: 'whatsapp',
              direction: 'outbound',
              kind: 'blocked_attempt',
              occurredAt: iso,
              repId: m.rep_id,
              summary: `Cancelled before sending: ${decision.reasons.map((r) => r.code).join(', ')}`,
              source: 'parley',
              externalId: m.id,
              templateId: m.template_id,
              messageId: m.id,
              status: 'cancelled',
            });
          }
          await ctx.audit.record(tx, {
            actor: null,
            action: 'message.cancelled',
            target: { type: 'message', id: m.id },
            subjectId: m.hcp_id,
            reason: 'decided again when claimed for sending',
            after: {
              status: 'cancelled',
              reasons: decision.reasons.map((r) => r.code),
              rulebookVersion: decision.rulebookVersion,
            },
          });
        }
        return undefined;
      }
      const basis = await basisAt(tx, m, decision, now);
      if (basis === undefined) {
        // decide() allowed, yet the ledger names no grant in force: never send without one.
        await releaseRow(tx, now, row.outbox.id, {
          availableAt: new Date(now.getTime() + MINUTE),
          countAttempt: false,
          lastError: 'no consent entry in force; decided again later',
        });
        return undefined;
      }
      const to = ctx.cipher.open(hcp.whatsapp_number_enc);
      const paced = pacer.take(m.phone_number_id, to, now.getTime());
      if (!paced.ok) {
        await releaseRow(tx, now, row.outbox.id, {
          availableAt: new Date(paced.retryAt),
          countAttempt: false,
          lastError: `paced: ${paced.limit}`,
        });
        return undefined;
      }
      const tier = await tx
        .selectFrom('sending_numbers')
        .select('messaging_limit')
        .where('phone_number_id', '=', m.phone_number_id)
        .executeTakeFirst();
      if (
        tier &&
        tier.messaging_limit > 0 &&
        m.hcp_id &&
        // A recipient already counted today costs nothing; only a new one needs the count.
        !(await hasRecentlySentTo(tx, m.phone_number_id, m.hcp_id, now)) &&
        (await recentRecipientCount(tx, m.phone_number_id, now)) >= tier.messaging_limit
      ) {
        pacer.release(m.phone_number_id, to, now.getTime());
        await releaseRow(tx, now, row.outbox.id, {
          availableAt: new Date(now.getTime() + 60 * MINUTE),
          countAttempt: false,
          lastError: 'messaging_limit: unique recipients in 24 h reached',
        });
        return undefined;
      }
      const marked = await tx
        .updateTable('messages')
        .set({ status: 'sending', status_at: iso })
        .where('id', '=', m.id)
        .where('status', 'in', ['queued', 'scheduled'])
        .executeTakeFirst();
      if (Number(marked.numUpdatedRows) === 0) {
        // Cancelled (an opt-out, a withdrawal) between the claim and now: nothing to send.
        pacer.release(m.phone_number_id, to, now.getTime());
        await settleRow(tx, now, row.outbox.id, 'cancelled', {
          countAttempt: false,
          lastError: 'message no longer queued',
        });
        return undefined;
      }
      await recordHistory(tx, m.id, 'sending', iso);
      // What this send rests on, kept beside it (RELIABILITY 24): one row per message, the latest claim's.
      await tx.deleteFrom('message_send_bases').where('message_id', '=', m.id).execute();
      await tx
        .insertInto('message_send_bases')
        .values({
          message_id: m.id,
          consent_entry_id: basis,
          purpose: decision.purpose,
          rulebook_version: decision.rulebookVersion,
          decided_at: iso,
        })
        .execute();
      return { to, basis };
    });
  }

  /**
   * The consent entry a send rests on at `now`: the grant in force for the decision's purpose; for the
   * opt-out confirmation, the opt-out it confirms. `undefined` when there is none (never send then).
   */
  async function basisAt(
    db: DbOrTx,
    m: MessagesTable,
    decision: Decision,
    now: Date,
  ): Promise<string | null | undefined> {
    const provenance = storedProvenance(m.provenance_json);
    if (provenance.kind === 'opt_out_confirmation') return provenance.consentEntryId ?? undefined;
    if (!decision.purpose || !m.hcp_id) return null;
    const entries = await listConsentEntries(db, m.hcp_id);
    return sendBasis(entries, decision.purpose as ConsentPurpose, provenance, now) ?? undefined;
  }

  /**
   * The last look before the request leaves: an opt-out committed after the claim (the claim marked the
   * message `sending` first, so the withdrawal could not cancel it) still stops the send.
   */
  async function withdrawnSinceClaim(row: ClaimedRow, basis: string | null): Promise<boolean> {
    const m = row.message;
    if (!m.hcp_id || basis === null) return false;
    const provenance = storedProvenance(m.provenance_json);
    if (provenance.kind === 'opt_out_confirmation') return false;
    const now = ctx.clock.now();
    const entries = await listConsentEntries(ctx.db, m.hcp_id);
    const purpose = provenance.purpose as ConsentPurpose | null;
    // A newer grant is still a grant; only "no basis in force any more" stops the send.
    return purpose !== null && sendBasis(entries, purpose, provenance, now) === null;
  }

  async function cancelBeforeSending(row: ClaimedRow): Promise<void> {
    const now = ctx.clock.now();
    const iso = now.toISOString();
    const m = row.message;
    await ctx.db.transaction().execute(async (tx) => {
      const moved = await tx
        .updateTable('messages')
        .set({ status: 'cancelled', status_at: iso, error_detail: 'consent changed after the claim' })
        .where('id', '=', m.id)
        .where('status', '=', 'sending')
        .executeTakeFirst();
      await settleRow(tx, now, row.outbox.id, 'cancelled', {
        countAttempt: false,
        lastError: 'consent changed after the claim',
      });
      if (Number(moved.numUpdatedRows) === 0) return;
      await recordHistory(tx, m.id, 'cancelled', iso, 'consent was withdrawn just before the send left');
      await ctx.audit.record(tx, {
        actor: null,
        action: 'message.cancelled',
        target: { type: 'message', id: m.id },
        subjectId: m.hcp_id,
        reason: 'consent changed between the claim and the send',
        after: { status: 'cancelled' },
      });
    });
  }

  async function handle(row: ClaimedRow): Promise<void> {
    const prepared = await prepare(row);
    if (!prepared) return;
    if (await withdrawnSinceClaim(row, prepared.basis)) {
      await cancelBeforeSending(row);
      return;
    }
    const provenance = provenanceFromStorage(row.message.provenance_json, ctx.cipher);
    const request = buildSendRequest({
      messageId: row.message.id,
      to: prepared.to,
      provenance,
      text: row.message.body_enc && !provenance.template ? ctx.cipher.open(row.message.body_enc) : null,
      contextWamid: row.message.context_wamid,
      payloads: CONSENT_BUTTON_PAYLOADS,
      isOptOutLabel: (label) => isOptOutLabel(label),
    });
    const outcome = await options.client.send(row.message.phone_number_id, request);
    await settleOutcome(row, outcome, prepared.to);
  }

  async function round(workerId: string): Promise<number> {
    const rows = await claimDue(ctx.db as Db, ctx, { workerId, limit: options.batchSize ?? 10, leaseMs });
    for (const row of rows) {
      try {
        await handle(row);
      } catch (err) {
        // A failure of Parley itself (the store went away): the lease expires and recovery decides.
        ctx.logger.error({ err, messageId: row.message.id }, 'outbox row failed; its lease will expire');
      }
    }
    return rows.length;
  }

  let lastBeforeRound = 0;
  async function housekeeping(): Promise<void> {
    await recoverExpiredClaims(ctx.db, ctx);
    // Once per poll interval for the whole process, however many workers loop.
    const t = Date.now();
    if (options.beforeRound && t - lastBeforeRound >= pollMs) {
      lastBeforeRound = t;
      await options.beforeRound();
    }
  }

  async function loop(workerId: string): Promise<void> {
    while (!stopped) {
      let handled = 0;
      try {
        await housekeeping();
        handled = await round(workerId);
      } catch (err) {
        ctx.logger.error({ err }, 'outbox round failed');
      }
      if (handled === 0 && !stopped) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, pollMs);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    }
  }

  const ids = Array.from({ length: count }, () => `wrk_${randomBytes(4).toString('hex')}`);
  return {
    kick() {
      wake?.();
    },
    async runOnce() {
      await recoverExpiredClaims(ctx.db, ctx);
      await options.beforeRound?.();
      const counts = await Promise.all(ids.map((id) => round(id)));
      return counts.reduce((a, b) => a + b, 0);
    },
    start() {
      for (const id of ids) loops.push(loop(id));
    },
    async stop() {
      stopped = true;
      wake?.();
      await Promise.all(loops);
    },
  };
}

/**
 * The ledger entry a send rests on: the grant in force for its purpose; for an opt-in request, the
 * pending (verbal) consent it asks the HCP to confirm, as decide() allows.
 */
function sendBasis(
  entries: ConsentEntry[],
  purpose: ConsentPurpose,
  provenance: Pick<StoredProvenance, 'template'>,
  now: Date,
): string | null {
  const granted = consentBasisAt(entries, 'whatsapp', purpose, now);
  if (granted || provenance.template?.type !== 'opt_in_request') return granted;
  const current = foldConsent(entries, 'whatsapp', purpose, now);
  return current.status === 'pending' ? (current.entryId ?? null) : null;
}

function summaryOf(m: MessagesTable): string {
  const p = JSON.parse(m.provenance_json) as Partial<MessageProvenance>;
  return p.template
    ? `WhatsApp template ${p.template.key} v${p.template.version} sent`
    : 'WhatsApp message sent';
}
