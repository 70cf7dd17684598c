/** What an erased value becomes where a column cannot be emptied (a sealed NOT NULL column, a JSON text). */
export const ERASED = '[erased]';

/**
 * Removes personal strings from a stored text: JSON is walked and every string that contains one of
 * `needles` (case-insensitive) becomes `[erased]`, keys kept so the shape still reads; text that is not
 * JSON has each needle replaced. Needles shorter than four characters are ignored, since they would
 * match ordinary words and erase more than the subject's data. Pure: the erasure passes the needles it
 * gathered (the name, the number in both forms, the email, message bodies, case verbatims).
 */
export function scrubText(text: string, needles: readonly string[]): string {
  const usable = needles.map((n) => n.trim().toLowerCase()).filter((n) => n.length >= 4);
  if (usable.length === 0) return text;
  const hit = (s: string) => {
    const lower = s.toLowerCase();
    return usable.some((n) => lower.includes(n));
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    let out = text;
    for (const n of usable) out = replaceAllCaseless(out, n, ERASED);
    return out;
  }
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return hit(v) ? ERASED : v;
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return JSON.stringify(walk(parsed));
}

function replaceAllCaseless(text: string, needle: string, by: string): string {
  const escaped = needle.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return text.replace(new RegExp(escaped, 'gi'), by);
}

/**
 * A message's provenance with the parameter values erased (names kept): the values are what the HCP
 * read — their own name among them — while the template, assets and approval codes stay as evidence of
 * what kind of message it was.
 */
export function provenanceWithoutValues(provenanceJson: string, replacement = ERASED): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(provenanceJson);
  } catch {
    return provenanceJson;
  }
  if (!parsed || typeof parsed !== 'object') return provenanceJson;
  const { sealedParameterValues: _sealed, ...p } = parsed as {
    bodyParameters?: Array<{ name: string; value?: string }>;
    sealedParameterValues?: string;
  };
  if (!Array.isArray(p.bodyParameters)) return provenanceJson;
  // The sealed values go too: sealed is not erased while the key can still open them.
  return JSON.stringify({
    ...p,
    bodyParameters: p.bodyParameters.map((b) => ({ name: b.name, value: replacement })),
  });
}
