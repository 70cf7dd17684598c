import { expect } from 'vitest';
import { consentBasisAt, listConsentEntries, type ConsentPurpose } from '../consent/index.js';
import { newId } from '../platform/crypto/index.js';
import type { DbOrTx } from '../platform/database/index.js';
import { bareTemplateRow, TEST_APP_SECRET, type TestParley } from '../test-support/index.js';
import {
  createCloudApiClient,
  sandboxNumbers,
  signWebhookBody,
  startStandaloneSandbox,
  templatesApprovedAtMeta,
  webhookProcessorOf,
  type CloudApiClient,
  type SandboxOptions,
  type StandaloneSandbox,
} from '../whatsapp/index.js';
import { redecideQueued } from './compose.js';
import type { MessageProvenance } from './message-provenance.js';
import { queueConsentFollowUps } from './consent-follow-ups.js';
import { startOutboxWorkers, type OutboxWorkerOptions, type OutboxWorkers } from './outbox-worker.js';

/**
 * Test support for the send path: approved templates and consent for the test world, a Cloud API stand-in
 * on its own port whose clock is the test's ManualClock (so its rate limits and Parley's pacing read the
 * same time), outbox workers sending to it over real HTTP, signed inbound webhooks through the real app,
 * and the RELIABILITY 24 check.
 */

/**
 * Moves the test clock to a Tuesday 11:00 in São Paulo (14:00Z) at least eight days on: a fresh week for
 * every cap, office hours, never one of the test world's holidays, however far earlier steps moved it.
 */
export function freshWeek(p: TestParley): void {
  const t = new Date(p.clock.now().getTime() + 8 * 24 * 3600_000);
  t.setUTCHours(14, 0, 0, 0);
  while (t.getUTCDay() !== 2 || ['2026-04-21', '2026-09-07'].includes(t.toISOString().slice(0, 10)))
    t.setUTCDate(t.getUTCDate() + 1);
  p.clock.set(t);
}

export interface TemplateOverrides {
  key: string;
  type: string;
  parameters: unknown[];
  body: string;
  whatsappStatus: string;
  market: string;
  language: string;
  whatsappLanguage: string;
}

export async function approvedTemplate(p: TestParley, overrides: Partial<TemplateOverrides> = {}) {
  const now = p.clock.now().toISOString();
  const id = newId('tpl');
  const key = overrides.key ?? `visit_reminder_${id.slice(-6)}`;
  await p.context.db
    .insertInto('templates')
    .values(
      bareTemplateRow({
        id,
        key,
        type: (overrides.type ?? 'reminder') as 'reminder',
        // One WhatsApp name per template row, so the stand-in's registry never confuses two of them.
        whatsapp_name: `${key}_${id.slice(-6)}`.toLowerCase(),
        whatsapp_language: overrides.whatsappLanguage ?? 'pt_BR',
        whatsapp_status: (overrides.whatsappStatus ?? 'approved') as 'approved',
        market_code: overrides.market ?? 'BR',
        language: overrides.language ?? 'pt-BR',
        body: overrides.body ?? 'Olá {{hcp_name}}, lembrete da nossa visita às {{hora}}.',
        parameters_json: JSON.stringify(
          overrides.parameters ?? [
            { name: 'hcp_name', type: 'hcp_name' },
            { name: 'hora', type: 'time' },
          ],
        ),
        approval_code: `${overrides.market ?? 'BR'}-${key.toUpperCase()}-V1`,
        author_id: p.world.users.brand.id,
        approved_by: p.world.users.compliance.id,
        approved_at: now,
        created_at: now,
      }),
    )
    .execute();
  return { id, key };
}

export async function grant(p: TestParley, hcpId: string, purpose: string): Promise<void> {
  const res = await p.app.inject({
    method: 'POST',
    url: `/api/hcps/${hcpId}/consent`,
    headers: { authorization: `Bearer ${await p.world.tokenFor('compliance')}` },
    payload: {
      channel: 'whatsapp',
      purpose,
      status: 'granted',
      source: 'written_form',
      evidence: 'form-2026-01',
    },
  });
  expect(res.statusCode, res.body).toBe(201);
}

export async function postMessage(
  p: TestParley,
  payload: object,
  options: { user?: 'rep1' | 'rep2' | 'manager'; idempotencyKey?: string } = {},
) {
  return p.app.inject({
    method: 'POST',
    url: '/api/messages',
    headers: {
      authorization: `Bearer ${await p.world.tokenFor(options.user ?? 'rep1')}`,
      ...(options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {}),
    },
    payload,
  });
}

/** Queues an approved BR reminder to the HCP as rep1 (202 expected); the message's id. */
export async function queueReminder(p: TestParley, hcpId: string): Promise<string> {
  const template = await approvedTemplate(p);
  const res = await postMessage(p, { hcpId, templateId: template.id, parameters: { hora: '15:30' } });
  expect(res.statusCode, res.body).toBe(202);
  return res.json().message.id as string;
}

export function messageRow(p: TestParley, id: string) {
  return p.context.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

export function outboxRowOf(p: TestParley, messageId: string) {
  return p.context.db
    .selectFrom('outbox')
    .selectAll()
    .where('message_id', '=', messageId)
    .executeTakeFirstOrThrow();
}

/** The sends the stand-in accepted for one of Parley's messages (Parley's id rides in the callback data). */
export function sendsFor(standIn: StandIn, messageId: string) {
  return standIn.standalone.sandbox.accepted.filter((a) => a.request.biz_opaque_callback_data === messageId);
}

export interface StandIn {
  readonly standalone: StandaloneSandbox;
  readonly client: CloudApiClient;
  /** Holds the stand-in's webhooks (answering 200 for them) until `release`, which delivers them in order. */
  hold(): void;
  release(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The Cloud API stand-in on a port of its own, on the test's clock, delivering its status webhooks to
 * Parley's real webhook route (signed with the test secret); statuses come at once and in order unless
 * the options say otherwise.
 */
export async function startStandIn(
  p: TestParley,
  options: Partial<Pick<SandboxOptions, 'limits' | 'templates' | 'statusDelaysMs' | 'chaos'>> & {
    timeoutMs?: number;
    deliverStatuses?: boolean;
  } = {},
): Promise<StandIn> {
  const deliver = options.deliverStatuses ?? true;
  const gate = { open: true, held: [] as Array<{ body: Buffer; signature: string }> };
  const post = (body: Buffer, signature: string) =>
    p.app.inject({
      method: 'POST',
      url: '/webhooks/whatsapp',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature },
      payload: body,
    });
  const standalone = await startStandaloneSandbox({
    port: 0,
    accessToken: p.context.config.whatsapp.accessToken,
    appSecret: TEST_APP_SECRET,
    now: () => p.clock.now(),
    statusDelaysMs: options.statusDelaysMs ?? { sent: 0, delivered: 0, read: 0 },
    chaos: options.chaos ?? { duplicate: 0, reorder: 0 },
    limits: options.limits ?? { messagesPerSecond: 80, pairBurst: 45, pairRefillMs: 6000 },
    timeoutFaultMs: 2_000,
    templates: options.templates ?? (() => templatesApprovedAtMeta(p.context.db)),
    numbers: () => sandboxNumbers(p.context.db, p.context.config.whatsapp.phoneNumberId),
    async deliverWebhook(body, signature) {
      if (!deliver) return 200;
      if (!gate.open) {
        gate.held.push({ body, signature });
        return 200;
      }
      return (await post(body, signature)).statusCode;
    },
  });
  const client = createCloudApiClient({
    baseUrl: standalone.baseUrl,
    apiVersion: p.context.config.whatsapp.apiVersion,
    accessToken: p.context.config.whatsapp.accessToken,
    timeoutMs: options.timeoutMs ?? 10_000,
  });
  return {
    standalone,
    client,
    hold() {
      gate.open = false;
    },
    async release() {
      // Every status the stand-in scheduled is held first (its timers may not have fired yet), then sent.
      await standalone.sandbox.drain();
      gate.open = true;
      for (const h of gate.held.splice(0)) await post(h.body, h.signature);
      await webhookProcessorOf(p.context)?.drain();
    },
    close: () => standalone.close(),
  };
}

/** Outbox workers of the test's Parley sending through the given client (driven with runOnce). */
export function workersFor(
  p: TestParley,
  client: CloudApiClient,
  options: Partial<OutboxWorkerOptions> = {},
): OutboxWorkers {
  return startOutboxWorkers(p.context, {
    client,
    redecide: (tx, message, now) => redecideQueued(tx, p.context, message, now),
    beforeRound: () => queueConsentFollowUps(p.context),
    workers: 1,
    ...options,
  });
}

/** Signs a webhook delivery with the test secret, posts it through the real app, and processes it. */
export async function deliverWebhook(p: TestParley, json: unknown): Promise<number> {
  const body = JSON.stringify(json);
  const res = await p.app.inject({
    method: 'POST',
    url: '/webhooks/whatsapp',
    headers: {
      'content-type': 'application/json',
      'x-hub-signature-256': signWebhookBody(body, TEST_APP_SECRET),
    },
    payload: body,
  });
  await webhookProcessorOf(p.context)?.drain();
  return res.statusCode;
}

let inboundCounter = 0;

/** An HCP's text message as Meta delivers it (the timestamp is the test clock's, in seconds). */
export function inboundText(p: TestParley, from: string, body: string): { wamid: string; json: unknown } {
  inboundCounter += 1;
  const wamid = `wamid.H9${Date.now().toString(36)}${inboundCounter.toString(36).padStart(5, '0')}=`;
  const json = {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: {
                display_phone_number: '15550783881',
                phone_number_id: p.context.config.whatsapp.phoneNumberId,
              },
              contacts: [{ profile: { name: 'HCP' }, wa_id: from }],
              messages: [
                {
                  from,
                  id: wamid,
                  timestamp: String(Math.floor(p.clock.now().getTime() / 1000)),
                  type: 'text',
                  text: { body },
                },
              ],
            },
          },
        ],
      },
    ],
  };
  return { wamid, json };
}

/**
 * RELIABILITY 24: every message that left Parley (sent, delivered, read, or unknown — it may have) joins
 * to a consent entry valid when the worker claimed it: the grant in force for its purpose then, or, for
 * the confirmation of an opt-out, the WhatsApp-reply withdrawal it confirms. Returns the violations.
 */
export async function sendBasisViolations(db: DbOrTx): Promise<string[]> {
  const rows = await db
    .selectFrom('messages')
    .leftJoin('message_send_bases', 'message_send_bases.message_id', 'messages.id')
    .select([
      'messages.id',
      'messages.hcp_id',
      'messages.provenance_json',
      'message_send_bases.consent_entry_id',
      'message_send_bases.purpose',
      'message_send_bases.decided_at',
    ])
    .where('messages.direction', '=', 'outbound')
    .where('messages.status', 'in', ['sending', 'unknown', 'sent', 'delivered', 'read'])
    .execute();
  const violations: string[] = [];
  for (const r of rows) {
    if (!r.consent_entry_id || !r.decided_at || !r.hcp_id) {
      violations.push(`${r.id}: no basis recorded`);
      continue;
    }
    const kind = (JSON.parse(r.provenance_json) as Partial<MessageProvenance>).kind;
    const entries = await listConsentEntries(db, r.hcp_id);
    const entry = entries.find((e) => e.id === r.consent_entry_id);
    if (!entry) {
      violations.push(`${r.id}: basis ${r.consent_entry_id} is not in the HCP's ledger`);
    } else if (kind === 'opt_out_confirmation') {
      if (entry.status !== 'withdrawn' || entry.source !== 'whatsapp_reply')
        violations.push(`${r.id}: a confirmation that confirms no opt-out`);
    } else if (
      entry.status === 'pending' &&
      (JSON.parse(r.provenance_json) as Partial<MessageProvenance>).template?.type === 'opt_in_request'
    ) {
      // An opt-in request rests on the pending consent it asks the HCP to confirm.
    } else if (
      !r.purpose ||
      consentBasisAt(
        // Entries written at the very instant of the claim (a frozen test clock) raced it: the claim's own
        // transaction settled that race (had the withdrawal committed first, it would have cancelled).
        entries.filter((e) => e.recordedAt < r.decided_at! || e.id === r.consent_entry_id),
        'whatsapp',
        r.purpose as ConsentPurpose,
        new Date(r.decided_at),
      ) !== r.consent_entry_id
    ) {
      violations.push(`${r.id}: ${r.consent_entry_id} was not the grant in force at ${r.decided_at}`);
    }
  }
  return violations;
}
