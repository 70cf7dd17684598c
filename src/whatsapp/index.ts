export { registerWhatsappRoutes, webhookProcessorOf } from './whatsapp.routes.js';
export type { WebhookProcessor } from './webhook-processor.js';
export { isValidWebhookSignature, MAX_WEBHOOK_BYTES, signWebhookBody } from './webhook-signature.js';
export {
  inboundMessageSchema,
  readDelivery,
  statusUpdateSchema,
  STATUS_VALUES,
  templateCategorySchema,
  templateStatusSchema,
  userPreferenceSchema,
} from './webhook-payload.js';
export type { InboundMessage, ParsedDelivery, StatusUpdate, WebhookEvent } from './webhook-payload.js';
export { advanceStatus, isMessageState } from './message-status.js';
export { settleMessageStatuses } from './statuses.store.js';

// Sending side: the Cloud API client, error handling, and the local stand-in of the Cloud API.
export { backoffDelayMs, classifyCloudApiError } from './cloud-api-errors.js';
export type { ErrorClass, ErrorHandling } from './cloud-api-errors.js';
export { createCloudApiClient } from './cloud-api.client.js';
export type { CloudApiClient, CloudApiClientOptions, SendOutcome } from './cloud-api.client.js';
export type {
  InteractiveSend,
  MarkRead,
  MetaError as CloudApiError,
  SendRequest,
  TemplateSend,
  TextSend,
} from './send-payloads.js';
export { createCloudApiSandbox } from './sandbox/cloud-api-sandbox.js';
export type {
  AcceptedSend,
  CloudApiSandbox,
  Fault,
  RegisteredTemplate,
  SandboxOptions,
} from './sandbox/cloud-api-sandbox.js';
export { mountedSandbox, registerCloudApiSandbox } from './sandbox/sandbox.routes.js';
export { portfolioMessagingLimit, sandboxNumbers, templatesApprovedAtMeta } from './sandbox/sandbox.store.js';
export { MESSAGING_LIMIT_REFUSAL, messagingLimitTierName } from './sandbox/messaging-limit.js';
export type { MessagingLimit } from './sandbox/messaging-limit.js';
export { DEMO_REPLY_TEXTS, planDemoReply } from './sandbox/demo-replies.js';
export { httpWebhookDelivery, startStandaloneSandbox } from './sandbox/standalone.js';
export type { StandaloneSandbox } from './sandbox/standalone.js';
