// Token counts before a model tokenizer is loaded. Words, numbers and single
// punctuation marks each count one, which tracks byte-level BPE on code closely
// enough for chunk budgets; models count with their own tokenizer.
const TOKEN = /[\p{L}_][\p{L}\p{N}_]*|\p{N}+|[^\s\p{L}\p{N}_]/gu;

export function countTokens(text: string): number {
  let n = 0;
  TOKEN.lastIndex = 0;
  while (TOKEN.exec(text) !== null) n++;
  return n;
}

/** The tokens themselves, in order (for compressors and lexical search). */
export function splitTokens(text: string): string[] {
  return text.match(TOKEN) ?? [];
}
