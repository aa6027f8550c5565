// Call-chain questions ("The function `f` calls exactly one function defined in another
// file[; that function calls exactly one function defined in a third file]. Which function
// is it?") are answered by following the calls: the block defining `f` gives its body's
// calls, written into the working memory; the gate, asked again with that memory, brings
// the block that defines one of them in another file; that is the answer, or the next hop.
// The memory carries the chain so far as `via NAME PATH:START-END calls \`a\` \`b\`` lines (the
// hop's body and what it calls, in backticks so the gate reads them as names), so the
// reasoner itself stays stateless. The reader's span head scored 0.30 on them.
import { codeOnly, definer, escapeRegExp, SPREAD_HEAD_LINES } from '../compress/identifiers.js';
import { CONTINUATION_GAP } from '../types.js';

export interface ChainQuestion {
  /** The function the chain starts from. */
  start: string;
  /** How many calls to follow (1: "another file"; 2: "... a third file"; 0: the start's own calls are asked for). */
  hops: number;
}

/** One definition reached: its name and where its body lies. */
export interface Hop {
  name: string;
  path: string;
  startLine: number;
  endLine: number;
  /** The functions its body calls (not methods of other objects). */
  calls: string[];
  /** Its body runs on past the end of the block it was read in (the next block continues it). */
  open: boolean;
  /** Its head's indentation: where the body ends in a block that continues it. */
  indent: number;
}

export interface ChainStep {
  /** Lines for the working memory: the hop's `via` line, then its body's call lines as facts. */
  facts: string[];
  /** The hop this block entered (or continued). */
  hop?: Hop;
  /** The last hop's definition, when this block completes the chain. */
  answer?: { name: string; path: string; line: number };
}

const ASKS = /`([^`]+)`[^.?;]*\bcalls?\b[^.?;]*\b(?:another|other|different) file/i;
const THIRD = /\b(?:third|3rd) file\b/i;
// "Which functions does `f` call?": the start's own calls, read from its body.
const CALLS = /^\s*which\s+functions\s+does\s+(?:the\s+(?:function|method)\s+)?`([^`]+)`(?:\s+of\s+the\s+class\s+`[^`]+`)?\s+call\s*\?\s*$/i;
// `…` after the range: the body goes on in the next block (the gate reads that one next); the
// head's indentation follows it when the head is indented (`…4`: a method).
const VIA = /^via (\S+) (.+?):(\d+)-(\d+)(?:(…)(\d*))?(?: calls (.*))?$/;
const CLOSER = /^\s*[)}\]>][\s;,)]*$/;
// `f(` (not `x.f(`), and `m.f(` with a plain name `m`: calls() takes the second in Python only.
const PLAIN = /(?<![\p{L}\p{N}_$.])([\p{L}_$][\p{L}\p{N}_$]*)\s*(?:<[^<>()]*>)?\s*\(/gu;
const MEMBER = /(?<![\p{L}\p{N}_$.])([\p{L}_$][\p{L}\p{N}_$]*)\.([\p{L}_$][\p{L}\p{N}_$]*)\s*\(/gu;
const SELF = new Set(['self', 'cls', 'this', 'super']);
const TRIPLE = /"""|'''/g;
// Keywords that take parentheses, per language: `not(` is a call in JavaScript (rxjs defines `not`).
const NOT_CALLS = {
  python: new Set('if for while return super elif with assert await yield not and or in def async match except lambda'.split(' ')),
  other: new Set('if for foreach while switch catch return typeof function super with await yield sizeof new fn func async match'.split(' ')),
};
// Builtins, per language (Python's `map` is a builtin, rxjs's is an operator defined in the
// workspace): never defined there, and in the memory they would take the gate's name searches
// (8 a round) from the callees that are (validation: `hasattr len range max` before `request_context`).
const BUILTINS = {
  python: new Set(
    ('len range max min abs print hasattr getattr setattr isinstance issubclass str int float bool bytes list dict set tuple type iter next enumerate zip map filter sorted reversed sum any all open repr hash id vars format round divmod callable object ' +
      'Exception TypeError ValueError KeyError IndexError AttributeError RuntimeError NotImplementedError StopIteration OSError ImportError AssertionError').split(' '),
  ),
  other: new Set('Array Object String Number Boolean Symbol BigInt Promise Error TypeError RangeError Map Set WeakMap WeakSet Date RegExp JSON parseInt parseFloat isNaN isFinite setTimeout clearTimeout setInterval clearInterval setImmediate queueMicrotask require structuredClone encodeURIComponent decodeURIComponent'.split(' ')),
};
/** Lines a function head may spread over. */
const HEAD_LINES = 6;
const FUNCTION = /\bfunction\b|\bdef\s|\bfn\s|\bfunc\s|=>|\)\s*(?::[^;{=]*)?\{/;
/** A line that is only a comment: the names in it are no calls. */
const COMMENT = /^\s*(?:\/\/|\/\*|\*|#)/;
/** Body lines followed past the head, at most. */
const BODY_LINES = 80;

export function chainQuestion(question: string): ChainQuestion | null {
  const m = ASKS.exec(question);
  const own = m ? null : CALLS.exec(question);
  const start = (m ?? own)?.[1]?.trim().split(/[.#:]/).pop() ?? '';
  if (!start) return null;
  return { start, hops: own ? 0 : THIRD.test(question) ? 2 : 1 };
}

/** The answer to "which functions does `f` call": the calls of its body, or that it calls none by name. */
export function callsOf(hop: Hop): string {
  if (!hop.calls.length) return `\`${hop.name}\` calls no function by name (${hop.path}:${hop.startLine}-${hop.endLine})`;
  return `\`${hop.name}\` (${hop.path}:${hop.startLine}) calls ${callsList(hop)}`;
}

/** "`a`, `b` (by name; methods of objects are not listed)". */
export function callsList(hop: Hop): string {
  return `${hop.calls.map((c) => `\`${c}\``).join(', ')} (by name; methods of objects are not listed)`;
}

/** The hops found so far, from the memory's `via` lines, in order (a hop entered again counts once, as last entered). */
export function chainSoFar(memory: string): Hop[] {
  const out: Hop[] = [];
  for (const line of memory.split('\n')) {
    const m = VIA.exec(line);
    if (m && out[out.length - 1]?.name === m[1]) out.pop();
    if (m) {
      const calls = [...(m[7] ?? '').matchAll(/`([^`]+)`/g)].map((c) => c[1]!);
      out.push({ name: m[1]!, path: m[2]!, startLine: Number(m[3]), endLine: Number(m[4]), open: m[5] !== undefined, indent: Number(m[6] || 0), calls });
    }
  }
  return out;
}

/** Whether a memory line records a hop (the memory's bound keeps those). */
export function isChainLine(line: string): boolean {
  return VIA.test(line);
}

/** The hop a memory line records (name, file and head line), null for other lines: a hop read on in the next block is written again. */
export function hopOf(line: string): string | null {
  const m = VIA.exec(line);
  return m ? `${m[1]} ${m[2]}:${m[3]}` : null;
}

/** What this block adds to the chain: the start's body, the next hop, or the answer; null when nothing. */
export function stepChain(chain: ChainQuestion, memory: string, block: { path: string; startLine: number; text: string }): ChainStep | null {
  const lines = block.text.split('\n');
  const hops = chainSoFar(memory);
  if (!hops.length) return enterFirst(chain.start, block, lines, headsOf(chain.start, lines, block.path));
  const last = hops[hops.length - 1]!;
  // A long body spans blocks: the next one adds its calls to the hop's (`diff` in preact calls
  // `assign` 50 lines past the end of the block holding its head).
  if (last.open && block.path === last.path && block.startLine > last.endLine && block.startLine <= last.endLine + CONTINUATION_GAP && insideBody(lines, last.indent)) {
    return enter(last.name, block, lines, -1, last);
  }
  // A hop entered at a head without calls (an overload signature, or a head that ends its block)
  // is followed into the block that continues it, or entered again at a later head.
  if (!last.calls.length && block.path === last.path) {
    const again = enterFirst(last.name, block, lines, headsOf(last.name, lines, block.path));
    const hop = again?.hop;
    // Only a later head (an overload's implementation comes after its signatures), and taken when
    // it has calls or its body may go on past this block's end (a signature, `...;`, has none).
    if (!hop || hop.startLine <= last.startLine) return null;
    const head = lines[hop.startLine - block.startLine] ?? '';
    const open = hop.endLine === block.startLine + lines.length - 1 && !/;\s*$/.test(head);
    return hop.calls.length || open ? again : null;
  }
  if (hops.length > chain.hops) return null;
  if (hops.some((h) => h.path === block.path)) return null;
  const known = new Set(hops.map((h) => h.name));
  const wanted = last.calls.filter((n) => !known.has(n));
  for (const name of wanted) {
    // A chain goes through top-level functions: not a class being constructed (`Foo(...)`), not a
    // method of some object that happens to share the name (`decoder.decode(`).
    const klass = new RegExp(String.raw`\bclass\s+${escapeRegExp(name)}(?![\p{L}\p{N}_$])`, 'u');
    const heads = headsOf(name, lines, block.path).filter((i) => (indentOf(lines[i]!) === 0 || inModuleBranch(lines, i)) && !klass.test(lines[i]!) && functionHead(lines, i));
    if (!heads.length) continue;
    // The last head: TypeScript's overload signatures come before the implementation.
    if (hops.length === chain.hops) return { facts: [], answer: { name, path: block.path, line: block.startLine + heads[heads.length - 1]! } };
    return enterFirst(name, block, lines, heads);
  }
  return null;
}

/**
 * Whether the definition at lines[i] is a function's (its head, up to the end of its statement,
 * over a few lines): `export const isArray = Array.isArray;` defines a name a body calls, but
 * no function of that file.
 */
function functionHead(lines: readonly string[], i: number): boolean {
  const head = lines.slice(i, i + HEAD_LINES).join('\n');
  const end = head.indexOf(';');
  return FUNCTION.test(end < 0 ? head : head.slice(0, end));
}

/** A statement that opens a module-level branch: `if PY3:`, `else:`, `try:`, `except ImportError:`. */
const MODULE_BRANCH = /^(?:if|elif|else|try|except|finally)\b[^#]*:\s*(?:#.*)?$/;

/**
 * Whether the indented definition at lines[i] is a function of the module all the same: the line
 * it is nested under, seen in the block, opens a branch at column 0 (six defines `reraise` under
 * `if PY3:`). A method's class, or a head whose parent the block does not show, does not count.
 */
function inModuleBranch(lines: readonly string[], i: number): boolean {
  const indent = indentOf(lines[i]!);
  for (let j = i - 1; j >= 0; j--) {
    const line = lines[j]!;
    if (!line.trim() || COMMENT.test(line) || indentOf(line) >= indent) continue;
    return indentOf(line) === 0 && MODULE_BRANCH.test(line);
  }
  return false;
}

/**
 * Whether a block opens inside the body of a head indented `indent`: deeper than the head (the
 * next method, or `if __name__ ...` at column 0, is past it), or with the body's closer.
 */
function insideBody(lines: readonly string[], indent: number): boolean {
  const first = lines.find((l) => l.trim()) ?? '';
  return indentOf(first) > indent || (CLOSER.test(first) && indentOf(first) === indent);
}

/** Lines of `lines` (of the file `path`) that define `name`. */
function headsOf(name: string, lines: readonly string[], path: string): number[] {
  const defines = definer([name], path);
  return lines.flatMap((l, i) => (defines(l, i, lines) ? [i] : []));
}

/** Enters the first of `name`'s heads whose body calls something (overload signatures have none), else its last. */
function enterFirst(name: string, block: { path: string; startLine: number }, lines: readonly string[], heads: readonly number[]): ChainStep | null {
  if (!heads.length) return null;
  const steps = heads.map((at) => enter(name, block, lines, at));
  return steps.find((s) => s.hop?.calls.length) ?? steps[steps.length - 1]!;
}

/**
 * The `via` line and the call lines of the definition at lines[at]; at = -1 with `from` (the hop
 * entered in an earlier block: its head line, indentation and calls): the block continues that body.
 */
function enter(name: string, block: { path: string; startLine: number }, lines: readonly string[], at: number, from?: Hop): ChainStep {
  const head = from ? from.startLine : block.startLine + at;
  const indent = from ? from.indent : indentOf(lines[at]!);
  const end = bodyEnd(lines, at, indent);
  const called = new Set<string>(from?.calls);
  const facts: string[] = [];
  const python = /\.pyi?$/.test(block.path);
  const local = python ? boundNames(lines, at, end) : new Set<string>();
  // A body continued from an earlier block may open inside its docstring: then the quotes that
  // close it leave an odd count in this block's part of the body.
  let inString = python && from !== undefined && lines.slice(0, end + 1).reduce((n, l) => n + (l.match(TRIPLE) ?? []).length, 0) % 2 === 1;
  for (let i = at + 1; i <= end; i++) {
    const was = inString;
    if (python && (lines[i]!.match(TRIPLE) ?? []).length % 2) inString = !inString;
    // A docstring's examples (`Word(alphas)`) are no calls of the body.
    if (was || inString) continue;
    const found = calls(lines[i]!, python, local).filter((c) => c !== name);
    for (const c of found) called.add(c);
    if (found.length) facts.push(`${block.path}:${block.startLine + i}: ${lines[i]!.trim()}`);
  }
  const closed = CLOSER.test(lines[end] ?? '') && indentOf(lines[end] ?? '') <= indent;
  const open = end === lines.length - 1 && !closed;
  const hop: Hop = { name, path: block.path, startLine: head, endLine: block.startLine + end, calls: [...called], open, indent };
  const via = `via ${name} ${block.path}:${head}-${hop.endLine}${open ? `…${indent || ''}` : ''}`;
  return { facts: [called.size ? `${via} calls ${hop.calls.map((c) => `\`${c}\``).join(' ')}` : via, ...facts], hop };
}

export function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

/**
 * Last line of the body whose head is lines[at] (indented `head`; at = -1: the head is in an
 * earlier block): up to the first line indented no deeper than the head (a closing bracket included).
 */
export function bodyEnd(lines: readonly string[], at: number, head: number): number {
  const indent = indentOf;
  const last = Math.min(lines.length - 1, at + BODY_LINES);
  let inString = false; // inside a triple-quoted string, whose lines may sit at any indent
  for (let i = at + 1; i <= last; i++) {
    const l = lines[i]!;
    const was = inString;
    if ((l.match(TRIPLE) ?? []).length % 2) inString = !inString;
    if (was || !l.trim() || indent(l) > head) continue;
    // A bare closer ends the body; a closer or `>` with more after it (`) -> T:`, `>(a, b) {`) ends a head spread over lines.
    if (CLOSER.test(l)) return i;
    if (/^\s*[)}\]>]/.test(l)) continue;
    return i - 1;
  }
  return last;
}

/**
 * The functions `line` calls: `f(`, and in Python `module.f(` too (modules are imported as
 * names there); never `self.f(` or, elsewhere, `obj.method(`, whose definitions are methods.
 */
function calls(line: string, python: boolean, local: ReadonlySet<string> = new Set()): string[] {
  if (COMMENT.test(line)) return [];
  // Not what strings and comments say (`// erase the type param (e.g. R)`), nor a nested definition's head.
  const code = codeOnly(line);
  const head = python ? null : METHOD_HEAD.exec(code)?.indices?.[1]?.[0];
  const out = [...code.matchAll(PLAIN)].flatMap((m) =>
    HEAD_WORD.test(code.slice(0, m.index)) || m.index === head || local.has(m[1]!) ? [] : [m[1]!],
  );
  if (python) for (const m of code.matchAll(MEMBER)) if (!SELF.has(m[1]!) && !local.has(m[1]!)) out.push(m[2]!);
  const language = python ? 'python' : 'other';
  return out.filter((n) => !NOT_CALLS[language].has(n) && !BUILTINS[language].has(n));
}

// A method's head in a class or an object literal (`create(context) {`, `async *walk(dir) {`): it defines its name.
const METHOD_HEAD = /^\s*(?:async\s+)?\*?\s*([\p{L}_$][\p{L}\p{N}_$]*)\s*(?:<[^<>()]*>)?\s*\([^()]*\)\s*(?::[^{=]*)?\{/du;

// A word that makes `name(` a definition's head, not a call: `def helper(`, `static create<T>(`.
const HEAD_WORD = /(?:^|[\s(])(?:function\*?|def|async|static|public|private|protected|override|fn|func)\s+$/;

// `name =`, `name: T =`, `for name in`, `as name`, `lambda a, b:`: names a Python body binds itself.
const BINDS = [/^\s*([\p{L}_][\p{L}\p{N}_]*)\s*(?::[^=]+)?=(?!=)/u, /\bfor\s+([\p{L}_][\p{L}\p{N}_]*)\s+in\b/u, /\bas\s+([\p{L}_][\p{L}\p{N}_]*)/u];
const LAMBDA = /\blambda\s+([^:]*):/u;
const PARAMS = /\(([^)]*)\)?/u;

/**
 * Names a Python hop binds itself, its parameters included: a call of one (`isequal(a, b)` for a
 * local lambda) or a method of one (`strs.split()`, `symbols.insert()`) is no function of another
 * file, and in the memory such names would take the gate's name searches (8 a round) from those
 * that are (pyparsing's `one_of` names 13 before `_escape_regex_range_chars`).
 */
function boundNames(lines: readonly string[], at: number, end: number): Set<string> {
  const out = new Set<string>();
  const add = (list: string): void => {
    let flat = list;
    // Type arguments hold no parameter names (`x: Dict[str, mod.T]`).
    for (let prev = ''; prev !== flat; ) [prev, flat] = [flat, flat.replace(/\[[^[\]]*\]/g, '')];
    for (const p of flat.split(',')) {
      const n = /^\s*\**([\p{L}_][\p{L}\p{N}_]*)/u.exec(p)?.[1];
      if (n) out.add(n);
    }
  };
  if (at >= 0) add(PARAMS.exec(lines.slice(at, at + SPREAD_HEAD_LINES).join(' '))?.[1] ?? '');
  for (let i = at + 1; i <= end; i++) {
    const l = lines[i]!;
    for (const re of BINDS) {
      const n = re.exec(l)?.[1];
      if (n) out.add(n);
    }
    const lambda = LAMBDA.exec(l)?.[1];
    if (lambda) add(lambda);
  }
  return out;
}
