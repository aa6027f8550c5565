// "Which function does X?" questions name no code: they describe it. The reader's span
// head answers them badly (held-out: 0.11, it points at whatever name the block holds),
// so for them the answer is a definition's name, chosen by how much of the description
// its documentation (comment above it, docstring below it), its name and, at half
// weight, its body say. The citation is the definition's line, read from the block.
import { namesIn, parametersClose, SPREAD_HEAD_LINES, STOP_WORDS, stem, subWords, WORD } from '../compress/identifiers.js';

/** A definition a described question may mean, and how much of the description it says (0..1). */
export interface Described {
  name: string;
  /** 1-based line of the definition's head. */
  line: number;
  /** Share of the description its documentation, name and (at half weight) body say. */
  score: number;
  /** Share of its documentation's words that the description says: 1 when it says nothing more. */
  precision: number;
}

const ASKS = /\bwhich\s+(?:\w+\s+)?(?:function|method|class|constructor|procedure|routine)\b/i;
// Greedy: from the first quote to the last, since a description may quote words itself (`the same "shape"`).
const QUOTED = /"(.{8,})"|“(.{8,})”/;
const IDENT = String.raw`[\p{L}_$][\p{L}\p{N}_$]*`;
const HEADS = [
  // function f / def f / class C / fn f / func f, after modifiers
  new RegExp(String.raw`^\s*(?:(?:export|default|async|static|public|private|protected|abstract|pub|override|final)\s+)*(?:function\*?|def|class|fn|func)\s+(${IDENT})`, 'u'),
  // const f = (...) => / const f = function / const f = async x =>
  new RegExp(String.raw`^\s*(?:(?:export|default)\s+)*(?:const|let|var)\s+(${IDENT})\s*(?::[^=]*)?=\s*(?:async\s+)?(?:function\b|\(|${IDENT}\s*=>)`, 'u'),
  // Go methods: func (r *T) Name(
  new RegExp(String.raw`^\s*func\s+\([^)]*\)\s*(${IDENT})\s*\(`, 'u'),
  // f: function / obj.f = function
  new RegExp(String.raw`^\s*(?:[\p{L}_$][\p{L}\p{N}_$.]*\.)?(${IDENT})\s*[:=]\s*(?:async\s+)?function\b`, 'u'),
  // class methods: name(args) { / async name(args): T {
  new RegExp(String.raw`^\s*(?:(?:static|async|public|private|protected|get|set|override)\s+)*(${IDENT})\s*\([^)]*\)\s*(?::[^{]*)?\{\s*$`, 'u'),
];
const NOT_NAMES = new Set(['if', 'for', 'while', 'switch', 'catch', 'function', 'return', 'with', 'elif', 'else']);
const COMMENT = /^\s*(?:\/\*\*?|\*\/?|\/\/|#(?!!)|--|;;)/;
const DECORATOR = /^\s*@/;
// A docstring is the body's first string: triple-quoted, or quoted on one line (`"Sums the pairs."`).
const DOCSTRING = /^\s*[rRuUbB]?("""|'''|"|')/;
const PY_HEAD = /^\s*(?:async\s+)?(?:def|class)\s/;
/** Body lines read when a definition has little documentation. */
const BODY_LINES = 30;
/** Over this share of the description said, the definition is the answer. */
export const DESCRIBED_ANSWER = 0.5;

/** The description's words when the question asks which definition does something, else null. */
export function describedWords(question: string): Set<string> | null {
  if (!ASKS.test(question)) return null;
  const quoted = QUOTED.exec(question);
  // Code names outside a quoted description make it another kind of question (a call chain, a use).
  if (/`/.test(quoted ? question.replace(quoted[0], '') : question)) return null;
  const text = quoted ? (quoted[1] ?? quoted[2] ?? '') : question.replace(ASKS, ' ');
  const words = wordsOf([text], 3);
  for (const n of namesIn(question)) if (!quoted) words.delete(stem(n.toLowerCase()));
  return words.size ? words : null;
}

/** The block's definition that says most of the description; null when it has none. */
export function describedDefinition(words: ReadonlySet<string>, block: { startLine: number; text: string }): Described | null {
  const lines = block.text.split('\n');
  let best: Described | null = null;
  lines.forEach((line, i) => {
    const name = headName(line);
    if (!name) return;
    const doc = wordsOf([...docAbove(lines, i).lines, ...docstringBelow(lines, i).lines]);
    const said = new Set([...doc, ...wordsOf([name])]);
    const body = wordsOf(lines.slice(i + 1, i + 1 + BODY_LINES));
    let score = 0;
    for (const w of words) score += said.has(w) ? 1 : body.has(w) ? 0.5 : 0;
    score /= words.size;
    let inDoc = 0;
    for (const w of doc) if (words.has(w)) inDoc++;
    const precision = doc.size ? inDoc / doc.size : 0;
    // Two definitions may both say all of it (`expand_state_definition` and
    // `expand_named_state_definition`): the one whose documentation says less else is meant.
    if (!best || score > best.score || (score === best.score && precision > best.precision)) best = { name, line: block.startLine + i, score, precision };
  });
  return best;
}

/** The name a definition's head on this line defines (function, class, method, arrow function), else null. */
export function headName(line: string): string | null {
  for (const head of HEADS) {
    const name = head.exec(line)?.[1];
    if (name && !NOT_NAMES.has(name)) return name;
  }
  return null;
}

/** Documentation lines and where they start (0-based); no lines: none. */
interface Doc {
  from: number;
  lines: string[];
}

/**
 * The documentation of the definition whose head is lines[i]: the comment right above it, else
 * the Python docstring right below it; null without either.
 */
export function documentationOf(lines: readonly string[], i: number): Doc | null {
  const above = docAbove(lines, i);
  if (above.lines.length) return above;
  // Only a Python `def` or `class` has a docstring (an assignment's next lines are another's).
  if (!PY_HEAD.test(lines[i]!)) return null;
  const below = docstringBelow(lines, i);
  return below.lines.length ? below : null;
}

/** A JSDoc file tag (`@fileoverview Rule to flag ...`): its text is the module's summary. */
const FILE_TAG = /^(\s*(?:\/\*\*?|\*)?\s*)@(?:fileoverview|overview|file|module)\b\s*/;

/**
 * The comment a file opens with (a `"use strict"` or shebang line may come first): it documents the
 * module, so its default export (`module.exports = {` under a `@fileoverview`). Null without one.
 */
export function fileDocumentation(lines: readonly string[]): Doc | null {
  let j = 0;
  while (j < lines.length && (!lines[j]!.trim() || /^\s*(?:#!|["']use strict["'];?\s*$)/.test(lines[j]!))) j++;
  let k = j;
  while (k < lines.length && COMMENT.test(lines[k]!)) k++;
  return k > j ? { from: j, lines: lines.slice(j, k).map((l) => l.replace(FILE_TAG, '$1')) } : null;
}

/** The comment lines right above line i (decorators between them and the head skipped). */
function docAbove(lines: readonly string[], i: number): Doc {
  let j = i - 1;
  while (j >= 0 && DECORATOR.test(lines[j]!)) j--;
  const end = j;
  while (j >= 0 && COMMENT.test(lines[j]!)) j--;
  return { from: j + 1, lines: lines.slice(j + 1, end + 1) };
}

/** A Python docstring right below the head at line i (after its continuation lines: httpx's `build_request` takes 15). */
function docstringBelow(lines: readonly string[], i: number): Doc {
  const from = parametersClose(lines, i) ?? i;
  let j = from;
  while (j < lines.length && j < from + SPREAD_HEAD_LINES && !/:\s*(#.*)?$/.test(lines[j]!)) j++;
  const first = lines[j + 1];
  const open = first === undefined ? null : DOCSTRING.exec(first);
  if (!open) return { from: j + 1, lines: [] };
  const out = [first!];
  if (first!.split(open[1]!).length > 2) return { from: j + 1, lines: out };
  if (open[1]!.length === 1) return { from: j + 1, lines: [] };
  for (let k = j + 2; k < lines.length && k < j + 60; k++) {
    out.push(lines[k]!);
    if (lines[k]!.includes(open[1]!)) break;
  }
  return { from: j + 1, lines: out };
}

/** Stemmed lowercase words and identifier parts, stop words and short words left out. */
function wordsOf(texts: readonly string[], min = 2): Set<string> {
  const out = new Set<string>();
  for (const t of texts) {
    for (const w of t.match(WORD) ?? []) {
      for (const p of [w.toLowerCase(), ...subWords(w)]) if (p.length >= min && !STOP_WORDS.has(p)) out.add(stem(p));
    }
  }
  return out;
}
