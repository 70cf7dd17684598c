import { createHash } from 'node:crypto';

/**
 * Simulated HCP replies for the demo: some HCPs answer a message they read, by themselves, the way doctors
 * answer a rep — mostly a thank-you, sometimes a question (which Parley's triage files as a medical
 * inquiry), now and then an adverse-event report (which opens a case due in 24 h). Pure and deterministic:
 * whether a message gets a reply, which one and after how long all follow from a hash of its wamid.
 *
 * Never "STOP" by itself: an opt-out withdraws every WhatsApp consent of the HCP, cancels what is queued
 * for them and sends a confirmation — a demo that quietly loses its audience is a bad demo. An opt-out is
 * on demand only (`POST /sandbox/_control/inbound` with `"reply": "stop"`).
 */

export type DemoReplyKind = 'thanks' | 'question' | 'adverse_event' | 'stop';

/** Languages the canned replies exist in (Parley's demo markets; `hi` is romanised Hindi). */
export type ReplyLanguage = 'pt' | 'es' | 'en' | 'hi';

/** Written so Parley's first triage and consent reading take them as meant (tested). */
export const DEMO_REPLY_TEXTS: Record<DemoReplyKind, Record<ReplyLanguage, string>> = {
  thanks: {
    pt: 'Obrigada pela mensagem. Até a próxima visita!',
    es: 'Gracias por el mensaje. ¡Nos vemos en la próxima visita!',
    en: 'Thanks for the message. See you at the next visit!',
    hi: 'Dhanyavaad, message mil gaya. Agli visit par milte hain.',
  },
  question: {
    pt: 'Qual é a dose recomendada para pacientes com insuficiência renal?',
    es: '¿Cuál es la dosis recomendada en pacientes con insuficiencia renal?',
    en: 'What is the recommended dose for patients with renal impairment?',
    hi: 'Kidney ke marizon ko kitni dose deni chahiye?',
  },
  adverse_event: {
    pt: 'Uma paciente teve náusea e tontura depois de começar o tratamento. Me liguem, por favor.',
    es: 'Una paciente tuvo náuseas y mareos después de empezar el tratamiento. Llámenme, por favor.',
    en: 'A patient had nausea and dizziness after starting the treatment. Please call me.',
    hi: 'Ek patient ko treatment shuru karne ke baad ulti aur chakkar aaye. Please call karein.',
  },
  stop: { pt: 'PARAR', es: 'BAJA', en: 'STOP', hi: 'STOP' },
};

export interface DemoReplySettings {
  /** Share of read messages that get a reply, in [0, 1]. */
  share: number;
  /** Delay between the `read` status and the reply, drawn from the hash within [min, max] ms. */
  delayMs: { min: number; max: number };
}

export const DEFAULT_DEMO_REPLY_SETTINGS: DemoReplySettings = {
  share: 0.35,
  delayMs: { min: 5_000, max: 30_000 },
};

/** Of the replies: 60 % thanks, 30 % a question, 10 % an adverse event. */
const KIND_CUTS: ReadonlyArray<readonly [number, DemoReplyKind]> = [
  [0.6, 'thanks'],
  [0.9, 'question'],
  [1, 'adverse_event'],
];

export interface PlannedReply {
  kind: Exclude<DemoReplyKind, 'stop'>;
  text: string;
  /** After the `read` status. */
  delayMs: number;
}

/** Three independent numbers in [0, 1) from a wamid. */
function unitsOf(wamid: string): [number, number, number] {
  const h = createHash('sha256').update(wamid).digest();
  const unit = (offset: number) => h.readUInt32BE(offset) / 2 ** 32;
  return [unit(0), unit(4), unit(8)];
}

/** The reply the HCP who read `wamid` writes, if any. Same wamid, same answer. */
export function planDemoReply(
  wamid: string,
  language: ReplyLanguage,
  settings: DemoReplySettings = DEFAULT_DEMO_REPLY_SETTINGS,
): PlannedReply | undefined {
  const [replies, which, when] = unitsOf(wamid);
  if (replies >= settings.share) return undefined;
  const kind = KIND_CUTS.find(([cut]) => which < cut)?.[1] ?? 'thanks';
  if (kind === 'stop') return undefined;
  const { min, max } = settings.delayMs;
  return { kind, text: DEMO_REPLY_TEXTS[kind][language], delayMs: Math.round(min + when * (max - min)) };
}

/**
 * The language an HCP replies in: that of the template they read (`pt_BR` → pt), else guessed from the
 * country calling code of their number (free text carries no language).
 */
export function replyLanguageOf(templateLanguage: string | undefined, waId: string): ReplyLanguage {
  const primary = templateLanguage?.toLowerCase().split(/[_-]/)[0];
  if (primary === 'pt' || primary === 'es' || primary === 'en' || primary === 'hi') return primary;
  if (waId.startsWith('55') || waId.startsWith('351')) return 'pt';
  if (/^(34|5[1-8])/.test(waId)) return 'es'; // Spain and Latin America (55, Brazil, is caught above)
  return 'en';
}
