import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LEXICONS } from './triage-lexicons.js';
import { normaliseForTriage, triageText } from './triage.js';

const PRODUCTS = [
  { name: 'Cardiovex', genericName: 'rosuvastatina' },
  { name: 'Glucorin', genericName: 'metformina' },
];

describe('first triage', () => {
  it.each<[string, string, string, string]>([
    // [language, sentence, expected kind, expected signal]
    [
      'en',
      'My patient developed a rash and swelling after starting Cardiovex',
      'adverse_event',
      'adverse_reaction',
    ],
    ['en', 'She became pregnant while taking it', 'adverse_event', 'pregnancy_exposure'],
    ['en', 'The mother is breastfeeding, she took two tablets', 'adverse_event', 'breastfeeding_exposure'],
    ['en', 'A child swallowed the whole pack, possible overdose', 'adverse_event', 'overdose'],
    ['en', 'The pharmacy dispensed the wrong dose to my patient', 'adverse_event', 'medication_error'],
    ['en', 'I suspect he is misusing the tablets', 'adverse_event', 'misuse'],
    ['en', 'Honestly the drug is not working for my patients anymore', 'adverse_event', 'lack_of_efficacy'],
    ['en', 'I prescribed it off-label for migraine', 'adverse_event', 'off_label_use'],
    ['en', 'What is the maximum dose in renal impairment?', 'medical_inquiry', 'medical_question'],
    ['en', 'Can I combine it with warfarin, any interaction?', 'medical_inquiry', 'medical_question'],
    ['en', 'The blister came broken and two tablets were missing', 'complaint', 'product_complaint'],
    ['es', 'El paciente tuvo una reacción alérgica y vómitos', 'adverse_event', 'adverse_reaction'],
    ['es', 'La paciente está embarazada de 8 semanas y lo tomó', 'adverse_event', 'pregnancy_exposure'],
    ['es', 'Tomó doble dosis por error', 'adverse_event', 'overdose'],
    ['es', 'No le hace efecto, sigue igual', 'adverse_event', 'lack_of_efficacy'],
    ['es', '¿Cuál es la posología en niños?', 'medical_inquiry', 'medical_question'],
    ['es', 'La caja llegó dañada y el blíster vacío', 'complaint', 'product_complaint'],
    ['pt', 'A paciente teve tontura e desmaiou depois do Glucorin', 'adverse_event', 'adverse_reaction'],
    ['pt', 'Ela está grávida, pode continuar?', 'adverse_event', 'pregnancy_exposure'],
    ['pt', 'Ele está amamentando e tomou o remédio', 'adverse_event', 'breastfeeding_exposure'],
    ['pt', 'Tomou o remédio errado por engano', 'adverse_event', 'medication_error'],
    ['pt', 'O remédio não fez efeito nenhum', 'adverse_event', 'lack_of_efficacy'],
    ['pt', 'Posso usar fora da bula para enxaqueca?', 'adverse_event', 'off_label_use'],
    ['pt', 'Posso usar fora da bula para enxaqueca?', 'medical_inquiry', 'medical_question'],
    ['pt', 'Qual a dose para idosos?', 'medical_inquiry', 'medical_question'],
    ['pt', 'A embalagem veio com cheiro estranho', 'complaint', 'product_complaint'],
    ['hi-Latn', 'Dawai lene ke baad ulti aur chakkar aa rahe hain', 'adverse_event', 'adverse_reaction'],
    ['hi-Latn', 'Patient garbhvati hai aur yeh dawa le rahi thi', 'adverse_event', 'pregnancy_exposure'],
    ['hi-Latn', 'Bachche ne zyada goli kha li', 'adverse_event', 'overdose'],
    ['hi-Latn', 'Galti se galat dawa de di', 'adverse_event', 'medication_error'],
    ['hi-Latn', 'Is dawai ka koi asar nahi ho raha', 'adverse_event', 'lack_of_efficacy'],
    ['hi-Latn', 'Bachchon ko kitni dose deni hai?', 'medical_inquiry', 'medical_question'],
    ['hi-Latn', 'Strip tuti hui thi, nakli lag rahi hai', 'complaint', 'product_complaint'],
  ])('flags a %s sentence "%s" as %s (%s)', (_lang, sentence, kind, signal) => {
    const result = triageText(sentence, PRODUCTS);
    const finding = result.findings.find((f) => f.kind === kind);
    expect(finding, JSON.stringify(result)).toBeDefined();
    expect(finding!.signals).toContain(signal);
  });

  it.each([
    ['en', 'Thanks for the visit, see you next Tuesday'],
    ['en', 'Does it come in another color?'],
    ['en', 'Can we meet on Thursday afternoon?'],
    ['en', 'Please send me the brochure again'],
    ['es', 'Gracias, nos vemos el lunes en la consulta'],
    ['es', 'Perfecto, hablamos mañana'],
    ['pt', 'Obrigada pela visita, até a próxima semana'],
    ['pt', 'Pode passar aqui na quinta às 14h?'],
    ['hi-Latn', 'Theek hai, kal milte hain'],
    ['hi-Latn', 'Dhanyavaad, brochure mil gaya'],
  ])('does not flag an ordinary %s sentence: "%s"', (_lang, sentence) => {
    expect(triageText(sentence, PRODUCTS).findings).toEqual([]);
  });

  it.each([
    [
      'names a product by brand, whatever the case and accents',
      'depois do CARDIOVEX tive enjoo',
      'Cardiovex',
    ],
    ['names a product by its generic name', 'com metformina teve diarreia', 'Glucorin'],
    ['names no product when none is mentioned', 'tive enjoo', null],
  ])('%s', (_name, sentence, product) => {
    expect(triageText(sentence, PRODUCTS).product).toBe(product);
  });

  it('routes each kind to its owner team', () => {
    const result = triageText('Tive enjoo; qual a dose? A caixa veio quebrada', PRODUCTS);
    expect(result.findings.map((f) => [f.kind, f.ownerTeam])).toEqual([
      ['adverse_event', 'safety'],
      ['medical_inquiry', 'medical_information'],
      ['complaint', 'quality'],
    ]);
  });

  it('is accent- and case-insensitive', () => {
    expect(normaliseForTriage('REAÇÃO Alérgica — Vômito!')).toBe('reacao alergica vomito');
    for (const s of ['REACCIÓN ALÉRGICA', 'reaccion alergica', 'Reacción Alérgica']) {
      expect(triageText(s).findings.map((f) => f.kind)).toEqual(['adverse_event']);
    }
  });

  it('never throws and reports matches only as lexicon entries, never the text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        const result = triageText(text, PRODUCTS);
        for (const f of result.findings) for (const m of f.matched) expect(m).toMatch(/^(en|es|pt|hi-Latn):/);
      }),
      { numRuns: 300 },
    );
  });

  it('finds exactly what testing every lexicon pattern finds (the first-word index only skips)', () => {
    // The oracle: every entry of every lexicon as its own pattern, tested on the whole text, in order.
    const oracle = Object.entries(LEXICONS).flatMap(([language, lexicon]) =>
      Object.values(lexicon).flatMap((entries) =>
        entries.map((entry) => {
          const words = entry
            .split(' ')
            .map((w) =>
              w.endsWith('*')
                ? `${w.slice(0, -1).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[\\p{L}\\p{N}]*`
                : w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
            );
          const pattern = new RegExp(`(?<![\\p{L}\\p{N}])${words.join(' ')}(?![\\p{L}\\p{N}])`, 'u');
          return { label: `${language}:${entry}`, pattern };
        }),
      ),
    );
    const matchedByOracle = (text: string) => {
      const plain = normaliseForTriage(text).replace(/\?/g, ' ').replace(/ +/g, ' ');
      return oracle.filter((o) => o.pattern.test(plain)).map((o) => o.label);
    };
    // Texts made of lexicon words (whole, cut short, or with a stem's ending), other words and
    // punctuation: where near-misses and multi-word entries are.
    const lexiconWords = [
      ...new Set(
        Object.values(LEXICONS)
          .flatMap((lexicon) => Object.values(lexicon).flat())
          .flatMap((entry) => entry.split(' ')),
      ),
    ];
    const word = fc.oneof(
      fc.constantFrom(...lexiconWords).map((w) => w.replace('*', '')),
      fc.constantFrom(...lexiconWords).map((w) => w.replace('*', 'ing')),
      fc.constantFrom(...lexiconWords).map((w) => w.replace('*', '').slice(0, -1)),
      fc.constantFrom('the', 'patient', 'Glucorin', 'ÉL', 'nao', 'x1', ''),
    );
    const text = fc
      .array(fc.tuple(word, fc.constantFrom(' ', ' ', ', ', '? ', '-', '! ')), { maxLength: 12 })
      .map((parts) => parts.map(([w, sep]) => w + sep).join(''));
    fc.assert(
      fc.property(text, (t) => {
        const found = triageText(t).findings.flatMap((f) => f.matched);
        expect(new Set(found)).toEqual(new Set(matchedByOracle(t)));
      }),
      { numRuns: 3000 },
    );
  });
});
