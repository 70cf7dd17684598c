import type { ParleyContext } from '../context.js';
import { findHcpByWhatsappNumber } from '../hcps/index.js';
import type { TemplatesTable, Tx } from '../platform/database/index.js';
import type { WebhookEvent } from './webhook-payload.js';

type PreferenceEvent = Extract<WebhookEvent, { kind: 'user_preference' }>;
type TemplateStatusEvent = Extract<WebhookEvent, { kind: 'template_status' }>;
type TemplateCategoryEvent = Extract<WebhookEvent, { kind: 'template_category' }>;

/**
 * Meta's marketing stop/resume (`user_preferences`): a platform flag on the HCP that blocks marketing
 * templates. Resume clears the flag and grants nothing: consent lives in the ledger, not here.
 */
export async function applyUserPreference(
  tx: Tx,
  ctx: Pick<ParleyContext, 'cipher' | 'clock' | 'audit'>,
  event: PreferenceEvent,
): Promise<void> {
  const p = event.preference;
  if (p.category !== 'marketing_messages') return;
  if (await hasNewerPreference(tx, event)) return;
  const hcp = await findHcpByWhatsappNumber(tx, ctx, p.wa_id);
  if (!hcp) return;
  const stopped = p.value === 'stop';
  if (hcp.marketingStopped === stopped) return;
  await tx
    .updateTable('hcps')
    .set({ marketing_stopped: stopped ? 1 : 0, updated_at: ctx.clock.now().toISOString() })
    .where('id', '=', hcp.id)
    .execute();
  await ctx.audit.record(tx, {
    actor: null,
    action: stopped ? 'hcp.marketing_stopped' : 'hcp.marketing_resumed',
    target: { type: 'hcp', id: hcp.id },
    subjectId: hcp.id,
    reason: `WhatsApp user_preferences ${p.value} at ${p.timestamp}`,
    before: { marketingStopped: hcp.marketingStopped },
    after: { marketingStopped: stopped },
  });
}

/**
 * Meta retries deliveries for days, unordered: a `stop` older than a `resume` already applied (or the
 * reverse) must not win. The event key holds the blind index of the number and Meta's time
 * (`preference:<who>:<ISO time>:…`), so the processed keys of the same person say what is newer.
 */
async function hasNewerPreference(tx: Tx, event: PreferenceEvent): Promise<boolean> {
  const [, who, ...rest] = event.key.split(':');
  const at = event.preference.timestamp;
  if (!who || rest.length === 0) return false;
  const prefix = `preference:${who}:`;
  const rows = await tx
    .selectFrom('webhook_events')
    .select('event_key')
    .where('kind', '=', 'user_preference')
    .where('state', '=', 'processed')
    .where('event_key', '!=', event.key)
    .execute();
  return rows.some(
    (r) => r.event_key.startsWith(prefix) && r.event_key.slice(prefix.length, prefix.length + at.length) > at,
  );
}

const META_TEMPLATE_STATUS: Record<string, TemplatesTable['whatsapp_status'] | undefined> = {
  APPROVED: 'approved',
  REINSTATED: 'approved',
  PENDING: 'pending',
  IN_APPEAL: 'pending',
  REJECTED: 'rejected',
  PAUSED: 'paused',
  FLAGGED: 'approved', // still sendable while flagged; Meta pauses it if quality does not recover
  DISABLED: 'disabled',
  PENDING_DELETION: 'disabled',
  DELETED: 'disabled',
  LOCKED: 'disabled',
  ARCHIVED: 'disabled',
};

/** Meta's review state of a template, copied onto Parley's templates of that WhatsApp name and language. */
export async function applyTemplateStatus(
  tx: Tx,
  ctx: Pick<ParleyContext, 'clock' | 'audit'>,
  event: TemplateStatusEvent,
): Promise<void> {
  const u = event.update;
  const next = META_TEMPLATE_STATUS[u.event];
  if (!next) return;
  const rows = await tx
    .selectFrom('templates')
    .select(['id', 'whatsapp_status'])
    .where('whatsapp_name', '=', u.message_template_name)
    .where('whatsapp_language', '=', u.message_template_language)
    .execute();
  for (const row of rows) {
    if (row.whatsapp_status === next) continue;
    await tx
      .updateTable('templates')
      .set({ whatsapp_status: next, updated_at: ctx.clock.now().toISOString() })
      .where('id', '=', row.id)
      .execute();
    await ctx.audit.record(tx, {
      actor: null,
      action: 'template.meta_status_changed',
      target: { type: 'template', id: row.id },
      reason: `Meta ${u.event}${u.reason && u.reason !== 'NONE' ? ` (${u.reason})` : ''}`,
      before: { whatsappStatus: row.whatsapp_status },
      after: { whatsappStatus: next, metaTemplateId: u.message_template_id },
    });
  }
}

/**
 * Meta re-classified a template: its WhatsApp category follows, so every later decision (which checks
 * category against consent and the marketing stop flag) re-checks it with the new category.
 */
export async function applyTemplateCategory(
  tx: Tx,
  ctx: Pick<ParleyContext, 'clock' | 'audit'>,
  event: TemplateCategoryEvent,
): Promise<void> {
  const u = event.update;
  const category = (u.new_category ?? u.correct_category)?.toLowerCase();
  if (category !== 'utility' && category !== 'marketing' && category !== 'authentication') return;
  const rows = await tx
    .selectFrom('templates')
    .select(['id', 'whatsapp_category'])
    .where('whatsapp_name', '=', u.message_template_name)
    .where('whatsapp_language', '=', u.message_template_language)
    .execute();
  for (const row of rows) {
    if (row.whatsapp_category === category) continue;
    await tx
      .updateTable('templates')
      .set({ whatsapp_category: category, updated_at: ctx.clock.now().toISOString() })
      .where('id', '=', row.id)
      .execute();
    await ctx.audit.record(tx, {
      actor: null,
      action: 'template.meta_recategorised',
      target: { type: 'template', id: row.id },
      reason: 'Meta changed the template category',
      before: { whatsappCategory: row.whatsapp_category },
      after: { whatsappCategory: category },
    });
  }
}
