import { describe, expect, it } from 'vitest';
import {
  classifyConsentReply,
  isOptOutLabel,
  normaliseReply,
  type ConsentKeywords,
} from './consent-keywords.js';

describe('opt-out replies', () => {
  it.each<[string, string]>([
    ['en', 'STOP'],
    ['en', 'stop'],
    ['en', 'Stop!'],
    ['en', 'stop.'],
    ['en', '  STOP  '],
    ['en', 'pls stop msgs'],
    ['en', 'Please stop'],
    ['en', 'STOP please'],
    ['en', 'UNSUBSCRIBE'],
    ['en', 'unsubscribe me'],
    ['en', 'Unsubscribe me please'],
    ['en', 'please stop sending me these messages'],
    ['en', 'Stop messaging me'],
    ['en', 'No more messages please'],
    ['en', 'Do not contact me again'],
    ['en', 'opt out'],
    ['en', 'STOP ALL'],
    ['en-IN', 'Kindly stop'],
    ['pt-BR', 'PARAR'],
    ['pt-BR', 'parar'],
    ['pt-BR', 'Por favor, PARAR'],
    ['pt-BR', 'Pare'],
    ['pt-BR', 'SAIR'],
    ['pt-BR', 'sair por favor'],
    ['pt-BR', 'CANCELAR'],
    ['pt-BR', 'Não quero mais receber'],
    ['pt-BR', 'nao quero mais receber essas mensagens'],
    ['pt-BR', 'NÃO QUERO MAIS RECEBER!!!'],
    ['pt-BR', 'Por favor pare de enviar mensagens'],
    ['pt-BR', 'Me tire da lista'],
    ['pt-BR', 'descadastrar'],
    ['pt-BR', 'Obrigado, mas sair'],
    ['es-ES', 'BAJA'],
    ['es-ES', 'baja por favor'],
    ['es-ES', 'ALTO'],
    ['es-ES', 'Alto!'],
    ['es-ES', 'Quiero darme de baja'],
    ['es-ES', 'No quiero recibir más mensajes'],
    ['es-ES', 'Dejen de enviar mensajes, gracias'],
    ['es-ES', 'darme de baja'],
    ['fr-FR', 'ARRÊT'],
    ['fr-FR', 'arret'],
    ['fr-FR', 'Arrêt svp'],
    ['fr-FR', 'Je ne veux plus recevoir de messages'],
    ['de-DE', 'STOPP'],
    ['de-DE', 'Stopp bitte'],
    ['de-DE', 'ABMELDEN'],
    ['de-DE', 'abmelden bitte'],
    ['de-DE', 'Keine Nachrichten mehr'],
    ['hi-IN', 'रोकें'],
    ['hi-IN', 'कृपया रोकें'],
    ['hi-IN', 'मत भेजो'],
    ['hi-IN', 'band karo'],
    ['hi-IN', 'Band karo please'],
    ['hi-IN', 'message mat bhejo'],
    ['hi-IN', 'Mat bhejo'],
    ['hi-IN', 'ab band karo ji'],
    // A keyword in another language than the one we hold for the HCP still withdraws.
    ['pt-BR', 'STOP'],
    ['pt-BR', 'unsubscribe'],
    ['en-IN', 'band karo'],
    ['es-ES', 'Stop'],
  ])('reads "%s: %s" as an opt-out', (language, text) => {
    expect(classifyConsentReply(text, { language }).intent).toBe('opt_out');
  });

  it.each<[string, string]>([
    ['en', "I can't stop the bleeding"],
    ['en', 'The patient had to stop the medication'],
    ['en', 'Where is the bus stop near the clinic?'],
    ['en', 'Can we cancel the lunch on Friday and meet Monday?'],
    ['en', 'Thanks, see you at the end of the month'],
    ['en', 'Yes'],
    ['en', 'ok'],
    ['en', ''],
    ['pt-BR', 'vou parar na farmácia amanhã'],
    ['pt-BR', 'Preciso parar o tratamento do paciente?'],
    ['pt-BR', 'Vou sair mais cedo hoje'],
    ['pt-BR', 'Pode cancelar a reunião de quinta?'],
    ['pt-BR', 'Obrigado pelo material'],
    ['es-ES', 'El nivel de glucosa está alto'],
    ['es-ES', 'Tengo la presión alta y el colesterol alto'],
    ['es-ES', 'La baja por maternidad empieza el lunes'],
    ['es-ES', 'Gracias por la información'],
    ['fr-FR', "L'arrêt du traitement est prévu demain"],
    ['de-DE', 'Ich muss mich beim Kongress abmelden, aber schicken Sie mir gern die Studie'],
    ['hi-IN', 'Dhanyavaad, jaankari ke liye'],
    ['hi-IN', 'clinic band hai aaj'],
  ])('does not read "%s: %s" as an opt-out', (language, text) => {
    expect(classifyConsentReply(text, { language }).intent).not.toBe('opt_out');
  });
});

describe('ambiguous replies', () => {
  it.each<[string, string, string]>([
    ['pt-BR', 'cancelar', 'confirmation'],
    ['pt-BR', 'CANCELAR', 'reminder'],
    ['pt-BR', 'Cancelar por favor', 'confirmation'],
    ['es-ES', 'cancelar', 'confirmation'],
    ['en', 'cancel', 'confirmation'],
    ['en', 'Cancel please', 'event_invite'],
  ])('holds "%s: %s" after a %s for a person to read', (language, text, repliedToTemplateType) => {
    expect(classifyConsentReply(text, { language, repliedToTemplateType }).intent).toBe('ambiguous');
  });

  it.each<[string, string, string | null]>([
    ['pt-BR', 'cancelar', 'follow_up'],
    ['pt-BR', 'cancelar', null],
    ['pt-BR', 'PARAR', 'confirmation'],
    ['pt-BR', 'não quero mais receber', 'confirmation'],
    ['en', 'STOP', 'reminder'],
    ['pt-BR', 'cancelar inscrição', 'confirmation'],
  ])('treats "%s: %s" after a %s as a clear opt-out', (language, text, repliedToTemplateType) => {
    expect(classifyConsentReply(text, { language, repliedToTemplateType }).intent).toBe('opt_out');
  });
});

describe('opt-in answers', () => {
  it.each<[string, string]>([
    ['pt-BR', 'SIM'],
    ['pt-BR', 'sim'],
    ['pt-BR', 'Sim!'],
    ['pt-BR', 'Sim, obrigado'],
    ['pt-BR', 'aceito'],
    ['en', 'YES'],
    ['en', 'yes please'],
    ['en', 'Yes, thanks'],
    ['en', 'I agree'],
    ['es-ES', 'SÍ'],
    ['es-ES', 'si'],
    ['es-ES', 'Sí, gracias'],
    ['es-ES', 'acepto'],
    ['fr-FR', 'Oui'],
    ['de-DE', 'Ja'],
    ['hi-IN', 'हाँ'],
    ['hi-IN', 'haan'],
    ['hi-IN', 'Haan ji'],
    ['hi-IN', 'ji haan'],
  ])('reads "%s: %s" as yes to an opt-in request', (language, text) => {
    expect(classifyConsentReply(text, { language, repliedToTemplateType: 'opt_in_request' }).intent).toBe(
      'opt_in',
    );
  });

  it.each<[string, string]>([
    ['pt-BR', 'NÃO'],
    ['pt-BR', 'nao'],
    ['pt-BR', 'Não, obrigado'],
    ['pt-BR', 'não quero'],
    ['en', 'No'],
    ['en', 'no thanks'],
    ['en', 'not interested'],
    ['es-ES', 'No, gracias'],
    ['fr-FR', 'Non merci'],
    ['de-DE', 'Nein'],
    ['hi-IN', 'नहीं'],
    ['hi-IN', 'nahi'],
  ])('reads "%s: %s" as no to an opt-in request', (language, text) => {
    expect(classifyConsentReply(text, { language, repliedToTemplateType: 'opt_in_request' }).intent).toBe(
      'decline',
    );
  });

  it.each<[string, string, string | null]>([
    ['pt-BR', 'sim', 'confirmation'],
    ['en', 'yes', null],
    ['es-ES', 'no', 'reminder'],
    ['pt-BR', 'Sim, mas só depois das 18h por favor', 'opt_in_request'],
    ['en', 'Yes but what is the dose for children?', 'opt_in_request'],
  ])('does not read "%s: %s" (answering %s) as a consent answer', (language, text, repliedToTemplateType) => {
    expect(classifyConsentReply(text, { language, repliedToTemplateType }).intent).toBe('none');
  });

  it('reads an opt-out word as an opt-out even in answer to an opt-in request', () => {
    expect(
      classifyConsentReply('STOP', { language: 'en', repliedToTemplateType: 'opt_in_request' }).intent,
    ).toBe('opt_out');
  });
});

describe('keyword tables', () => {
  it('normalises case, accents and punctuation but keeps Devanagari vowel signs', () => {
    expect(normaliseReply('  ARRÊT!!  Não… ')).toBe('arret nao');
    expect(normaliseReply('रोकें')).toBe('रोकें');
  });

  it('uses the tables it is handed instead of the defaults', () => {
    const keywords: ConsentKeywords = {
      it: {
        optOutWords: ['basta'],
        optOutPhrases: [],
        ambiguousAfterAppointment: [],
        yesWords: ['si'],
        noWords: ['no'],
        filler: ['grazie'],
      },
    };
    expect(classifyConsentReply('Basta, grazie', { language: 'it', keywords }).intent).toBe('opt_out');
    expect(classifyConsentReply('STOP', { language: 'it', keywords }).intent).toBe('none');
  });

  it.each<[string, boolean]>([
    ['Stop promotions', true],
    ['Stop', true],
    ['Unsubscribe', true],
    ['Parar', true],
    ['Confirm', false],
    ['Sim, quero receber', false],
  ])('lints the quick-reply label "%s" as an opt-out: %s', (label, expected) => {
    expect(isOptOutLabel(label)).toBe(expected);
  });
});
