import { isMap, isNode, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { rulebookDocumentSchema, rulesSchema, type RulebookDocument, type Rules } from './rulebook-schema.js';

/** One problem found in a rulebook: where (line, column, field path) and what. */
export interface RulebookProblem {
  /** Dotted path of the field, e.g. `global.frequency.per_hcp.max_in_rolling`; empty for a syntax error. */
  path: string;
  /** 1-based line and column in the YAML text, when the problem can be placed. */
  line?: number;
  column?: number;
  message: string;
}

/** A parsed, valid rulebook version. */
export interface Rulebook {
  readonly version: number;
  readonly document: RulebookDocument;
}

export type ParseResult =
  { ok: true; document: RulebookDocument } | { ok: false; problems: RulebookProblem[] };

/**
 * Reads and validates rulebook YAML. Pure. Every problem names its line and field so a compliance officer
 * can fix the text: YAML syntax errors first (nothing else is checked then), then the schema of `global`,
 * then each market override merged over `global` (so an override is held to the same rules as the whole).
 */
export function parseRulebook(text: string): ParseResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return { path: '', line: pos.line, column: pos.col, message: e.message.split('\n')[0] ?? e.message };
      }),
    };
  }
  const value: unknown = doc.toJS();
  const top = rulebookDocumentSchema.safeParse(value);
  if (!top.success) return { ok: false, problems: problemsOf(top.error, [], doc, lineCounter) };

  const problems: RulebookProblem[] = [];
  const markets: Record<string, Partial<Rules>> = {};
  for (const [code, override] of Object.entries(top.data.markets ?? {})) {
    if (!isPlainObject(override)) {
      problems.push(placed(['markets', code], 'expected a mapping of rules to override', doc, lineCounter));
      continue;
    }
    const merged = rulesSchema.safeParse(deepMerge(top.data.global, override));
    if (!merged.success) problems.push(...problemsOf(merged.error, ['markets', code], doc, lineCounter));
    else markets[code] = override as Partial<Rules>;
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    document: {
      ...(top.data.description !== undefined ? { description: top.data.description } : {}),
      global: top.data.global,
      markets,
    },
  };
}

/**
 * The rules in force for a market: `global` with `markets.<code>` deep-merged over it. Mappings merge key
 * by key, at any depth; a list or a single value in the override replaces the global one whole (so a
 * market can shorten a list, e.g. its opt-out words). A market without an override gets `global`. Pure;
 * the result of each (rulebook, market) pair is remembered, since a rulebook version never changes.
 */
export function rulesForMarket(rulebook: Rulebook, market: string): Rules {
  let byMarket = merged.get(rulebook);
  if (!byMarket) {
    byMarket = new Map();
    merged.set(rulebook, byMarket);
  }
  let rules = byMarket.get(market);
  if (!rules) {
    const override = rulebook.document.markets?.[market];
    rules = override ? (deepMerge(rulebook.document.global, override) as Rules) : rulebook.document.global;
    byMarket.set(market, rules);
  }
  return rules;
}

const merged = new WeakMap<Rulebook, Map<string, Rules>>();

/** Deep merge as documented on `rulesForMarket`: objects merge, everything else replaces. */
export function deepMerge(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override === undefined ? base : override;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) out[key] = deepMerge(base[key], value);
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function problemsOf(
  error: z.ZodError,
  prefix: (string | number)[],
  doc: Document,
  lineCounter: LineCounter,
): RulebookProblem[] {
  return error.issues.map((issue) => {
    const path = [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    // An unknown key is reported on its parent; name the key itself so the line points at it.
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const where = keys.length > 0 ? [...path, keys[0] as string] : path;
    return placed(where, issue.message, doc, lineCounter, path);
  });
}

/** Finds the deepest key of `path` present in the document and reports its line and column. */
function placed(
  path: (string | number)[],
  message: string,
  doc: Document,
  lineCounter: LineCounter,
  reportedPath: (string | number)[] = path,
): RulebookProblem {
  for (let depth = path.length; depth >= 1; depth--) {
    const parent = depth === 1 ? doc.contents : doc.getIn(path.slice(0, depth - 1), true);
    if (!isMap(parent)) continue;
    const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === path[depth - 1]);
    const offset = pair && isNode(pair.key) ? pair.key.range?.[0] : undefined;
    if (offset !== undefined) {
      const { line, col } = lineCounter.linePos(offset);
      return { path: reportedPath.join('.'), line, column: col, message };
    }
  }
  return { path: reportedPath.join('.'), line: 1, column: 1, message };
}
