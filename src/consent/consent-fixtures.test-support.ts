import type { Db, TemplatesTable } from '../platform/database/index.js';
import { bareMessageRow, bareTemplateRow } from '../test-support/index.js';

/** Rows the consent tests need from other capabilities' tables, written directly (no mock, the real store). */

export async function insertTemplate(
  db: Db,
  input: { id: string; type: TemplatesTable['type']; authorId: string; key?: string; version?: number },
): Promise<void> {
  const at = '2026-01-01T00:00:00.000Z';
  await db
    .insertInto('templates')
    .values(
      bareTemplateRow({
        id: input.id,
        key: input.key ?? `key_${input.id}`,
        version: input.version ?? 1,
        type: input.type,
        whatsapp_name: `wa_${input.id}`,
        body: 'Olá {{hcp_name}}',
        approval_code: 'APP-1',
        author_id: input.authorId,
        approved_at: at,
        created_at: at,
      }),
    )
    .execute();
}

/** An outbound message with, when `outbox` is given, its outbox row. */
export async function insertOutbound(
  db: Db,
  input: {
    id: string;
    hcpId: string;
    status: string;
    createdAt: string;
    templateId?: string | null;
    outbox?: 'pending' | 'claimed' | 'done';
  },
): Promise<void> {
  await db
    .insertInto('messages')
    .values(
      bareMessageRow({
        id: input.id,
        hcp_id: input.hcpId,
        rep_id: 'usr_rep1',
        direction: 'outbound',
        phone_number_id: 'pn_test',
        template_id: input.templateId ?? null,
        status: input.status,
        created_at: input.createdAt,
      }),
    )
    .execute();
  if (input.outbox)
    await db
      .insertInto('outbox')
      .values({
        id: `obx_${input.id}`,
        message_id: input.id,
        state: input.outbox,
        available_at: input.createdAt,
        attempts: 0,
        claimed_by: null,
        claimed_until: null,
        last_error: null,
        created_at: input.createdAt,
        updated_at: input.createdAt,
      })
      .execute();
}
