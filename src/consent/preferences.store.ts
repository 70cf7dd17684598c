import type { AuditActor } from '../audit/index.js';
import type { ParleyContext } from '../context.js';
import type { Hcp } from '../hcps/index.js';
import type { DbOrTx } from '../platform/database/index.js';
import { preparedQuery } from '../platform/database/index.js';
import type { ContactPreferences } from './contact-preferences.js';

/** The HCP's stated preferences, or undefined when none were ever stated. */
export async function readPreferences(db: DbOrTx, hcpId: string): Promise<ContactPreferences | undefined> {
  const row = await preferencesOf.first(db, { hcpId });
  return row ? (JSON.parse(row.preferences_json) as ContactPreferences) : undefined;
}
const preferencesOf = preparedQuery((db, $: { hcpId: string }) =>
  db.selectFrom('preferences').select('preferences_json').where('hcp_id', '=', $.hcpId),
);

/**
 * Replaces the HCP's preferences, audited as `preferences.updated` with before and after (preferences hold
 * no personal values: channels, windows, a language, a number).
 */
export async function writePreferences(
  tx: DbOrTx,
  ctx: Pick<ParleyContext, 'clock' | 'audit'>,
  actor: AuditActor,
  hcp: Pick<Hcp, 'id' | 'language'>,
  next: ContactPreferences,
): Promise<ContactPreferences> {
  const before = await readPreferences(tx, hcp.id);
  const value = {
    preferredChannels: next.preferredChannels,
    contactWindows: next.contactWindows.map((w) => ({
      days: [...new Set(w.days)].sort((a, b) => a - b),
      from: w.from,
      to: w.to,
    })),
    language: next.language,
    frequencyLimit: next.frequencyLimit,
  } satisfies ContactPreferences;
  const now = ctx.clock.now().toISOString();
  const json = JSON.stringify(value);
  await tx
    .insertInto('preferences')
    .values({ hcp_id: hcp.id, preferences_json: json, updated_by: actor.id, updated_at: now })
    .onConflict((oc) =>
      oc.column('hcp_id').doUpdateSet({ preferences_json: json, updated_by: actor.id, updated_at: now }),
    )
    .execute();
  await ctx.audit.record(tx, {
    actor,
    action: 'preferences.updated',
    target: { type: 'preferences', id: hcp.id },
    subjectId: hcp.id,
    before: before ? { ...before } : null,
    after: { ...value },
  });
  return value;
}
