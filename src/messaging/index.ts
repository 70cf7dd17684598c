import type { RouteModule } from '../context.js';
import { createCloudApiClient } from '../whatsapp/index.js';
import { redecideQueued } from './compose.js';
import { cancelReviewsPastWindow } from './messages.store.js';
import { registerMessageHttp } from './messages.routes.js';
import { queueConsentFollowUps } from './consent-follow-ups.js';
import { startOutboxWorkers, type OutboxWorkers } from './outbox-worker.js';
import { DEFAULT_PACING } from './send-pacing.js';

export { checkMessage, redecideQueued, sendingNumberFor, sendMessage } from './compose.js';
export type { ProposedMessage, SendAnswer } from './compose.js';
export { loadDecisionContext, toDecisionAsset, toDecisionTemplate } from './decision-inputs.store.js';
export { replayDecision, snapshotOf } from './decision-snapshot.js';
export type { DecisionSnapshot, ReplayedDecision } from './decision-snapshot.js';
export { buildSendRequest, provenanceForStorage, provenanceFromStorage } from './message-provenance.js';
export type { MessageProvenance } from './message-provenance.js';
export {
  OPT_IN_WELCOME_KEY,
  OPT_OUT_CONFIRMATION_KEY,
  queueConsentFollowUps,
  queueOptInWelcomes,
  queueOptOutConfirmations,
} from './consent-follow-ups.js';
export {
  cancelReviewsPastWindow,
  findVisibleMessage,
  listDecisions,
  messageView,
  redriveDeadLetter,
  settleReview,
} from './messages.store.js';
export type { DeadLetter, MessageView, StoredDecision } from './messages.store.js';
export { claimDue, recoverExpiredClaims } from './outbox.store.js';
export { startOutboxWorkers } from './outbox-worker.js';
export type { OutboxWorkerOptions, OutboxWorkers, Redecide } from './outbox-worker.js';
export { DEFAULT_PACING, SendPacer } from './send-pacing.js';
export type { PacingLimits } from './send-pacing.js';

const workersByContext = new WeakMap<object, OutboxWorkers>();

/** The outbox workers started for a Parley context (tests drive them with `runOnce`). */
export function outboxWorkersOf(ctx: object): OutboxWorkers | undefined {
  return workersByContext.get(ctx);
}

/**
 * The send path: its routes, the outbox workers (`PARLEY_SEND_WORKERS`, default 2) sending through the
 * Cloud API (`WHATSAPP_API_BASE`, or Parley's own stand-in at /sandbox on this server), and a minute job
 * that cancels free text whose window closed while it waited for review.
 */
export const registerMessagingRoutes: RouteModule = async (app, ctx) => {
  const client = createCloudApiClient({
    baseUrl: () => {
      if (ctx.config.whatsapp.apiBase) return ctx.config.whatsapp.apiBase;
      const address = app.server.address();
      const port = address && typeof address === 'object' ? address.port : ctx.config.port;
      return `http://127.0.0.1:${port}/sandbox`;
    },
    apiVersion: ctx.config.whatsapp.apiVersion,
    accessToken: ctx.config.whatsapp.accessToken,
  });
  const workers = startOutboxWorkers(ctx, {
    client,
    redecide: (tx, message, now) => redecideQueued(tx, ctx, message, now),
    workers: Math.max(1, ctx.config.sendWorkers),
    // Pacing is per process: with several instances on one number, PARLEY_SEND_RATE is each one's share.
    pacing: { ...DEFAULT_PACING, perNumberPerSecond: ctx.config.sendRatePerNumber },
    beforeRound: () => queueConsentFollowUps(ctx),
  });
  workersByContext.set(ctx, workers);
  registerMessageHttp(app, ctx, () => workers.kick());
  // Workers start only once the server listens: before that the stand-in cannot be reached over HTTP.
  let started = false;
  app.addHook('onListen', async () => {
    if (ctx.config.sendWorkers > 0 && !started) {
      started = true;
      workers.start();
    }
  });
  const timer = setInterval(() => {
    cancelReviewsPastWindow(ctx).catch((err: unknown) =>
      ctx.logger.error({ err }, 'review expiry job failed'),
    );
  }, 60_000);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await workers.stop();
  };
};
