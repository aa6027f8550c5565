// Lexical search terms. The raw chunk text is not stored (it is on disk, and the
// store must stay small), so each block carries `terms`: its distinct identifiers
// and words, lowercased, plus their camel/snake sub-words. The full-text index
// tokenises this column; queries are turned into terms the same way.
import { STOP_WORDS, WORD, subWords } from '../compress/identifiers.js';

const MAX_TERM_LENGTH = 40; // the FTS index ignores longer tokens anyway
const MAX_QUERY_TERMS = 64;

function addTermsOf(ident: string, into: Set<string>): void {
  const whole = ident.replace(/\$/g, '').toLowerCase();
  if (whole.length >= 2 && whole.length <= MAX_TERM_LENGTH) into.add(whole.replace(/_/g, ''));
  const parts = subWords(ident);
  if (parts.length > 1) for (const p of parts) if (p.length >= 2) into.add(p);
}

/**
 * Search terms of a chunk: distinct identifiers/words of `text`, their sub-words,
 * and the given extra names (symbols, path segments). Space-separated.
 */
export function termsOf(text: string, extra: readonly string[] = []): string {
  const terms = new Set<string>();
  const seen = new Set<string>();
  const scan = (s: string): void => {
    WORD.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = WORD.exec(s)) !== null) {
      const ident = m[0];
      if (seen.has(ident)) continue;
      seen.add(ident);
      addTermsOf(ident, terms);
    }
  };
  scan(text);
  for (const e of extra) scan(e);
  return [...terms].join(' ');
}

/** Terms of a user query: safe for any input (quotes, operators, non-ASCII, empty). */
export function queryTerms(query: string): string[] {
  const terms = new Set<string>();
  for (const ident of query.match(WORD) ?? []) {
    const t = new Set<string>();
    addTermsOf(ident, t);
    for (const x of t) if (!STOP_WORDS.has(x)) terms.add(x);
    if (terms.size >= MAX_QUERY_TERMS) break;
  }
  return [...terms].slice(0, MAX_QUERY_TERMS);
}
