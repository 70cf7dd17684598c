import type { PersonalDataCipher } from '../platform/crypto/index.js';
import type { SendRequest } from '../whatsapp/index.js';

/**
 * What a message carried, fixed when it was created and never changed (issue 3 item 6): the template
 * version and its approval code, the parameter values as the HCP reads them, the asset versions and their
 * approval codes, and the consent that allowed it. The worker builds the Cloud API request from this alone,
 * so a later edit of the library can never change a queued message.
 */
export interface MessageProvenance {
  template: {
    id: string;
    key: string;
    version: number;
    approvalCode: string | null;
    whatsappName: string;
    whatsappLanguage: string;
    whatsappCategory: 'utility' | 'marketing' | 'authentication';
    classification: 'promotional' | 'non_promotional';
    type: string;
    buttons: string[];
  } | null;
  /** Values in the template's parameter order, as the HCP reads them. */
  bodyParameters: Array<{ name: string; value: string }>;
  assets: Array<{
    id: string;
    key: string;
    version: number;
    approvalCode: string | null;
    url: string;
    trackedUrl: string;
  }>;
  /** The consent purpose the decision computed, and the ledger entry that granted it (RELIABILITY 24). */
  purpose: string | null;
  consentEntryId: string | null;
  /** Who approved it when it was held for review (free text always is). */
  reviewedBy: string | null;
  /** `rep` for ordinary messages; an exempt kind (e.g. the opt-out confirmation) otherwise. */
  kind: string;
}

/** A provenance as shown to a role that may not read message bodies: parameter names, no values. */
export type ProvenanceWithoutValues = Omit<MessageProvenance, 'bodyParameters'> & {
  bodyParameters: Array<{ name: string }>;
};

/**
 * An outbound message's provenance as `messages.provenance_json` holds it: everything in clear but the
 * parameter values, which are pieces of the message body (the HCP's name, a time) and so sealed like the
 * body, in one value beside their names. Rows written before values were sealed, and rows whose values
 * erasure or retention replaced, hold `{ name, value }` in clear and no sealed value. (An inbound
 * message's holds non-personal facts of another shape, passed through as they are.)
 */
export type StoredProvenance = Omit<MessageProvenance, 'bodyParameters'> & {
  bodyParameters: Array<{ name: string; value?: string }>;
  sealedParameterValues?: string;
};

export function provenanceForStorage(p: MessageProvenance, cipher: Pick<PersonalDataCipher, 'seal'>): string {
  const stored: StoredProvenance = {
    ...p,
    bodyParameters: p.bodyParameters.map(({ name }) => ({ name })),
    ...(p.bodyParameters.length > 0
      ? { sealedParameterValues: cipher.seal(JSON.stringify(p.bodyParameters.map((b) => b.value))) }
      : {}),
  };
  return JSON.stringify(stored);
}

/** The stored provenance without opening anything: for what it says besides the parameter values. */
export function storedProvenance(json: string): StoredProvenance {
  return JSON.parse(json) as StoredProvenance;
}

/** The stored provenance with its parameter values opened. */
export function provenanceFromStorage(
  json: string,
  cipher: Pick<PersonalDataCipher, 'open'>,
): MessageProvenance {
  const { sealedParameterValues, ...stored } = storedProvenance(json);
  if (!Array.isArray(stored.bodyParameters)) return stored as MessageProvenance; // inbound: facts only
  const values = sealedParameterValues
    ? (JSON.parse(cipher.open(sealedParameterValues)) as string[])
    : stored.bodyParameters.map((b) => b.value ?? '');
  return {
    ...stored,
    bodyParameters: stored.bodyParameters.map((b, i) => ({ name: b.name, value: values[i] ?? '' })),
  };
}

/** The stored provenance as a role that may not read message bodies sees it: names, no values. */
export function provenanceNamesOnly(json: string): ProvenanceWithoutValues {
  const { sealedParameterValues: _sealed, ...stored } = storedProvenance(json);
  if (!Array.isArray(stored.bodyParameters)) return stored; // inbound: facts only
  return { ...stored, bodyParameters: stored.bodyParameters.map(({ name }) => ({ name })) };
}

export interface ButtonPayloads {
  optOut: string;
  optInYes: string;
  optInNo: string;
}

/**
 * The Cloud API body for a stored message. `biz_opaque_callback_data` carries Parley's message id, so a
 * status webhook can be linked to the message even when the worker died before saving the `wamid`.
 */
export function buildSendRequest(input: {
  messageId: string;
  to: string;
  provenance: MessageProvenance;
  text: string | null;
  contextWamid: string | null;
  payloads: ButtonPayloads;
  isOptOutLabel: (label: string) => boolean;
}): SendRequest {
  const { provenance: p } = input;
  const common = {
    messaging_product: 'whatsapp' as const,
    recipient_type: 'individual' as const,
    to: input.to,
    biz_opaque_callback_data: input.messageId,
    ...(input.contextWamid ? { context: { message_id: input.contextWamid } } : {}),
  };
  if (!p.template) {
    return { ...common, type: 'text', text: { body: input.text ?? '', preview_url: false } };
  }
  const components: NonNullable<Extract<SendRequest, { type: 'template' }>['template']['components']> = [];
  if (p.bodyParameters.length > 0) {
    components.push({
      type: 'body',
      parameters: p.bodyParameters.map((b) => ({
        type: 'text' as const,
        text: b.value,
        parameter_name: b.name,
      })),
    });
  }
  p.template.buttons.forEach((label, index) => {
    const payload =
      p.template?.type === 'opt_in_request'
        ? index === 0
          ? input.payloads.optInYes
          : input.payloads.optInNo
        : input.isOptOutLabel(label)
          ? input.payloads.optOut
          : `BUTTON_${index}`;
    components.push({
      type: 'button',
      sub_type: 'quick_reply',
      index: String(index),
      parameters: [{ type: 'payload', payload }],
    });
  });
  return {
    ...common,
    type: 'template',
    template: {
      name: p.template.whatsappName,
      language: { code: p.template.whatsappLanguage },
      ...(components.length ? { components } : {}),
    },
  };
}
