import { expect } from 'vitest';
import { sql } from 'kysely';
import { newId } from '../platform/crypto/index.js';
import type { Db } from '../platform/database/index.js';
import { bareMessageRow, bareTemplateRow, TEST_APP_SECRET, type TestParley } from '../test-support/index.js';
import { signWebhookBody, webhookProcessorOf } from '../whatsapp/index.js';

/**
 * Test support for personal-data rights: an HCP's life through the real routes (consent, preferences,
 * a logged call, signed inbound WhatsApp messages that open cases), outbound messages written straight
 * into the store (the send path has its own tests), and a scan of every text column of every table.
 */

let counter = 0;

/** A signed inbound text from `from` (digits, as Meta sends), through the real webhook, processed. */
export async function inbound(
  p: TestParley,
  from: string,
  body: string,
  profileName = 'Contato',
): Promise<void> {
  counter += 1;
  const wamid = `wamid.PRIV${Date.now().toString(36)}${counter.toString(36).padStart(5, '0')}=`;
  const payload = JSON.stringify({
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
              contacts: [{ profile: { name: profileName }, wa_id: from }],
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
  });
  const response = await p.app.inject({
    method: 'POST',
    url: '/webhooks/whatsapp',
    headers: {
      'content-type': 'application/json',
      'x-hub-signature-256': signWebhookBody(payload, TEST_APP_SECRET),
    },
    payload,
  });
  expect(response.statusCode).toBe(200);
  await webhookProcessorOf(p.context)?.drain();
}

/** An approved template shared by the tests' outbound messages. */
export async function sharedTemplate(p: TestParley): Promise<string> {
  const now = p.clock.now().toISOString();
  const id = newId('tpl');
  await p.context.db
    .insertInto('templates')
    .values(
      bareTemplateRow({
        id,
        key: `privacy_follow_up_${id.slice(-6)}`,
        whatsapp_name: `privacy_follow_up_${id.slice(-6)}`.toLowerCase(),
        body: 'Olá {{hcp_name}}, {{nota}}',
        parameters_json: JSON.stringify([
          { name: 'hcp_name', type: 'hcp_name' },
          { name: 'nota', type: 'text', maxLength: 80 },
        ]),
        approval_code: 'BR-PRIV-1',
        author_id: p.world.users.brand.id,
        approved_by: p.world.users.compliance.id,
        approved_at: now,
        created_at: now,
      }),
    )
    .execute();
  return id;
}

/** A sent template message to an HCP, with its decision, history and a tracked link, as the send path stores them. */
export async function outbound(
  p: TestParley,
  input: { hcpId: string; hcpName: string; templateId: string; note: string; at?: string },
): Promise<string> {
  const { db, cipher } = p.context;
  const now = input.at ?? p.clock.now().toISOString();
  const id = newId('msg');
  const decisionId = newId('dec');
  const text = `Olá ${input.hcpName}, ${input.note}`;
  await db
    .insertInto('policy_decisions')
    .values({
      id: decisionId,
      requested_by: p.world.users.rep1.id,
      hcp_id: input.hcpId,
      kind: 'send',
      request_json: JSON.stringify({
        hcpId: input.hcpId,
        templateId: input.templateId,
        parameters: { nota: input.note },
      }),
      outcome: 'allow',
      purpose: 'service',
      reasons_json: '[]',
      rulebook_version: 1,
      snapshot_json: JSON.stringify({ now, hcp: { id: input.hcpId } }),
      message_id: id,
      decided_at: now,
      template_id: input.templateId,
      reason_codes: '',
    })
    .execute();
  await db
    .insertInto('messages')
    .values(
      bareMessageRow({
        id,
        hcp_id: input.hcpId,
        rep_id: p.world.users.rep1.id,
        direction: 'outbound',
        wamid: `wamid.OUT${id}`,
        phone_number_id: p.context.config.whatsapp.phoneNumberId,
        template_id: input.templateId,
        parameters_enc: cipher.seal(JSON.stringify({ hcp_name: input.hcpName, nota: input.note })),
        body_enc: cipher.seal(text),
        provenance_json: JSON.stringify({
          template: { id: input.templateId, key: 'privacy_follow_up', version: 1, approvalCode: 'BR-PRIV-1' },
          bodyParameters: [
            { name: 'hcp_name', value: input.hcpName },
            { name: 'nota', value: input.note },
          ],
          assets: [],
          purpose: 'service',
          consentEntryId: null,
          reviewedBy: null,
          kind: 'rep',
        }),
        status: 'delivered',
        decision_id: decisionId,
        created_at: now,
      }),
    )
    .execute();
  await db
    .insertInto('message_history')
    .values([
      { id: newId('mh'), message_id: id, status: 'queued', at: now, detail: null },
      { id: newId('mh'), message_id: id, status: 'sent', at: now, detail: null },
    ])
    .execute();
  await db
    .insertInto('tracked_links')
    .values({
      code: `lnk${id.slice(-10)}`,
      message_id: id,
      asset_id: 'ast_none',
      hcp_id: input.hcpId,
      created_at: now,
    })
    .execute();
  return id;
}

/** Every text value of every row of every table, with where it was found. */
export async function everyStoredText(
  db: Db,
  schema?: string,
): Promise<Array<{ table: string; column: string; value: string }>> {
  // On PostgreSQL, only this store's schema: Kysely's introspection reads every schema's catalogue, and
  // fails when another suite drops its schema at that moment.
  const tables =
    schema === undefined
      ? (await db.introspection.getTables()).map((t) => t.name)
      : (
          await sql<{ name: string }>`select table_name as name from information_schema.tables
            where table_schema = ${schema} and table_type = 'BASE TABLE'`.execute(db)
        ).rows.map((r) => r.name);
  const out: Array<{ table: string; column: string; value: string }> = [];
  for (const name of tables) {
    if (name.startsWith('parley_migrations')) continue;
    const rows = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(db);
    for (const row of rows.rows)
      for (const [column, value] of Object.entries(row))
        if (typeof value === 'string') out.push({ table: name, column, value });
  }
  return out;
}

const SEALED = /v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+/g;

/** Every sealed value found anywhere in the store (whole columns or inside JSON), opened. */
export function openEverySealed(
  texts: ReadonlyArray<{ table: string; column: string; value: string }>,
  open: (sealed: string) => string,
): Array<{ table: string; column: string; value: string }> {
  const out: Array<{ table: string; column: string; value: string }> = [];
  for (const t of texts)
    for (const m of t.value.matchAll(SEALED)) {
      let opened: string;
      try {
        opened = open(m[0]);
      } catch {
        continue; // a look-alike that is not one of ours (a hash, a token)
      }
      out.push({ table: t.table, column: t.column, value: opened });
    }
  return out;
}
