import { contentForMessage } from '../content/index.js';
import type { DbOrTx } from '../platform/database/index.js';
import { DomainError } from '../platform/errors/index.js';
import {
  decide,
  repMessagesInCap,
  rulebookVersion,
  rulesForMarket,
  type ConsentMatrix,
  type Decision,
  type DecisionAsset,
  type DecisionContext,
  type DecisionRequest,
  type DecisionTemplate,
  type RecentMessage,
} from '../policy/index.js';
import { toDecisionAsset, toDecisionTemplate } from './decision-inputs.store.js';

/**
 * What a decision looked at, stored beside it (`policy_decisions.snapshot_json`) so that it can be
 * explained and replayed later: consent, counters, window, content versions and the rulebook version (the
 * rulebook text itself is in `rulebooks`, the content versions in the content tables).
 *
 * Every check and send writes one, so it is kept small (format 2): of the consent matrix only what is not
 * `none` (a purpose never asked about is most of it), and of the rep's recent messages only the send times
 * of those the rep cap counts (a busy rep's look-back holds hundreds). Format 1, written before, kept
 * every consent cell and the rep's counted messages whole; `replayDecision` reads both.
 */
export interface DecisionSnapshot {
  format: 2;
  now: string;
  rulebookVersion: number;
  /** The HCP as `decide()` saw it, without the name (personal data; it only fills sentences). */
  hcp: Omit<DecisionContext['hcp'], 'name'>;
  market: DecisionContext['market'];
  /** The consent matrix without its `none` cells: a missing cell is `none`. */
  consent: ConsentMatrix;
  preferences: DecisionContext['preferences'] | null;
  hcpMessages: DecisionContext['hcpMessages'];
  /**
   * Send times of the rep's messages that the rep cap counts at `now` (counted status and kind, inside the
   * rep's rolling window, by the rules of `rulebookVersion`): all the cap reads of them.
   */
  repCapTimes: string[];
  lastInboundAt: string | null;
  /** The template version and what could have changed about it since: its statuses and expiry. */
  template: Pick<
    DecisionTemplate,
    'id' | 'key' | 'version' | 'status' | 'whatsappStatus' | 'expiresAt'
  > | null;
  assets: Pick<DecisionAsset, 'id' | 'key' | 'status' | 'expiresAt'>[];
  /** The template's products with their prescribing-information asset keys (for promotional content). */
  products: DecisionContext['products'];
  optInRequests: DecisionContext['optInRequests'];
  consentHold: DecisionContext['consentHold'] | null;
}

/** Format 1, as stored before format 2: only what differs. */
interface SnapshotFormat1 extends Omit<DecisionSnapshot, 'format' | 'repCapTimes' | 'template' | 'products'> {
  format?: undefined;
  repMessages: Pick<RecentMessage, 'at' | 'status' | 'kind'>[];
  template: Omit<NonNullable<DecisionSnapshot['template']>, 'expiresAt'> | null;
}

export function snapshotOf(context: DecisionContext, decision: Decision): string {
  const consent: ConsentMatrix = {};
  for (const [channel, purposes] of Object.entries(context.consent)) {
    const kept = Object.entries(purposes).filter(([, state]) => state.status !== 'none');
    if (kept.length > 0) consent[channel as keyof ConsentMatrix] = Object.fromEntries(kept);
  }
  const { name: _name, ...hcp } = context.hcp;
  const t = context.template;
  const snapshot: DecisionSnapshot = {
    format: 2,
    now: context.now,
    rulebookVersion: decision.rulebookVersion,
    hcp,
    market: context.market,
    consent,
    preferences: context.preferences ?? null,
    hcpMessages: context.hcpMessages,
    repCapTimes: repMessagesInCap(context).map((m) => m.at),
    lastInboundAt: context.lastInboundAt ?? null,
    template: t
      ? {
          id: t.id,
          key: t.key,
          version: t.version,
          status: t.status,
          whatsappStatus: t.whatsappStatus,
          expiresAt: t.expiresAt ?? null,
        }
      : null,
    assets: context.assets.map((a) => ({
      id: a.id,
      key: a.key,
      status: a.status,
      expiresAt: a.expiresAt ?? null,
    })),
    products: context.products,
    optInRequests: context.optInRequests,
    consentHold: context.consentHold ?? null,
  };
  return JSON.stringify(snapshot);
}

/** A stored decision as `replayDecision` found it, and the decision `decide()` gives again on its snapshot. */
export interface ReplayedDecision {
  decisionId: string;
  stored: Pick<Decision, 'outcome' | 'purpose' | 'rulebookVersion'> & { reasons: Decision['reasons'] };
  replayed: Decision;
  /** Whether the two agree: the same outcome, purpose, rulebook version and reasons (codes and rules). */
  agrees: boolean;
}

/**
 * Decides a stored decision again from what was stored with it alone: its request, its snapshot, the
 * rulebook version and the content versions it names. The content versions' text and parameters are read
 * from the content tables; what may have changed about them since (statuses, expiry) comes from the
 * snapshot. Undefined for no such decision; an `unprocessable` error for one whose snapshot Parley did not
 * compute (the demo seed writes its history's decisions with a snapshot of its own).
 */
export async function replayDecision(db: DbOrTx, decisionId: string): Promise<ReplayedDecision | undefined> {
  const row = await db
    .selectFrom('policy_decisions')
    .select([
      'requested_by',
      'request_json',
      'snapshot_json',
      'outcome',
      'purpose',
      'reasons_json',
      'rulebook_version',
    ])
    .where('id', '=', decisionId)
    .executeTakeFirst();
  if (!row) return undefined;
  const snapshot = JSON.parse(row.snapshot_json) as DecisionSnapshot | SnapshotFormat1;
  if (snapshot.format !== 2 && !('repMessages' in snapshot))
    throw new DomainError(
      'unprocessable',
      'this decision was not computed by the policy engine (the demo seed wrote it with its history): there is nothing to replay',
    );
  const rulebook = await rulebookVersion(db, snapshot.rulebookVersion);
  if (!rulebook)
    throw new Error(`decision ${decisionId} names rulebook version ${snapshot.rulebookVersion}, not stored`);
  // Free text is not stored with the decision (it lives sealed on the message); `decide()` reads only
  // whether there is some, so a stand-in replays it.
  const { hasText, ...asked } = JSON.parse(row.request_json) as Omit<DecisionRequest, 'repId' | 'text'> & {
    hasText?: boolean;
  };
  const request: DecisionRequest = { ...asked, repId: row.requested_by, ...(hasText ? { text: '…' } : {}) };
  const content = await contentForMessage(
    db,
    { templateId: snapshot.template?.id ?? null, assetIds: snapshot.assets.map((a) => a.id) },
    new Date(snapshot.now),
  );
  const asStored = snapshot.template;
  const template: DecisionTemplate | null =
    content.template && asStored
      ? {
          ...toDecisionTemplate(content.template),
          status: asStored.status,
          whatsappStatus: asStored.whatsappStatus,
          // Format 1 kept no expiry: the content version's own stands.
          ...('expiresAt' in asStored ? { expiresAt: asStored.expiresAt ?? null } : {}),
        }
      : null;
  const assets = snapshot.assets.flatMap((s) => {
    const found = content.assets.find((a) => a.id === s.id);
    return found ? [{ ...toDecisionAsset(found), status: s.status, expiresAt: s.expiresAt ?? null }] : [];
  });
  const counted = rulesForMarket(rulebook.rulebook, snapshot.hcp.market).frequency.counted_statuses[0];
  const repMessages: RecentMessage[] =
    snapshot.format === 2
      ? counted === undefined
        ? []
        : // Each counted by the rep cap when stored: replayed as a rep's message of a counted status.
          snapshot.repCapTimes.map((at) => ({ repId: row.requested_by, at, status: counted, kind: 'rep' }))
      : snapshot.repMessages.map((m) => ({ ...m, repId: row.requested_by }));
  const context: DecisionContext = {
    now: snapshot.now,
    rulebook: rulebook.rulebook,
    hcp: { ...snapshot.hcp, name: 'the HCP' },
    market: snapshot.market,
    consent: snapshot.consent,
    preferences: snapshot.preferences,
    hcpMessages: snapshot.hcpMessages,
    repMessages,
    lastInboundAt: snapshot.lastInboundAt,
    template,
    assets,
    products: snapshot.format === 2 ? snapshot.products : [],
    optInRequests: snapshot.optInRequests,
    consentHold: snapshot.consentHold,
  };
  const stored = {
    outcome: row.outcome as Decision['outcome'],
    purpose: row.purpose as Decision['purpose'],
    rulebookVersion: row.rulebook_version,
    reasons: JSON.parse(row.reasons_json) as Decision['reasons'],
  };
  const replayed = decide(request, context);
  const essence = (d: typeof stored) =>
    JSON.stringify([d.outcome, d.purpose, d.rulebookVersion, d.reasons.map((r) => [r.code, r.rule])]);
  return { decisionId, stored, replayed, agrees: essence(stored) === essence(replayed) };
}
