// "What are the parameters of `f`?" ("what arguments does f take", "how do I call f", "the
// signature of f") is answered with f's head as written, from its first line to where its
// parameter list closes (a class's: its constructor's), on one line, cited. TypeScript overloads
// are heads of their own: each is given.
import { definer, parametersClose } from '../compress/identifiers.js';
import { bodyEnd, indentOf } from './chain.js';
import { constructorAt, parametersHead } from './value.js';

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

/**
 * The asked name's heads with a parameter list in the block, in line order (none: a constant, or
 * not defined here); a class's constructor in a block of its own, when the chunker named the block
 * after it (`Pool.constructor`).
 */
export function signaturesIn(asked: SignatureQuestion, block: { path?: string; startLine: number; text: string; symbols?: readonly string[] }): Signature[] {
  const lines = block.text.split('\n');
  const defines = definer([asked.name], block.path);
  const out: Signature[] = [];
  const constructs = (block.symbols ?? []).some((s) => /\.(?:constructor|__init__)$/.test(s) && s.slice(0, s.lastIndexOf('.')).split('.').pop() === asked.name);
  const c = constructs && !lines.some((l, i) => defines(l, i, lines)) ? constructorAt(lines) : -1;
  const close = c < 0 ? null : parametersClose(lines, c);
  if (close !== null) return [{ text: oneLine(lines.slice(c, close + 1)), startLine: block.startLine + c, endLine: block.startLine + close }];
  for (let h = 0; h < lines.length && out.length < MAX_HEADS; h++) {
    if (!defines(lines[h]!, h, lines)) continue;
    const i = parametersHead(lines, h);
    // A class whose constructor is not in this block: its head, for what it says (type parameters,
    // bases); when its closing brace is in the block too, it declares none.
    if (i < 0) {
      const end = lines.findIndex((l, k) => k > h && /^\s*\}/.test(l) && indentOf(l) === indentOf(lines[h]!));
      const head = oneLine([lines[h]!]);
      if (end > h) out.push({ text: `${head} (declares no constructor)`, startLine: block.startLine + h, endLine: block.startLine + end });
      else out.push({ text: head, startLine: block.startLine + h, endLine: block.startLine + h, classOnly: true });
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

/** "What does `f` return?": the name asked about. */
export interface ReturnsQuestion {
  name: string;
}

/** What f's definition says it returns: its annotation, and the return statements of its own body. */
export interface Returned {
  /** 1-based line of the head. */
  line: number;
  /** The declared return type (`-> T`, `): T`), null without one. */
  annotation: string | null;
  /** f's own return statements (not those of functions nested in it), at most MAX_RETURNS: the expression, '' for a bare return. */
  returns: Array<{ line: number; text: string }>;
  /** An arrow function's expression body (`(x) => x + 1`): what it returns. */
  expression: string | null;
  /** The body goes on past the block: returns after it are not seen. */
  open: boolean;
  /** A signature without a body (an overload, a declaration) or an arrow's expression. */
  bodiless: boolean;
}

const RETURNS = /^\s*what\s+does\s+(?:the\s+[a-z]+\s+)?`([^`]+)`(?:\s+of\s+the\s+class\s+`[^`]+`)?\s+return\s*\?\s*$/i;
const MAX_RETURNS = 8;
const RETURN = /^\s*return\b\s*(.*?)\s*;?\s*$/;
// A function nested in the body: its returns are its own.
const NESTED_HEAD = /^\s*(?:(?:async\s+)?def\s|(?:export\s+)?(?:async\s+)?function\b|.*=>\s*\{\s*$|.*\bfunction\s*\*?\s*\w*\s*\([^)]*\)\s*\{\s*$)/;
const DECLARED_FUNCTION = /\b(?:function|def)\b/;

export function returnsQuestion(question: string): ReturnsQuestion | null {
  const name = RETURNS.exec(question)?.[1]?.trim().split(/[.#:]/).pop();
  return name ? { name } : null;
}

/** The asked function's returns as its last head in the block (an overload's implementation) declares and states them; null when it has no head here. */
export function returnsIn(asked: ReturnsQuestion, block: { path?: string; startLine: number; text: string }): Returned | null {
  const lines = block.text.split('\n');
  const defines = definer([asked.name], block.path);
  const heads = lines.flatMap((l, i) => (defines(l, i, lines) ? [i] : []));
  const h = heads[heads.length - 1];
  if (h === undefined) return null;
  const close = parametersClose(lines, h);
  if (close === null) return null;
  const { annotation, expression } = afterParameters(lines, h, close);
  const end = bodyEnd(lines, close, indentOf(lines[h]!));
  const returns: Returned['returns'] = [];
  let nested: number | null = null;
  for (let i = close + 1; i <= end && returns.length < MAX_RETURNS; i++) {
    const line = lines[i]!;
    if (!line.trim()) continue;
    if (nested !== null && indentOf(line) > nested) continue;
    nested = NESTED_HEAD.test(line) ? indentOf(line) : null;
    const r = RETURN.exec(line);
    if (r) returns.push({ line: block.startLine + i, text: r[1]! });
  }
  // A body read to the block's end may go on, unless its last statement returns at the body's own
  // level; a signature (`...;`) or an arrow's expression has no body to go on.
  const body = lines.slice(close + 1, end + 1).filter((l) => l.trim());
  const last = body[body.length - 1] ?? '';
  const closed = /^\s*[)}\]]/.test(last) && indentOf(last) <= indentOf(lines[h]!);
  const ended = closed || (RETURN.test(last) && indentOf(last) === indentOf(body[0]!));
  const bodiless = expression !== null || /;\s*$/.test(lines[close]!);
  return { line: block.startLine + h, annotation, returns, expression, bodiless, open: end === lines.length - 1 && !ended && !bodiless };
}

/**
 * What follows the parameter list of the head at lines[h] (closing on lines[close]): its declared
 * return type (`-> T:`, `): T {`, `): T =>`) and, for an arrow function, the expression it returns.
 */
function afterParameters(lines: readonly string[], h: number, close: number): { annotation: string | null; expression: string | null } {
  let depth = 0;
  let after = '';
  for (let j = h; j <= close && !after; j++) {
    const line = lines[j]!;
    for (let c = 0; c < line.length; c++) {
      if (line[c] === '(') depth++;
      else if (line[c] === ')' && depth > 0 && --depth === 0) {
        after = line.slice(c + 1);
        break;
      }
    }
  }
  const typed = /^\s*(?:->|:)\s*(.*)$/.exec(after);
  let rest = (typed ? typed[1]! : after).trim();
  let expression: string | null = null;
  // An arrow function (not a declared one, whose type may hold `=>`): the type ends at its arrow.
  const arrow = DECLARED_FUNCTION.test(lines[h]!) ? -1 : rest.lastIndexOf('=>');
  if (arrow >= 0) {
    const body = rest.slice(arrow + 2).trim().replace(/;\s*$/, '');
    if (body && body !== '{') expression = body;
    rest = rest.slice(0, arrow).trim();
  }
  const annotation = typed ? rest.replace(/\s*(?:\{|:|;)\s*$/, '').trim() || null : null;
  return { annotation, expression };
}
