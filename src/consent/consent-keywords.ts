/**
 * Opt-out and opt-in words, read from an HCP's WhatsApp reply. Pure and data-driven: the tables below are
 * the shipped defaults, and the rulebook may hand its own (same shape) to `classifyConsentReply`.
 *
 * How a reply is read (the rule a compliance officer can check):
 * - text is compared without case, accents or punctuation ("ARRÊT!" reads as "arret");
 * - an opt-out PHRASE ("não quero mais receber", "mat bhejo", "stop sending") counts wherever it appears;
 * - an opt-out WORD ("stop", "parar", "baja") counts only when the rest of the reply is courtesy or
 *   filler ("por favor", "pls", "msgs", "now"): "Por favor, PARAR" is an opt-out, "vou parar na farmácia
 *   amanhã" is not;
 * - opt-out words of every language count, whatever language we hold for the HCP: withdrawing must never
 *   depend on our having guessed the language right;
 * - a word that also means "call off the appointment" (e.g. "cancelar") is ambiguous right after an
 *   appointment message: the reply is held for a person to read, and further sends wait;
 * - yes/no words only mean something in answer to an opt-in request; elsewhere they are ordinary replies.
 */

/** The words of one language. All entries are written as people type them; matching normalises both. */
export interface LanguageKeywords {
  /** Single words (or short fixed expressions) that mean "stop" when they are most of the reply. */
  optOutWords: readonly string[];
  /** Longer phrases that mean "stop" wherever they appear. */
  optOutPhrases: readonly string[];
  /** Opt-out words that, right after an appointment message, may mean "cancel the appointment". */
  ambiguousAfterAppointment: readonly string[];
  /** "Yes" to an opt-in request. */
  yesWords: readonly string[];
  /** "No" to an opt-in request. */
  noWords: readonly string[];
  /** Courtesy and filler that may surround a keyword without changing its meaning. */
  filler: readonly string[];
}

/** Keywords per language (BCP 47 primary subtag: `pt`, `es`, `en`, ...). */
export type ConsentKeywords = Readonly<Record<string, LanguageKeywords>>;

/** The shipped defaults. */
export const DEFAULT_CONSENT_KEYWORDS: ConsentKeywords = {
  en: {
    optOutWords: [
      'stop',
      'unsubscribe',
      'cancel',
      'opt out',
      'optout',
      'stop all',
      'end',
      'quit',
      'remove me',
    ],
    optOutPhrases: [
      'stop sending',
      'stop promotions',
      'stop messaging',
      'stop texting',
      'stop contacting',
      'stop these messages',
      'no more messages',
      'do not message me',
      'dont message me',
      'do not contact me',
      'dont contact me',
      'unsubscribe me',
      'take me off',
      'remove me from',
    ],
    ambiguousAfterAppointment: ['cancel'],
    yesWords: ['yes', 'y', 'yeah', 'yep', 'ok', 'okay', 'sure', 'i agree', 'agree', 'accept', 'i accept'],
    noWords: ['no', 'n', 'nope', 'no thanks', 'no thank you', 'not interested', 'decline'],
    filler: [
      'please',
      'pls',
      'plz',
      'pl',
      'now',
      'thanks',
      'thank',
      'you',
      'thx',
      'ty',
      'msgs',
      'msg',
      'messages',
      'message',
      'texts',
      'sms',
      'me',
      'it',
      'all',
      'whatsapp',
      'these',
      'this',
      'just',
      'ok',
      'kindly',
      'immediately',
      'asap',
      'sir',
      'madam',
      'hi',
      'hello',
      'dear',
    ],
  },
  pt: {
    optOutWords: [
      'parar',
      'pare',
      'parem',
      'sair',
      'cancelar',
      'cancela',
      'descadastrar',
      'descadastre',
      'desinscrever',
      'remover',
      'chega',
      'basta',
    ],
    optOutPhrases: [
      'não quero mais receber',
      'nao quero receber',
      'não quero receber',
      'não quero mais mensagens',
      'pare de enviar',
      'parem de enviar',
      'pare de mandar',
      'parem de mandar',
      'não me envie mais',
      'não me mande mais',
      'me tire da lista',
      'me remova da lista',
      'cancelar inscrição',
    ],
    ambiguousAfterAppointment: ['cancelar', 'cancela'],
    yesWords: ['sim', 's', 'aceito', 'concordo', 'quero', 'pode', 'pode sim', 'claro', 'ok'],
    noWords: ['não', 'nao', 'não quero', 'não obrigado', 'não obrigada', 'recuso'],
    filler: [
      'por',
      'favor',
      'pf',
      'pfv',
      'pfvr',
      'mas',
      'obrigado',
      'obrigada',
      'obg',
      'agora',
      'já',
      'mensagens',
      'mensagem',
      'msg',
      'msgs',
      'tudo',
      'isso',
      'me',
      'de',
      'whatsapp',
      'ok',
      'olá',
      'ola',
      'oi',
      'bom',
      'dia',
      'boa',
      'tarde',
      'noite',
    ],
  },
  es: {
    optOutWords: [
      'baja',
      'alto',
      'parar',
      'para',
      'cancelar',
      'cancela',
      'darme de baja',
      'dar de baja',
      'basta',
      'desuscribir',
      'detener',
    ],
    optOutPhrases: [
      'no quiero recibir',
      'no quiero más mensajes',
      'no me envíes más',
      'no me envíen más',
      'no me escriban más',
      'dejen de enviar',
      'deja de enviar',
      'dejen de escribir',
      'quiero darme de baja',
    ],
    ambiguousAfterAppointment: ['cancelar', 'cancela'],
    yesWords: ['sí', 'si', 'acepto', 'de acuerdo', 'vale', 'claro', 'ok'],
    noWords: ['no', 'no gracias', 'no acepto', 'rechazo'],
    filler: [
      'por',
      'favor',
      'porfa',
      'xfa',
      'gracias',
      'ya',
      'ahora',
      'mensajes',
      'mensaje',
      'de',
      'me',
      'todo',
      'esto',
      'whatsapp',
      'hola',
      'buenos',
      'días',
      'dias',
      'buenas',
      'tardes',
    ],
  },
  fr: {
    optOutWords: ['arrêt', 'arrêter', 'arrête', 'arrêtez', 'stop', 'désabonner', 'désinscrire', 'annuler'],
    optOutPhrases: [
      'je ne veux plus recevoir',
      'ne plus recevoir',
      'arrêtez de m’envoyer',
      "arrêtez de m'envoyer",
      'me désabonner',
      'me désinscrire',
    ],
    ambiguousAfterAppointment: ['annuler'],
    yesWords: ['oui', 'ouais', "d'accord", 'j’accepte', "j'accepte", 'ok'],
    noWords: ['non', 'non merci'],
    filler: [
      'svp',
      's’il',
      "s'il",
      'vous',
      'plaît',
      'plait',
      'merci',
      'maintenant',
      'messages',
      'bonjour',
      'les',
    ],
  },
  de: {
    optOutWords: ['stopp', 'stop', 'abmelden', 'abbestellen', 'beenden', 'austragen'],
    optOutPhrases: [
      'keine nachrichten mehr',
      'nicht mehr schreiben',
      'bitte abmelden',
      'will keine nachrichten',
    ],
    ambiguousAfterAppointment: ['absagen', 'stornieren'],
    yesWords: ['ja', 'jawohl', 'einverstanden', 'ok'],
    noWords: ['nein', 'nein danke'],
    filler: ['bitte', 'danke', 'jetzt', 'sofort', 'nachrichten', 'mich', 'hallo'],
  },
  hi: {
    optOutWords: ['रोकें', 'रोको', 'बंद', 'बंद करें', 'बंद करो', 'band', 'bandh', 'ruko', 'roko'],
    optOutPhrases: [
      'band karo',
      'bandh karo',
      'band kar do',
      'band kardo',
      'mat bhejo',
      'mat bhejiye',
      'message mat bhejo',
      'msg mat bhejo',
      'मत भेजो',
      'मत भेजिए',
      'संदेश बंद करें',
      'मैसेज मत भेजो',
      'bhejna band karo',
      'nahi chahiye messages',
    ],
    ambiguousAfterAppointment: [],
    yesWords: ['हाँ', 'हां', 'haan', 'han', 'ha', 'haa', 'ji haan', 'जी हाँ', 'theek hai', 'ठीक है'],
    noWords: ['नहीं', 'nahi', 'nahin', 'na', 'ji nahi'],
    filler: [
      'कृपया',
      'please',
      'pls',
      'plz',
      'ji',
      'जी',
      'ab',
      'अब',
      'message',
      'messages',
      'msg',
      'dhanyavaad',
      'धन्यवाद',
    ],
  },
};

/** What a reply means for consent. */
export type ReplyIntent = 'opt_out' | 'opt_in' | 'decline' | 'ambiguous' | 'none';

export interface ReplyReading {
  intent: ReplyIntent;
  /** The keyword or phrase that matched (normalised), when one did. */
  matched?: string;
  /** The language whose table matched. */
  language?: string;
}

export interface ReplyContext {
  /** The HCP's language (BCP 47), to prefer its table when several match. */
  language: string;
  /** The type of the template the reply answers (or the last one sent), if known. */
  repliedToTemplateType?: string | null;
  keywords?: ConsentKeywords;
}

/** Template types after which "cancel" may be about an appointment rather than about messages. */
const APPOINTMENT_TYPES: ReadonlySet<string> = new Set(['confirmation', 'reminder', 'event_invite']);

/**
 * Lower case, accents dropped (Latin diacritics only: Devanagari vowel signs are letters, not accents),
 * punctuation turned into spaces, spaces collapsed.
 */
export function normaliseReply(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .normalize('NFC')
    .toLowerCase()
    .replace(/[’‘`´]/g, "'")
    .replace(/'/g, ' ')
    .replace(/[^\p{L}\p{M}\p{N}]+/gu, ' ')
    .trim()
    .replace(/\s+/g, ' ');
}

function tokens(normalised: string): string[] {
  return normalised === '' ? [] : normalised.split(' ');
}

/** Where the phrase's tokens appear as a run inside the reply's tokens, or -1. */
function indexOfRun(haystack: readonly string[], needle: readonly string[]): number {
  if (needle.length === 0) return -1;
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * Whether `word` is essentially the whole reply: it appears, and every other token is filler.
 */
function isWholeReply(replyTokens: readonly string[], word: string, filler: ReadonlySet<string>): boolean {
  const wordTokens = tokens(normaliseReply(word));
  const at = indexOfRun(replyTokens, wordTokens);
  if (at < 0) return false;
  const rest = [...replyTokens.slice(0, at), ...replyTokens.slice(at + wordTokens.length)];
  return rest.every((t) => filler.has(t));
}

function containsPhrase(replyTokens: readonly string[], phrase: string): boolean {
  return indexOfRun(replyTokens, tokens(normaliseReply(phrase))) >= 0;
}

/** The tables in the order they are tried: the HCP's own language first, then the rest as listed. */
function orderedLanguages(keywords: ConsentKeywords, language: string): string[] {
  const primary = language.toLowerCase().split('-')[0] ?? '';
  const all = Object.keys(keywords);
  return all.includes(primary) ? [primary, ...all.filter((l) => l !== primary)] : all;
}

/**
 * Reads a reply for consent: opt-out (in any language), an ambiguous "cancel" after an appointment
 * message, or — only in answer to an opt-in request — yes or no. Anything else is `none`.
 */
export function classifyConsentReply(text: string, context: ReplyContext): ReplyReading {
  const keywords = context.keywords ?? DEFAULT_CONSENT_KEYWORDS;
  const replyTokens = tokens(normaliseReply(text));
  if (replyTokens.length === 0) return { intent: 'none' };
  const languages = orderedLanguages(keywords, context.language);
  // Filler of every language: a Hinglish "pls stop msgs" or "STOP por favor" is still a stop.
  const filler = new Set(languages.flatMap((l) => keywords[l]?.filler ?? []).map(normaliseReply));
  const afterAppointment = APPOINTMENT_TYPES.has(context.repliedToTemplateType ?? '');

  for (const language of languages) {
    const table = keywords[language];
    if (!table) continue;
    const phrase = table.optOutPhrases.find((p) => containsPhrase(replyTokens, p));
    if (phrase) return { intent: 'opt_out', matched: normaliseReply(phrase), language };
  }
  for (const language of languages) {
    const table = keywords[language];
    if (!table) continue;
    const word = table.optOutWords.find((w) => isWholeReply(replyTokens, w, filler));
    if (!word) continue;
    const ambiguous =
      afterAppointment &&
      languages.some((l) =>
        (keywords[l]?.ambiguousAfterAppointment ?? []).some(
          (a) => normaliseReply(a) === normaliseReply(word),
        ),
      );
    return { intent: ambiguous ? 'ambiguous' : 'opt_out', matched: normaliseReply(word), language };
  }
  if (context.repliedToTemplateType === 'opt_in_request') {
    for (const language of languages) {
      const table = keywords[language];
      if (!table) continue;
      // "no" is tried before "yes": "não quero" must not read as "quero".
      const no = table.noWords.find((w) => isWholeReply(replyTokens, w, filler));
      if (no) return { intent: 'decline', matched: normaliseReply(no), language };
    }
    for (const language of languages) {
      const table = keywords[language];
      if (!table) continue;
      const yes = table.yesWords.find((w) => isWholeReply(replyTokens, w, filler));
      if (yes) return { intent: 'opt_in', matched: normaliseReply(yes), language };
    }
  }
  return { intent: 'none' };
}

/**
 * Whether a quick-reply label would read as an opt-out (templates are linted against it: a button that
 * says "Stop" must really withdraw consent, and one that does not must not look like it).
 */
export function isOptOutLabel(label: string, keywords: ConsentKeywords = DEFAULT_CONSENT_KEYWORDS): boolean {
  return classifyConsentReply(label, { language: 'en', keywords }).intent === 'opt_out';
}
