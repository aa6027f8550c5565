// Lexical search terms. The raw chunk text is not stored (it is on disk, and the
// store must stay small), so each block carries `terms`: the distinct words of its
// identifiers (camel/snake parts) and each compound identifier or name with digits joined into one word,
// lowercased, without stop words, sorted (sorted word lists compress better); the
// words of the names the block defines follow once more, so a block that defines a
// name outranks the blocks that merely use it. The full-text index tokenises this
// column; queries are turned into terms the same way.
import { STOP_WORDS, WORD, subWords } from '../compress/identifiers.js';

const MAX_TERM_LENGTH = 40; // the FTS index ignores longer tokens anyway
const MAX_QUERY_TERMS = 64;
const DIGIT = /\p{N}/u;
const NOT_ALNUM = /[^\p{L}\p{N}]/gu;

/**
 * Lowercased words of an identifier, and for a compound its parts joined
 * (`RETRY_DELAY` -> retry, delay, retrydelay). The parts let "retry delay" find
 * `retryDelay`; the joined word lets `RBDT_FILE` outrank `RBDT_RESOLVE_CJS_FILE`,
 * which shares every part. Joined, so the index's tokenizer keeps it one token.
 */
function addTermsOf(ident: string, into: Set<string>): void {
  const parts = subWords(ident);
  for (const p of parts) if (usablePart(p)) into.add(p);
  const joined = joinedTerm(ident, parts);
  if (joined !== null) into.add(joined);
}

function usablePart(part: string): boolean {
  return part.length >= 2 && part.length <= MAX_TERM_LENGTH && !STOP_WORDS.has(part);
}

/**
 * The one word a compound identifier or a name with digits stands as. Parts are letters only, so
 * a name with digits (`test51`, `sha256`, `http2`) also stands whole: otherwise `test51` would
 * be found by `test`, as every test is.
 */
function joinedTerm(ident: string, parts: readonly string[]): string | null {
  const joined = DIGIT.test(ident) ? ident.toLowerCase().replace(NOT_ALNUM, '') : parts.length >= 2 ? parts.join('') : '';
  return joined.length >= 2 && joined.length <= MAX_TERM_LENGTH ? joined : null;
}

/**
 * The term every block that mentions the identifier holds (`innerFrom` -> innerfrom, `close` ->
 * close); null when it has none of its own (a stop word, or too long for the index).
 */
export function nameTerm(ident: string): string | null {
  const parts = subWords(ident);
  const joined = joinedTerm(ident, parts);
  if (joined !== null) return joined;
  return parts.length === 1 && usablePart(parts[0]!) ? parts[0]! : null;
}

/**
 * The terms every block that mentions the identifier holds: its own (nameTerm), or for a compound
 * too long to be one index token, all of its parts (`isIdentifierUsedBetweenAssignedAndEqualSign`).
 */
export function nameTerms(ident: string): string[] {
  const own = nameTerm(ident);
  if (own !== null) return [own];
  const parts = subWords(ident).filter(usablePart);
  return parts.length >= 2 ? [...new Set(parts)] : [];
}

function identifierTerms(texts: readonly string[]): Set<string> {
  const terms = new Set<string>();
  const seen = new Set<string>();
  for (const s of texts) {
    WORD.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = WORD.exec(s)) !== null) {
      const ident = m[0];
      if (seen.has(ident)) continue;
      seen.add(ident);
      addTermsOf(ident, terms);
    }
  }
  return terms;
}

/**
 * Search terms of a chunk: the terms of the identifiers in `text` and in `extra`
 * (path segments), then the terms of `defined` (the names the chunk defines) once
 * more, which doubles their term frequency. Space-separated.
 */
export function termsOf(text: string, extra: readonly string[] = [], defined: readonly string[] = []): string {
  const terms = identifierTerms([text, ...extra, ...defined]);
  const again = identifierTerms(defined);
  // A defined name that is a stop word (rxjs's `not`, `every`) is still the block's name: kept whole.
  for (const d of defined) {
    const low = d.toLowerCase();
    if (STOP_WORDS.has(low)) {
      terms.add(low);
      again.add(low);
    }
  }
  return [...[...terms].sort(), ...[...again].sort()].join(' ');
}

/** Terms of a user query: safe for any input (quotes, operators, non-ASCII, empty). */
export function queryTerms(query: string): string[] {
  const terms = new Set<string>();
  const idents = query.match(WORD) ?? [];
  // A query of one name (the gate's searches for a code name) keeps it, stop word or not.
  if (idents.length === 1 && STOP_WORDS.has(idents[0]!.toLowerCase())) terms.add(idents[0]!.toLowerCase());
  for (const ident of idents) {
    addTermsOf(ident, terms);
    if (terms.size >= MAX_QUERY_TERMS) break;
  }
  return [...terms].slice(0, MAX_QUERY_TERMS);
}
