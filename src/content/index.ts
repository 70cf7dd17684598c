import type { RouteModule } from '../context.js';
import { rulebookContentRules } from './content-rules.js';
import { registerContentHttp } from './content.routes.js';
import { expireDueContent } from './review.store.js';
import { registerTrackedLinkHttp } from './tracked-links.routes.js';

export {
  ASSET_KINDS,
  CLASSIFICATIONS,
  CONTENT_STATUSES,
  PARAMETER_TYPES,
  TEMPLATE_TYPES,
  TONE_RULES,
  WHATSAPP_CATEGORIES,
  WHATSAPP_STATUSES,
} from './content-model.js';
export type {
  Asset,
  AssetKind,
  Classification,
  ContentKind,
  ContentSignature,
  ContentStatus,
  LintFlag,
  ParameterType,
  Replacement,
  Template,
  TemplateParameter,
  TemplateType,
  ToneRule,
  WhatsappCategory,
  WhatsappStatus,
} from './content-model.js';
export {
  approvalMeaning,
  checkReviewStep,
  DEFAULT_APPROVER_ROLES,
  effectiveStatus,
  expiryInstant,
  isUsable,
} from './content-workflow.js';
export type {
  ApprovalProgress,
  ReviewAction,
  Reviewer,
  ReviewStep,
  ReviewSubject,
} from './content-workflow.js';
export { contentRulesFrom, defaultContentRules, rulebookContentRules } from './content-rules.js';
export type { ContentRules, ContentRulesSource } from './content-rules.js';
export { DEFAULT_TONE_RULES, lintTemplate, toneRulesFrom } from './tone-lint.js';
export type { LintableTemplate, ToneRules } from './tone-lint.js';
export { MAX_BODY_LENGTH, placeholdersOf, renderTemplate } from './template-render.js';
export type {
  ParameterProblem,
  RenderableTemplate,
  RenderHcp,
  RenderLink,
  RenderResult,
} from './template-render.js';
export { venuesOf } from './market-venues.js';
export type { Venue } from './market-venues.js';
export { isAutomatedFetch } from './link-fetchers.js';
export type { LinkRequest } from './link-fetchers.js';
export { escapeHtml, renderUnavailablePage } from './expired-link-page.js';
export { diffAssets, diffTemplates } from './content-diff.js';
export type { ContentDiff } from './content-diff.js';
export { buildProvenance } from './provenance.js';
export type { ContentProvenance } from './provenance.js';
export {
  assetsForDecision,
  contentForMessage,
  createAsset,
  createTemplate,
  getAsset,
  getTemplate,
  listAssets,
  listTemplates,
  templateForDecision,
} from './content.store.js';
export type { ContentFilter, NewAsset, NewTemplate } from './content.store.js';
export { expireDueContent, listSignatures, reviewContent } from './review.store.js';
export type { ReviewInput } from './review.store.js';
export {
  createTrackedLink,
  listAssetRecipients,
  listTemplateRecipients,
  openTrackedLink,
  RECEIVED_STATUSES,
  TRACKED_LINK_PREFIX,
} from './tracked-links.store.js';
export type { LinkOutcome, Recipient, TrackedLink } from './tracked-links.store.js';

/** How often the expiry job writes down what has expired (reads never wait for it: see effectiveStatus). */
const EXPIRY_INTERVAL_MS = 60_000;

/**
 * Content control's routes (templates, assets, review, render, recipients, tracked links) and its one
 * background job: expiry with no one acting, every minute, stopped when Parley closes.
 */
export const registerContentRoutes: RouteModule = async (app, ctx) => {
  registerContentHttp(app, ctx, rulebookContentRules);
  registerTrackedLinkHttp(app, ctx);
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = expireDueContent(ctx.db, ctx).catch((err: unknown) =>
      ctx.logger.error({ err }, 'content expiry job failed'),
    );
  }, EXPIRY_INTERVAL_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
};
