import type { InteractionsTable } from '../platform/database/index.js';

type Channel = InteractionsTable['channel'];
type Kind = InteractionsTable['kind'];
type Direction = InteractionsTable['direction'];

export const CHANNELS = [
  'whatsapp',
  'email',
  'f2f',
  'virtual',
  'phone',
  'event',
  'web',
] as const satisfies readonly Channel[];
export const DIRECTIONS = ['inbound', 'outbound', 'internal'] as const satisfies readonly Direction[];
export const KINDS = [
  'call',
  'meeting',
  'message',
  'email_sent',
  'email_opened',
  'email_clicked',
  'event_attended',
  'click',
  'consent_change',
  'blocked_attempt',
  'note',
] as const satisfies readonly Kind[];

/**
 * Kinds a person may log by hand (`POST /api/interactions`). Messages, clicks, consent changes and blocked
 * attempts are put on the timeline by Parley itself, from the events that prove them.
 */
export const LOGGABLE_KINDS = [
  'call',
  'meeting',
  'email_sent',
  'email_opened',
  'email_clicked',
  'event_attended',
  'note',
] as const satisfies readonly Kind[];

const CHANNEL_WORDS: Record<Channel, string> = {
  whatsapp: 'WhatsApp',
  email: 'email',
  f2f: 'face to face',
  virtual: 'virtual',
  phone: 'phone',
  event: 'event',
  web: 'web',
};

const KIND_WORDS: Record<Kind, string> = {
  call: 'Call',
  meeting: 'Meeting',
  message: 'Message',
  email_sent: 'Email sent',
  email_opened: 'Email opened',
  email_clicked: 'Email link clicked',
  event_attended: 'Event attended',
  click: 'Asset link clicked',
  consent_change: 'Consent changed',
  blocked_attempt: 'Blocked attempt',
  note: 'Note',
};

/**
 * What an interaction was, in words a timeline can show as its title: kind, direction for messages, and
 * the channel (e.g. "Message received (WhatsApp)", "Call (face to face)").
 */
export function describeInteraction(channel: Channel, kind: Kind, direction: Direction): string {
  const what =
    kind === 'message' ? (direction === 'inbound' ? 'Message received' : 'Message sent') : KIND_WORDS[kind];
  return `${what} (${CHANNEL_WORDS[channel]})`;
}
