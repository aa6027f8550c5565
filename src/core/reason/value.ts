// "What is the value of `X`?" and "What is the default value of the parameter `p` of `f`?"
// are answered where `X` is assigned, or where `f`'s head gives `p` a default, by reading
// the right-hand side up to the end of its expression. The reader's span head picks a
// neighbouring name as often as the value (held-out constants 0.44, defaults 0.51), so a
// value read this way from the definition comes first; the reader answers when there is none.
import { definer, escapeRegExp, namesIn, parametersClose, SPREAD_HEAD_LINES } from '../compress/identifiers.js';
import { headName } from './describe.js';

/** What a value question asks for: a constant's name, or a parameter and its function. */
export interface ValueQuestion {
  name: string;
  /** The name is a parameter and its default is asked for: in `fn`'s head, or without `fn`, any function's. */
  parameter?: boolean;
  /** The function whose parameter it is (a parameter, then, whatever `parameter` says). */
  fn?: string;
}

export interface ValueFound {
  text: string;
  /** 1-based line of the assignment. */
  line: number;
  /** The asked function takes the parameter without a default (`text` is empty; `line` is its head's). */
  required?: boolean;
}

const PARAMETER = /\bparameter\s+`([^`]+)`/i;
const FUNCTION = /\b(?:function|method|constructor|class)\s+`([^`]+)`/i;
const VALUE_OF = /\bvalue of\b/i;
const OPEN = '([{';
const CLASS_HEAD = /^\s*(?:(?:export|default|abstract|declare)\s+)*class\s/;
const CONSTRUCTOR = /^\s*(?:(?:public|private|protected)\s+)?(?:constructor\s*\(|def\s+__init__\s*\()/;
const CLOSE = ')]}';

/** What a value question asks for; null for other questions. */
export function valueQuestion(question: string): ValueQuestion | null {
  if (!VALUE_OF.test(question)) return null;
  const param = PARAMETER.exec(question)?.[1];
  const fn = FUNCTION.exec(question)?.[1];
  if (param) return fn ? { name: param, parameter: true, fn } : { name: param, parameter: true };
  const names = namesIn(question);
  return names.length === 1 ? { name: names[0]! } : null;
}

/** The line whose parameters a head on lines[h] takes: itself, or a class's constructor (-1 when the block has none). */
export function parametersHead(lines: readonly string[], h: number): number {
  return CLASS_HEAD.test(lines[h]!) ? constructorAt(lines, h + 1) : h;
}

/** The first constructor head (`constructor(`, `def __init__(`) at or after lines[from]; -1 when there is none. */
export function constructorAt(lines: readonly string[], from = 0): number {
  return lines.findIndex((l, k) => k >= from && CONSTRUCTOR.test(l));
}

/** The value the block gives the asked name, read from its definition; null when the block has none. */
export function valueIn(asked: ValueQuestion, block: { path?: string; startLine: number; text: string }): ValueFound | null {
  const lines = block.text.split('\n');
  const e = escapeRegExp(asked.name);
  if (asked.parameter || asked.fn) {
    // Without its function, any definition's head (a class's: its constructor's).
    const head = asked.fn ? definer([asked.fn], block.path) : (line: string) => headName(line) !== null;
    const param = new RegExp(String.raw`(?<![\p{L}\p{N}_$.])${e}\s*(?=[:=])`, 'u');
    let required: number | undefined;
    for (let h = 0; h < lines.length; h++) {
      if (!head(lines[h]!, h, lines)) continue;
      const i = parametersHead(lines, h);
      if (i < 0) continue;
      // SPREAD_HEAD_LINES on, or to where a longer parameter list closes.
      const end = Math.max(Math.min(lines.length - 1, i + SPREAD_HEAD_LINES), parametersClose(lines, i) ?? 0);
      for (let j = i; j <= end; j++) {
        const found = defaultFrom(lines, j, end, param);
        if (found) return { text: found.text, line: block.startLine + found.line };
      }
      // The function named, its head here lists the parameter with no `=`: it has no default (an overload may, read on).
      required ??= asked.fn && takesWithoutDefault(lines, i, asked.name) ? block.startLine + i : undefined;
    }
    return required === undefined ? null : { text: '', line: required, required: true };
  }
  const defines = definer([asked.name], block.path);
  const assign = new RegExp(String.raw`(?<![\p{L}\p{N}_$])${e}\s*(?::\s*[^=]+)?=(?![=>])\s*`, 'u');
  for (let i = 0; i < lines.length; i++) {
    if (!defines(lines[i]!)) continue;
    const m = assign.exec(lines[i]!);
    const found = m ? rightHand(lines[i]!, m.index + m[0].length, ';,') : null;
    if (found) return { text: found, line: block.startLine + i };
  }
  return null;
}

// After a head's parameter list: a body's brace or arrow (past a return type), or Python's colon.
const HAS_BODY = /^[^;]*(?:\{|=>)|^\s*(?:->[^:]*)?:\s*(?:#.*)?$/;

/**
 * Whether the parameter list opened on lines[at] lists `name` (`name`, `name: T`, `...name`, `*name`)
 * with no `=` in its entry, in a head with a body. Entries are split at the list's own commas (not
 * those inside brackets). An overload signature (`): T;`) has no body: its implementation, maybe in
 * another block, may give the default (rxjs's `mergeMapTo`, `concurrent = Infinity`).
 */
function takesWithoutDefault(lines: readonly string[], at: number, name: string): boolean {
  const close = parametersClose(lines, at);
  if (close === null) return false;
  const text = lines.slice(at, close + 1).join('\n');
  const open = text.indexOf('(');
  const entries: string[] = [];
  let depth = 0;
  let from = open + 1;
  for (let k = open + 1; k < text.length; k++) {
    const c = text[k]!;
    if (OPEN.includes(c) || c === '<') depth++;
    else if (CLOSE.includes(c) || (c === '>' && text[k - 1] !== '=')) {
      if (depth === 0) {
        entries.push(text.slice(from, k));
        if (!HAS_BODY.test(text.slice(k + 1))) return false;
        break;
      }
      depth--;
    } else if (c === ',' && depth === 0) {
      entries.push(text.slice(from, k));
      from = k + 1;
    }
  }
  const entry = new RegExp(String.raw`^\s*(?:\.\.\.|\*{1,2})?${escapeRegExp(name)}\s*(?:\?\s*)?(?::|$)`, 'u');
  return entries.some((x) => entry.test(x) && !/=(?!>)/.test(x));
}

/**
 * The default of the parameter that `param` finds on lines[j], and the (0-based) line it is on. A
 * type annotation spread over lines (`init: RequestInit & {` ... `} = {}`) is read on, up to `end`.
 */
function defaultFrom(lines: readonly string[], j: number, end: number, param: RegExp): { text: string; line: number } | null {
  const line = lines[j]!;
  const start = defaultStart(line, param);
  if (start !== null) {
    const text = rightHand(line, start, ',)');
    return text ? { text, line: j } : null;
  }
  if (!param.test(line)) return null;
  const spread = lines.slice(j, end + 1).join('\n');
  const at = defaultStart(spread, param);
  const text = at === null ? null : rightHand(spread, at, ',)');
  return text ? { text, line: j + (spread.slice(0, at!).match(/\n/g)?.length ?? 0) } : null;
}

/**
 * Where the default of the parameter that `param` finds begins on a head line: past its name and its
 * type annotation, whose brackets, arrows and commas inside brackets are skipped
 * (`auth: Union[A, B, None] = USE_CLIENT_DEFAULT`, `f: () => any = noop`); null without one.
 */
function defaultStart(line: string, param: RegExp): number | null {
  const m = param.exec(line);
  if (!m) return null;
  let k = m.index + m[0].length;
  if (line[k] === ':') {
    let depth = 0;
    for (k++; k < line.length; k++) {
      const c = line[k]!;
      if (c === '=' && line[k + 1] === '>') k++;
      else if (OPEN.includes(c) || c === '<') depth++;
      else if (CLOSE.includes(c) || c === '>') {
        if (depth === 0) return null;
        depth--;
      } else if (depth === 0 && (c === ',' || c === '=')) break;
    }
  }
  return line[k] === '=' && line[k + 1] !== '=' ? k + 1 : null;
}

/** The expression from `start` on the line, up to a stop character outside brackets and strings. */
function rightHand(line: string, start: number, stops: string): string | null {
  const rest = line.slice(start);
  let depth = 0;
  let quote = '';
  let end = rest.length;
  for (let k = 0; k < rest.length; k++) {
    const c = rest[k]!;
    if (quote) {
      if (c === '\\') k++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if (OPEN.includes(c)) depth++;
    else if (CLOSE.includes(c) && depth > 0) depth--;
    else if (depth === 0 && (stops.includes(c) || (c === '/' && rest[k + 1] === '/') || c === '#')) {
      end = k;
      break;
    }
  }
  const value = rest.slice(0, end).trim();
  // An unfinished expression (`{`, `[`, a call spanning lines) is not a value to quote.
  return value && depth === 0 && !quote ? value : null;
}

