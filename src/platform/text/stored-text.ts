/**
 * The NUL character (U+0000) is valid in JSON (`\u0000`) and in a CSV cell, but PostgreSQL's text cannot
 * hold it (the statement fails with "invalid byte sequence for encoding UTF8: 0x00") while SQLite stores
 * it. Text with one is refused at the edges, with the field named, so that both stores hold the same and
 * bad input gets a clear answer rather than a failure on one store only. Meta's webhooks are stored as
 * received (sealed), never refused.
 */
export const NUL_REFUSED = 'contains the NUL character (U+0000), which Parley does not store';

/**
 * The path to the first string in `value` (objects and arrays, walked; bytes, such as a webhook's body,
 * are not) holding a NUL, if any.
 */
export function pathToNul(value: unknown): (string | number)[] | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? [] : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const inner = pathToNul(value[i]);
      if (inner) return [i, ...inner];
    }
    return undefined;
  }
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    const record = value as Record<string, unknown>;
    for (const key in record) {
      if (!Object.hasOwn(record, key)) continue;
      if (key.includes('\u0000')) return [key];
      const v = record[key];
      // A string is checked here rather than in a call of its own: an import checks every line's fields.
      const inner = typeof v === 'string' ? (v.includes('\u0000') ? [] : undefined) : pathToNul(v);
      if (inner) return [key, ...inner];
    }
  }
  return undefined;
}

/**
 * `value` with every string made well-formed Unicode: half of a surrogate pair (which a JSON `\ud83d`
 * escape can give) becomes U+FFFD, as encoding it to UTF-8 would, so that both stores, and the import's
 * JSON payload on PostgreSQL (which refuses it), hold the same. Returns `value` itself when nothing
 * needed it (the common case: no copy).
 */
export function wellFormed<T>(value: T): T {
  if (typeof value === 'string') return (value.isWellFormed() ? value : value.toWellFormed()) as T;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = wellFormed(value[i] as unknown);
      if (v !== value[i]) (copy ??= [...value])[i] = v;
    }
    return (copy ?? value) as T;
  }
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value)) {
    const record = value as Record<string, unknown>;
    let copy: Record<string, unknown> | undefined;
    for (const key in record) {
      if (!Object.hasOwn(record, key)) continue;
      const given = record[key];
      if (typeof given === 'string' && given.isWellFormed()) continue;
      const v = wellFormed(given);
      if (v !== given) (copy ??= { ...record })[key] = v;
    }
    return (copy ?? value) as T;
  }
  return value;
}
