import type { DbOrTx } from '../../platform/database/index.js';
import type { RegisteredTemplate } from './cloud-api-sandbox.js';
import type { MessagingLimit } from './messaging-limit.js';
import type { SendingNumber } from './sandbox-payloads.js';

/** The stand-in's registry of templates "approved at Meta": those of the database it runs on. */
export async function templatesApprovedAtMeta(db: DbOrTx): Promise<RegisteredTemplate[]> {
  const rows = await db
    .selectFrom('templates')
    .select([
      'whatsapp_name',
      'whatsapp_language',
      'whatsapp_category',
      'parameters_json',
      'body',
      'buttons_json',
    ])
    .where('whatsapp_status', '=', 'approved')
    .execute();
  return rows.map((r) => ({
    name: r.whatsapp_name,
    language: r.whatsapp_language,
    category: r.whatsapp_category,
    status: 'APPROVED',
    bodyParameterCount: (JSON.parse(r.parameters_json) as unknown[]).length,
    body: r.body,
    buttons: JSON.parse(r.buttons_json) as string[],
  }));
}

/** Sending numbers as Meta knows them, plus the configured default (so a fresh database still works). */
export async function sandboxNumbers(db: DbOrTx, defaultPhoneNumberId: string): Promise<SendingNumber[]> {
  const rows = await db
    .selectFrom('sending_numbers')
    .select(['phone_number_id', 'display_phone_number', 'waba_id'])
    .execute();
  const numbers = rows.map((r) => ({
    phoneNumberId: r.phone_number_id,
    displayPhoneNumber: r.display_phone_number,
    wabaId: r.waba_id,
  }));
  if (!numbers.some((n) => n.phoneNumberId === defaultPhoneNumberId)) {
    numbers.push({
      phoneNumberId: defaultPhoneNumberId,
      displayPhoneNumber: '15550783881',
      wabaId: '102290129340398',
    });
  }
  return numbers;
}

/**
 * The portfolio's messaging limit "at Meta" for the mounted stand-in: the highest limit Parley holds for
 * any of its sending numbers (Meta's limit is one per portfolio; Parley keeps one per number, 0 = none).
 * So by default Parley's own pacing and the stand-in agree; tests lower it with `setMessagingLimit`.
 */
export async function portfolioMessagingLimit(db: DbOrTx): Promise<MessagingLimit> {
  const rows = await db.selectFrom('sending_numbers').select('messaging_limit').execute();
  if (rows.length === 0 || rows.some((r) => r.messaging_limit <= 0)) return 'unlimited';
  return Math.max(...rows.map((r) => r.messaging_limit));
}
