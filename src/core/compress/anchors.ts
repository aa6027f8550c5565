// Reading a compressed text form back: each kept line starts with `N|`, its line number in
// the block's file, so what survived compression can be compared with the source.
import { splitTokens } from '../tokens.js';

const ANCHORED = /^\s*(\d+)\|\s?(.*)$/;
const WORD = /[\p{L}\p{N}_$]/u;

/** Line number -> the text kept of it (a cut line's `…` removed). */
export function anchoredLines(compressed: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of compressed.split('\n')) {
    const m = ANCHORED.exec(line);
    if (!m) continue;
    const n = Number(m[1]);
    const text = (m[2] ?? '').replace(/…$/, '');
    out.set(n, out.has(n) ? `${out.get(n)} ${text}` : text);
  }
  return out;
}

/**
 * How many of a source line's word tokens (names, numbers, literals' words; punctuation is
 * never counted) its kept text still holds, each kept token matched once.
 */
export function keptWords(source: string, kept: string | undefined): { kept: number; total: number } {
  const words = splitTokens(source).filter((t) => WORD.test(t));
  if (kept === undefined) return { kept: 0, total: words.length };
  const left = new Map<string, number>();
  for (const t of splitTokens(kept)) left.set(t, (left.get(t) ?? 0) + 1);
  let n = 0;
  for (const w of words) {
    const c = left.get(w) ?? 0;
    if (c > 0) {
      n++;
      left.set(w, c - 1);
    }
  }
  return { kept: n, total: words.length };
}
