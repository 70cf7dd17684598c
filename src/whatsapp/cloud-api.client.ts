import {
  metaErrorSchema,
  sendResponseSchema,
  type MarkRead,
  type MetaError,
  type SendRequest,
} from './send-payloads.js';

/**
 * The outcome of one send, as the worker must tell them apart:
 * - `accepted`: Meta took it (200 means accepted, not delivered; statuses follow by webhook);
 * - `rejected`: Meta answered with an error object (classify it with classifyCloudApiError);
 * - `not_sent`: the request never left (connection refused, DNS): safe to retry;
 * - `ambiguous`: the request may have reached Meta (timeout, connection dropped after sending):
 *   never re-sent automatically; the status webhook settles it.
 */
export type SendOutcome =
  | { outcome: 'accepted'; wamid: string; waId: string | undefined; messageStatus: string | undefined }
  | { outcome: 'rejected'; httpStatus: number; error: MetaError }
  | { outcome: 'not_sent'; cause: string }
  | { outcome: 'ambiguous'; cause: string };

/** The seam to Meta's Cloud API: the real client below, or a fake in tests of the worker. */
export interface CloudApiClient {
  send(phoneNumberId: string, request: SendRequest): Promise<SendOutcome>;
  markRead(phoneNumberId: string, request: MarkRead): Promise<SendOutcome | { outcome: 'read_marked' }>;
}

export interface CloudApiClientOptions {
  /**
   * e.g. https://graph.facebook.com, or Parley's own stand-in at http://127.0.0.1:PORT/sandbox (a function
   * when the port is known only once the server listens).
   */
  baseUrl: string | (() => string);
  apiVersion: string;
  accessToken: string;
  timeoutMs?: number;
}

// Errors raised before a byte was written: the request certainly did not reach Meta.
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** A Cloud API client over Node's fetch, speaking Meta's wire format exactly. */
export function createCloudApiClient(options: CloudApiClientOptions): CloudApiClient {
  const timeoutMs = options.timeoutMs ?? 15_000;

  async function post(
    phoneNumberId: string,
    body: unknown,
  ): Promise<{ status: number; json: unknown } | SendOutcome> {
    const base = typeof options.baseUrl === 'function' ? options.baseUrl() : options.baseUrl;
    const url = `${base}/${options.apiVersion}/${encodeURIComponent(phoneNumberId)}/messages`;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${options.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      return failureOutcome(error);
    }
    let json: unknown;
    try {
      json = await response.json();
    } catch (error) {
      // Headers arrived but the body did not: Meta may well have accepted the message.
      return response.ok
        ? { outcome: 'ambiguous', cause: `unreadable success body: ${describe(error)}` }
        : unparsedError(response.status);
    }
    return { status: response.status, json };
  }

  return {
    async send(phoneNumberId, request) {
      const result = await post(phoneNumberId, request);
      if ('outcome' in result) return result;
      if (result.status >= 200 && result.status < 300) {
        const parsed = sendResponseSchema.safeParse(result.json);
        if (!parsed.success) return { outcome: 'ambiguous', cause: 'a 2xx answer without a message id' };
        const message = parsed.data.messages[0]!;
        return {
          outcome: 'accepted',
          wamid: message.id,
          waId: parsed.data.contacts?.[0]?.wa_id?.trim(),
          messageStatus: message.message_status,
        };
      }
      const error = metaErrorSchema.safeParse(result.json);
      return error.success
        ? { outcome: 'rejected', httpStatus: result.status, error: error.data.error }
        : unparsedError(result.status);
    },
    async markRead(phoneNumberId, request) {
      const result = await post(phoneNumberId, request);
      if ('outcome' in result) return result;
      if (result.status >= 200 && result.status < 300) return { outcome: 'read_marked' };
      const error = metaErrorSchema.safeParse(result.json);
      return error.success
        ? { outcome: 'rejected', httpStatus: result.status, error: error.data.error }
        : unparsedError(result.status);
    },
  };
}

function unparsedError(status: number): SendOutcome {
  return {
    outcome: 'rejected',
    httpStatus: status,
    error: { message: `HTTP ${status} without a Graph error body`, code: status >= 500 ? 131016 : 100 },
  };
}

function failureOutcome(error: unknown): SendOutcome {
  const cause = (error as { cause?: { code?: string } }).cause;
  if (cause?.code && NOT_SENT_CODES.has(cause.code)) return { outcome: 'not_sent', cause: cause.code };
  return { outcome: 'ambiguous', cause: cause?.code ?? describe(error) };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
