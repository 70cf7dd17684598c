import { currentRulebook, rulesForMarket } from '../policy/index.js';
import type { DbOrTx } from '../platform/database/index.js';
import { isDomainError } from '../platform/errors/index.js';
import { DEFAULT_APPROVER_ROLES } from './content-workflow.js';
import { DEFAULT_TONE_RULES, toneRulesFrom, type ToneRules } from './tone-lint.js';

/**
 * What content control needs from a market's rulebook: who must sign an approval, and the tone rules the
 * lint applies. The policy capability owns the rulebook (`approvers.roles`, `tone`); the store functions
 * take a `ContentRulesSource` so tests can state the rules they rely on. With no rulebook installed the
 * defaults apply: compliance approves, and emoji, abbreviations and slang are flagged.
 */
export interface ContentRules {
  approverRoles: readonly string[];
  tone: ToneRules;
}

export type ContentRulesSource = (db: DbOrTx, market: string) => Promise<ContentRules>;

export const defaultContentRules: ContentRulesSource = async () => ({
  approverRoles: DEFAULT_APPROVER_ROLES,
  tone: DEFAULT_TONE_RULES,
});

/** Content rules from the sections of a rulebook's rules for one market (`approvers`, `tone`). */
export function contentRulesFrom(rules: {
  approvers?: { roles: readonly string[] };
  tone?: { emoji: boolean; abbreviations: boolean; slang: boolean };
}): ContentRules {
  const roles = rules.approvers?.roles ?? [];
  return {
    approverRoles: roles.length > 0 ? roles : DEFAULT_APPROVER_ROLES,
    tone: toneRulesFrom(rules.tone),
  };
}

/**
 * The content rules of a market from the rulebook in force (policy's `currentRulebook`); the defaults when
 * no rulebook is installed yet.
 */
export const rulebookContentRules: ContentRulesSource = async (db, market) => {
  const current = await currentRulebook(db).catch((error: unknown) => {
    if (isDomainError(error) && error.code === 'unavailable') return undefined;
    throw error;
  });
  if (!current) return defaultContentRules(db, market);
  return contentRulesFrom(rulesForMarket(current.rulebook, market));
};
