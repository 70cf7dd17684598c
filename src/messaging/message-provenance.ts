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

export function withoutParameterValues(p: MessageProvenance): ProvenanceWithoutValues {
  return { ...p, bodyParameters: p.bodyParameters.map(({ name }) => ({ name })) };
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
