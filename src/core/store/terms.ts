// Lexical search terms. The raw chunk text is not stored (it is on disk, and the
// store must stay small), so each block carries `terms`: the distinct words of its
// identifiers (camel/snake parts), lowercased, without stop words, sorted (sorted
// word lists compress better). The full-text index
// tokenises this column; queries are turned into terms the same way.
import { STOP_WORDS, WORD, subWords } from '../compress/identifiers.js';

const MAX_TERM_LENGTH = 40; // the FTS index ignores longer tokens anyway
const MAX_QUERY_TERMS = 64;

/**
 * Atomic lowercased words of an identifier (`retryDelay` -> retry, delay). Whole
 * compound identifiers are not stored: a query for `retryDelay` becomes the same
 * words, BM25 ranks blocks that hold both first, and the index stays small.
 */
function addTermsOf(ident: string, into: Set<string>): void {
  for (const p of subWords(ident)) if (p.length >= 2 && p.length <= MAX_TERM_LENGTH && !STOP_WORDS.has(p)) into.add(p);
}

/**
 * Search terms of a chunk: distinct words of the identifiers of `text`,
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
  return [...terms].sort().join(' ');
}

/** Terms of a user query: safe for any input (quotes, operators, non-ASCII, empty). */
export function queryTerms(query: string): string[] {
  const terms = new Set<string>();
  for (const ident of query.match(WORD) ?? []) {
    addTermsOf(ident, terms);
    if (terms.size >= MAX_QUERY_TERMS) break;
  }
  return [...terms].slice(0, MAX_QUERY_TERMS);
}
