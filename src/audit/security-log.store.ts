import { newId } from '../platform/crypto/index.js';
import type { DbOrTx } from '../platform/database/index.js';

/** Access denials, signature failures and throttling: a separate log, never the regulated audit trail. */
export interface SecurityEvent {
  kind:
    | 'unauthenticated'
    | 'forbidden'
    | 'out_of_scope'
    | 'csrf'
    | 'invalid_signature'
    | 'login_failed'
    | 'throttled';
  actorId?: string | null;
  ip?: string | null;
  method?: string | null;
  route?: string | null;
  /** What was asked for (an id), never a personal value. */
  target?: string | null;
  detail?: Record<string, unknown>;
}

export async function logSecurityEvent(db: DbOrTx, at: Date, event: SecurityEvent): Promise<void> {
  await db
    .insertInto('security_log')
    .values({
      id: newId('sec'),
      at: at.toISOString(),
      kind: event.kind,
      actor_id: event.actorId ?? null,
      ip: event.ip ?? null,
      method: event.method ?? null,
      route: event.route ?? null,
      target: event.target ?? null,
      detail_json: JSON.stringify(event.detail ?? {}),
    })
    .execute();
}
