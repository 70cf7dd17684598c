import { MEDIA_TYPES, type InboundMessage } from './webhook-payload.js';

/**
 * What Parley keeps of an inbound message, by type: the text to seal (a body, a caption, a button's label),
 * the non-personal facts to keep in clear (media id and type, a button payload, the message reacted to),
 * the timeline summary (never the text itself) and whether a person must look at it. Pure.
 */
export interface InboundContent {
  /** Personal: sealed at rest. Null when the message carries no text. */
  text: string | null;
  /** Non-personal facts, kept in clear on the message (`provenance_json`). */
  facts: Record<string, unknown>;
  /** Personal facts (a document's file name), sealed inside the facts as `sealed`. */
  personalFacts: Record<string, string> | null;
  summary: string;
  /** Media may carry patient data or an adverse event: it always waits for a person. */
  needsReview: boolean;
  /** The text first triage reads (bodies and captions; not our own button labels). */
  triageText: string | null;
  /** What a consent reply reads: the text and, for a quick reply, its payload. */
  reply: { text: string; buttonPayload: string | null } | null;
}

const LABEL: Record<InboundMessage['type'], string> = {
  text: 'text',
  button: 'quick reply',
  interactive: 'reply',
  image: 'image',
  document: 'document',
  audio: 'voice or audio message',
  video: 'video',
  sticker: 'sticker',
  location: 'location',
  contacts: 'contact card',
  reaction: 'reaction',
  unsupported: 'unsupported message',
  system: 'number change notice',
};

export function isMediaType(type: string): type is (typeof MEDIA_TYPES)[number] {
  return (MEDIA_TYPES as readonly string[]).includes(type);
}

export function contentOf(m: InboundMessage): InboundContent {
  const facts: Record<string, unknown> = {};
  if (m.context?.forwarded || m.context?.frequently_forwarded) facts.forwarded = true;
  if (m.context?.referred_product) facts.referredProduct = m.context.referred_product;
  if (m.referral) facts.referral = { sourceType: m.referral.source_type, sourceId: m.referral.source_id };
  if (m.errors?.length) facts.errors = m.errors.map((e) => ({ code: e.code, title: e.title }));
  let text: string | null = null;
  let personalFacts: Record<string, string> | null = null;
  let reply: InboundContent['reply'] = null;
  let triage: string | null = null;
  switch (m.type) {
    case 'text':
      text = m.text.body;
      triage = text;
      reply = { text, buttonPayload: null };
      break;
    case 'button':
      text = m.button.text;
      facts.buttonPayload = m.button.payload ?? null;
      reply = { text, buttonPayload: m.button.payload ?? null };
      break;
    case 'interactive': {
      const choice =
        m.interactive.type === 'button_reply' ? m.interactive.button_reply : m.interactive.list_reply;
      text = choice.title;
      facts.interactive = { type: m.interactive.type, id: choice.id };
      reply = { text, buttonPayload: choice.id };
      break;
    }
    case 'image':
    case 'document':
    case 'audio':
    case 'video':
    case 'sticker': {
      const media = mediaOf(m);
      text = media.caption ?? null;
      triage = text;
      facts.media = {
        id: media.id,
        mimeType: media.mime_type ?? null,
        sha256: media.sha256 ?? null,
        ...(media.voice !== undefined ? { voice: media.voice } : {}),
        ...(media.animated !== undefined ? { animated: media.animated } : {}),
      };
      if (media.filename) personalFacts = { filename: media.filename };
      break;
    }
    case 'location':
      // Where an HCP is, is personal: the whole location is sealed as the message's text.
      text = JSON.stringify(m.location);
      break;
    case 'contacts':
      text = JSON.stringify(m.contacts);
      break;
    case 'reaction':
      text = m.reaction.emoji ? m.reaction.emoji : null;
      facts.reaction = { to: m.reaction.message_id, removed: !m.reaction.emoji };
      break;
    case 'unsupported':
      break;
    case 'system':
      text = m.system.body ?? null;
      facts.system = { type: m.system.type ?? null };
      break;
  }
  const needsReview = isMediaType(m.type);
  const removed = m.type === 'reaction' && !m.reaction.emoji;
  const summary = `WhatsApp ${LABEL[m.type]} ${removed ? 'removed' : 'received'}${needsReview ? ' (awaiting review)' : ''}`;
  return { text, facts, personalFacts, summary, needsReview, triageText: triage, reply };
}

function mediaOf(m: Extract<InboundMessage, { type: (typeof MEDIA_TYPES)[number] }>) {
  switch (m.type) {
    case 'image':
      return m.image;
    case 'document':
      return m.document;
    case 'audio':
      return m.audio;
    case 'video':
      return m.video;
    case 'sticker':
      return m.sticker;
  }
}
