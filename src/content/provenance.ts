import type { Asset, Template } from './content-model.js';

/**
 * The content part of what a message carried, for messaging to keep on it for ever
 * (`messages.provenance_json`): the template version with its approval, the values as the HCP read them,
 * and the asset versions with theirs and the tracked link each travelled as. Complete enough to answer
 * "which approved version did this HCP receive?" after the pieces have expired or been withdrawn. The
 * shape fits messaging's `MessageProvenance` (its `template`, `bodyParameters` and `assets`). Pure.
 */
export interface ContentProvenance {
  template: {
    id: string;
    key: string;
    version: number;
    approvalCode: string | null;
    approvedBy: string | null;
    approvedAt: string | null;
    whatsappName: string;
    whatsappLanguage: string;
    whatsappCategory: Template['whatsappCategory'];
    classification: Template['classification'];
    type: Template['type'];
    buttons: string[];
  } | null;
  /** The values in the template's parameter order, as rendered (`renderTemplate`'s `values`). */
  bodyParameters: Array<{ name: string; value: string }>;
  assets: Array<{
    id: string;
    key: string;
    version: number;
    kind: Asset['kind'];
    title: string;
    approvalCode: string | null;
    approvedAt: string | null;
    url: string;
    /** The tracked link the asset travelled as in this message (empty when it did not). */
    trackedUrl: string;
  }>;
}

/** The provenance of a message from the template, its rendered values, the assets and their tracked links. */
export function buildProvenance(
  template: Template | null,
  values: ReadonlyArray<{ name: string; value: string }>,
  assets: readonly Asset[],
  trackedUrls: Readonly<Record<string, string>> = {},
): ContentProvenance {
  return {
    template: template
      ? {
          id: template.id,
          key: template.key,
          version: template.version,
          approvalCode: template.approvalCode,
          approvedBy: template.approvedBy,
          approvedAt: template.approvedAt,
          whatsappName: template.whatsappName,
          whatsappLanguage: template.whatsappLanguage,
          whatsappCategory: template.whatsappCategory,
          classification: template.classification,
          type: template.type,
          buttons: [...template.buttons],
        }
      : null,
    bodyParameters: values.map((v) => ({ name: v.name, value: v.value })),
    assets: assets.map((a) => ({
      id: a.id,
      key: a.key,
      version: a.version,
      kind: a.kind,
      title: a.title,
      approvalCode: a.approvalCode,
      approvedAt: a.approvedAt,
      url: a.url,
      trackedUrl: trackedUrls[a.id] ?? '',
    })),
  };
}
