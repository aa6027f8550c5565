// "What are the parameters of `f`?" ("what arguments does f take", "how do I call f", "the
// signature of f") is answered with f's head as written, from its first line to where its
// parameter list closes (a class's: its constructor's), on one line, cited. TypeScript overloads
// are heads of their own: each is given.
import { definer, parametersClose } from '../compress/identifiers.js';
import { parametersHead } from './value.js';

export interface SignatureQuestion {
  name: string;
}

/** One head of the asked name: its text on one line and the (1-based) lines it takes. */
export interface Signature {
  text: string;
  startLine: number;
  endLine: number;
  /** A class head without its constructor (in another block, or none): evidence, not the parameters. */
  classOnly?: boolean;
}

const ASKS = /^\s*what\s+are\s+the\s+parameters\s+of\s+(?:the\s+[a-z]+\s+)?`([^`]+)`(?:\s+of\s+the\s+class\s+`[^`]+`)?\s*\?\s*$/i;
/** Heads given at most (overloads). */
const MAX_HEADS = 4;
/** A head shown this long at most. */
const HEAD_CHARS = 400;

export function signatureQuestion(question: string): SignatureQuestion | null {
  const name = ASKS.exec(question)?.[1]?.trim().split(/[.#:]/).pop();
  return name ? { name } : null;
}

/** The asked name's heads with a parameter list in the block, in line order (none: a constant, or not defined here). */
export function signaturesIn(asked: SignatureQuestion, block: { startLine: number; text: string }): Signature[] {
  const lines = block.text.split('\n');
  const defines = definer([asked.name]);
  const out: Signature[] = [];
  for (let h = 0; h < lines.length && out.length < MAX_HEADS; h++) {
    if (!defines(lines[h]!, h, lines)) continue;
    const i = parametersHead(lines, h);
    // A class whose constructor is not in this block: its head, for what it says (type parameters, bases).
    if (i < 0) {
      out.push({ text: oneLine([lines[h]!]), startLine: block.startLine + h, endLine: block.startLine + h, classOnly: true });
      continue;
    }
    const close = parametersClose(lines, i);
    if (close === null) continue;
    out.push({ text: oneLine(lines.slice(i, close + 1)), startLine: block.startLine + i, endLine: block.startLine + close });
    h = close;
  }
  return out;
}

/** A head spread over lines as one: spaces collapsed, none inside its parentheses, no trailing comma, no body opener. */
function oneLine(lines: readonly string[]): string {
  const text = lines
    .map((l) => l.trim())
    .join(' ')
    .replace(/([([])\s+/g, '$1')
    .replace(/,?\s+([)\]])/g, '$1')
    .replace(/\s*(?:\{|=>\s*\{?|:|;)\s*$/, '')
    .replace(/\s+/g, ' ');
  return text.length > HEAD_CHARS ? `${text.slice(0, HEAD_CHARS - 1)}…` : text;
}
