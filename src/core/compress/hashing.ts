// Recall vectors by the signed hashing trick: every feature (a word stem, a whole
// identifier, a character trigram of a stem) is hashed to one of `dim` slots with a
// sign, weighted by sublinear term frequency, and the result is L2-normalised.
// Deterministic, no vocabulary, and questions embed through the same function.
import { STOP_WORDS, WORD, stem, subWords } from './identifiers.js';

const WHOLE_WEIGHT = 0.8; // a whole multi-part identifier (`retrydelay`)
const WORD_WEIGHT = 1.0; // one stemmed sub-word (`retry`, `delay`)
const GRAM_WEIGHT = 0.2; // each trigram of a stem: tolerance to spelling and inflection
const MAX_GRAMS = 8;

// Different seeds keep a word and a trigram of the same letters apart.
const SEED_WORD = 0x811c9dc5;
const SEED_WHOLE = 0x01000193;
const SEED_GRAM = 0x9e3779b9;

function fnv(s: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // final avalanche so low bits (the slot) depend on every character
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}

function add(vec: Float32Array, feature: string, seed: number, weight: number): void {
  const h = fnv(feature, seed);
  const slot = h % vec.length;
  vec[slot] = (vec[slot] ?? 0) + ((h & 0x80000000) !== 0 ? -weight : weight);
}

/** Adds the features of one distinct identifier, scaled by `weight`. */
function addIdentifier(vec: Float32Array, ident: string, weight: number): void {
  const parts = subWords(ident);
  let kept = 0;
  for (const part of parts) {
    if (part.length < 2 || STOP_WORDS.has(part)) continue;
    const s = stem(part);
    add(vec, s, SEED_WORD, weight * WORD_WEIGHT);
    kept++;
    const grams = Math.min(s.length - 2, MAX_GRAMS);
    for (let i = 0; i < grams; i++) add(vec, s.slice(i, i + 3), SEED_GRAM, weight * GRAM_WEIGHT);
  }
  if (kept > 1) add(vec, parts.join(''), SEED_WHOLE, weight * WHOLE_WEIGHT);
}

/** Distinct identifiers of `text` with their counts. */
export function identifierCounts(text: string, into = new Map<string, number>()): Map<string, number> {
  WORD.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = WORD.exec(text)) !== null) {
    const w = m[0];
    into.set(w, (into.get(w) ?? 0) + 1);
  }
  return into;
}

export interface VectorInput {
  text: string;
  /** Extra names with a boost (symbols a chunk defines, its path segments). */
  boosted?: ReadonlyArray<{ name: string; weight: number }>;
}

export function hashedVector(input: VectorInput, dim: number): Float32Array {
  const vec = new Float32Array(dim);
  for (const [ident, count] of identifierCounts(input.text)) {
    addIdentifier(vec, ident, 1 + Math.log(count));
  }
  for (const { name, weight } of input.boosted ?? []) {
    WORD.lastIndex = 0;
    for (const ident of name.match(WORD) ?? []) addIdentifier(vec, ident, weight);
  }
  let norm = 0;
  for (let i = 0; i < dim; i++) {
    const x = vec[i] ?? 0;
    if (Math.abs(x) < 1e-6) vec[i] = 0; // float cancellation leftovers, not signal
    else norm += x * x;
  }
  if (norm > 0) {
    const inv = 1 / Math.sqrt(norm);
    for (let i = 0; i < dim; i++) vec[i] = (vec[i] ?? 0) * inv;
  }
  return vec;
}
