// "Where is `X` used?" (who calls X, where is X raised, find the references to X) is answered
// with the lines that use X in the blocks read: calls, reads, raises, instantiations. Not its
// definition (a place question asks for that), nor imports, comments, strings and docstring
// examples, which mention X without using it.
import { definer, escapeRegExp, mentionsAny } from '../compress/identifiers.js';

export interface UsesQuestion {
  name: string;
  /** What the question asks for: any use, calls, or raises (`throw`s): lines of that kind come first. */
  kind: 'use' | 'call' | 'raise';
}

/** One line that uses the name. */
export interface Use {
  /** 1-based line. */
  line: number;
  text: string;
}

const ASKS = /^\s*where\s+is\s+(?:the\s+[a-z]+\s+)?`([^`]+)`(?:\s+of\s+the\s+class\s+`[^`]+`)?\s+(used|called|raised)\s*\?\s*$/i;
const KIND = { used: 'use', called: 'call', raised: 'raise' } as const;
const IMPORT = /^\s*(?:import\b|from\s+\S+\s+import\b|export\s+(?:\*|\{[^}]*\})\s+from\b|(?:const|let|var)\s+.*=\s*require\s*\()/;
// An import list spread over lines: `from m import (` ... `)`, `import {` ... `} from 'm'`.
const IMPORT_OPENS = /^\s*(?:from\s+\S+\s+import\s*\(|(?:import|export)\s+(?:type\s+)?\{)[^)}]*$/;
const IMPORT_CLOSES = /[)}]/;
const RAISES = /\b(?:raise|throw)\b/;
const COMMENT = /^\s*(?:\/\/|\/\*|\*|#)/;
const STRING = /(["'`])(?:\\.|(?!\1).)*\1/g;
const TRIPLE = /"""|'''/g;
/** Uses taken from one block, at most: the memory keeps the places, not one file's every call. */
export const USES_PER_BLOCK = 12;

export function usesQuestion(question: string): UsesQuestion | null {
  const m = ASKS.exec(question);
  const name = m?.[1]?.trim().split(/[.#:]/).pop();
  return name ? { name, kind: KIND[m![2]!.toLowerCase() as keyof typeof KIND] } : null;
}

/** Whether a use is of the kind asked for (every use is, when any use is asked for). */
export function usesAsAsked(asked: UsesQuestion, text: string): boolean {
  if (asked.kind === 'raise') return RAISES.test(text);
  if (asked.kind === 'call') return new RegExp(String.raw`(?<![\p{L}\p{N}_$])${escapeRegExp(asked.name)}\s*\(`, 'u').test(text);
  return true;
}

/** The block's lines that use the asked name, in line order, at most USES_PER_BLOCK. */
export function usesIn(asked: UsesQuestion, block: { startLine: number; text: string }): Use[] {
  const lines = block.text.split('\n');
  const defines = definer([asked.name]);
  const mention = new RegExp(escapeRegExp(asked.name));
  const out: Use[] = [];
  let inDocstring = false;
  let inImport = false;
  for (let i = 0; i < lines.length && out.length < USES_PER_BLOCK; i++) {
    const line = lines[i]!;
    const quotes = line.match(TRIPLE)?.length ?? 0;
    const skipped = inDocstring || inImport;
    if (quotes % 2 === 1) inDocstring = !inDocstring;
    if (inImport) inImport = !IMPORT_CLOSES.test(line);
    else if (IMPORT_OPENS.test(line)) inImport = true;
    if (skipped || quotes > 0 || !mention.test(line)) continue;
    if (COMMENT.test(line) || IMPORT.test(line) || defines(line, i, lines)) continue;
    if (mentionsAny(line.replace(STRING, '""'), [asked.name])) out.push({ line: block.startLine + i, text: line.trim() });
  }
  return out;
}
