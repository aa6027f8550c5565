// "Where is `X` used?" (who calls X, where is X raised, find the references to X) is answered
// with the lines that use X in the blocks read: calls, reads, raises, instantiations. Not its
// definition (a place question asks for that), nor imports, comments, strings and docstring
// examples, which mention X without using it. "Where is `X` imported?" takes the imports
// alone, and "Which classes extend `X`?" the class heads that name X as a base.
import { codeOnly, definer, escapeRegExp, isImportLine, mentionsAny } from '../compress/identifiers.js';

export interface UsesQuestion {
  name: string;
  /**
   * What the question asks for: any use, calls, or raises (`throw`s), whose lines come first;
   * imports, or subclasses (`class Y(X)`, `extends X`, `implements X`), which are all it takes.
   */
  kind: 'use' | 'call' | 'raise' | 'import' | 'extend';
  /** The class a method is asked of (`close` of `Pool`): its uses are the name's, and those in files naming the class come first. */
  owner?: string;
}

/** One line that uses the name. */
export interface Use {
  /** 1-based line. */
  line: number;
  text: string;
}

const ASKS = /^\s*where\s+is\s+(?:the\s+[a-z]+\s+)?`([^`]+)`(?:\s+of\s+the\s+class\s+`([^`]+)`)?\s+(used|called|raised|imported)\s*\?\s*$/i;
const EXTENDS = /^\s*which\s+classes\s+extend\s+(?:the\s+[a-z]+\s+)?`([^`]+)`\s*\?\s*$/i;
const KIND = { used: 'use', called: 'call', raised: 'raise', imported: 'import' } as const;
// A class head naming bases: `class Y(A, B):`, `class Y extends A implements B {`, `interface Y extends A`.
const BASES = /^\s*(?:(?:export|default|abstract|declare|public|private|final|sealed|data)\s+)*(?:class|interface|struct|trait)\s+[\p{L}_$][\p{L}\p{N}_$]*\s*(?:<[^>]*>\s*)?(?:\((.*)\)|(?:extends|implements|:)\s*([^{]*))/u;
// An import list spread over lines: `from m import (` ... `)`, `import {` ... `} from 'm'`.
const IMPORT_OPENS = /^\s*(?:from\s+\S+\s+import\s*\(|(?:import|export)\s+(?:type\s+)?\{)[^)}]*$/;
const IMPORT_CLOSES = /[)}]/;
const RAISES = /\b(?:raise|throw)\b/;
const COMMENT = /^\s*(?:\/\/|\/\*|\*|#)/;
const TRIPLE = /"""|'''/g;
/** Uses taken from one block, at most: the memory keeps the places, not one file's every call. */
export const USES_PER_BLOCK = 12;

export function usesQuestion(question: string): UsesQuestion | null {
  const m = ASKS.exec(question);
  const sub = m ? null : EXTENDS.exec(question);
  const parts = (m ?? sub)?.[1]?.trim().split(/[.#:]+/) ?? [];
  const name = parts.pop();
  if (!name) return null;
  const owner = m?.[2]?.trim() ?? parts.pop();
  return { name, kind: m ? KIND[m[3]!.toLowerCase() as keyof typeof KIND] : 'extend', ...(owner ? { owner } : {}) };
}

/** Whether a use is of the kind asked for (every use is, when any use is asked for). */
export function usesAsAsked(asked: UsesQuestion, text: string): boolean {
  if (asked.kind === 'raise') return RAISES.test(text);
  if (asked.kind === 'call') return new RegExp(String.raw`(?<![\p{L}\p{N}_$])${escapeRegExp(asked.name)}\s*\(`, 'u').test(text);
  return true;
}

/** The block's lines that use the asked name, in line order, at most `max`. */
export function usesIn(asked: UsesQuestion, block: { path?: string; startLine: number; text: string }, max = USES_PER_BLOCK): Use[] {
  const lines = block.text.split('\n');
  const defines = definer([asked.name], block.path);
  const mention = new RegExp(escapeRegExp(asked.name));
  const out: Use[] = [];
  let inDocstring = false;
  let inImport = false;
  for (let i = 0; i < lines.length && out.length < max; i++) {
    const line = lines[i]!;
    const quotes = line.match(TRIPLE)?.length ?? 0;
    // A docstring's lines (and a line opening or closing one) are prose, not uses.
    const inString = inDocstring || quotes > 0;
    if (quotes % 2 === 1) inDocstring = !inDocstring;
    // The lines of an import list spread over lines are imports.
    const importing = inImport || isImportLine(line);
    if (inImport) inImport = !IMPORT_CLOSES.test(line);
    else if (IMPORT_OPENS.test(line)) inImport = true;
    if (inString || COMMENT.test(line) || !mention.test(line)) continue;
    const code = codeOnly(line);
    if (!mentionsAny(code, [asked.name])) continue;
    const wanted = asked.kind === 'import' ? importing : asked.kind === 'extend' ? basesOf(code).includes(asked.name) : !importing && !defines(line, i, lines);
    if (wanted) out.push({ line: block.startLine + i, text: line.trim() });
  }
  return out;
}

/** The names a class head gives as its bases (`class Y(A, m.B)`: A, B); none for other lines. */
function basesOf(line: string): string[] {
  const m = BASES.exec(line);
  const list = m?.[1] ?? m?.[2] ?? '';
  return [...list.matchAll(/[\p{L}_$][\p{L}\p{N}_$]*/gu)].map((w) => w[0]);
}
