// Sending side: the Cloud API client, error handling, and the stand-in (the founding engineer's part).
export { backoffDelayMs, classifyCloudApiError } from './cloud-api-errors.js';
export type { ErrorClass, ErrorHandling } from './cloud-api-errors.js';
export { createCloudApiClient } from './cloud-api.client.js';
export type { CloudApiClient, CloudApiClientOptions, SendOutcome } from './cloud-api.client.js';
export type {
  InteractiveSend,
  MarkRead,
  MetaError,
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
export { sandboxNumbers, templatesApprovedAtMeta } from './sandbox/sandbox.store.js';
export { httpWebhookDelivery, startStandaloneSandbox } from './sandbox/standalone.js';
export type { StandaloneSandbox } from './sandbox/standalone.js';
