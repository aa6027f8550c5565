// "What does `X` do?" is answered, by a reader that writes no prose, with what the code says
// about X itself: the first paragraph of its documentation (the comment above its head, or its
// docstring), cited at the definition. Without documentation there is only the definition to
// show, and the answer says it is evidence, not an explanation. "How does X work?" adds the
// functions its body calls (see the extractive reasoner's overview).
import { definer, isDefaultExport } from '../compress/identifiers.js';
import { indentOf } from './chain.js';
import { documentationOf, fileDocumentation, headName } from './describe.js';

export interface ExplainQuestion {
  name: string;
}

/** X's definition in a block: its head line, and its documentation's summary when it has one. */
export interface Explained {
  name: string;
  /** 1-based line of the head. */
  line: number;
  head: string;
  /** The documentation's first paragraph, markers stripped; null without documentation. */
  summary: string | null;
  /** 1-based lines the head and its documentation take. */
  startLine: number;
  endLine: number;
  /** A class's (interface's, struct's) members in the block, by name; none for other definitions. */
  members: string[];
}

/** A class, interface, struct, trait or enum head. */
export const TYPE_HEAD = /^\s*(?:(?:export|default|declare|abstract|public|private|sealed|final|data)\s+)*(?:class|interface|struct|trait|enum)\b/;
/** Members named, at most. */
const MAX_MEMBERS = 12;

const ASKS = /^\s*what\s+does\s+(?:the\s+[a-z]+\s+)?`([^`]+)`(?:\s+of\s+the\s+class\s+`[^`]+`)?\s+do\s*\?\s*$/i;
// Comment and docstring markers at a line's start or end, and JSDoc's leading stars.
const MARKS = /^\s*(?:\/\*\*?|\*\/|\*(?!\*)|\/\/\/?|#+|[rRuUbB]?(?:"""|'''|["'](?!["'])))\s?|\s*(?:\*\/|"""|'''|["'])\s*$/g;
// JSDoc's inline tags: `{@link Observable}`, `{@link Foo|the foo}`, `{@code x}` read as their name.
const INLINE_TAG = /\{@(?:link|linkcode|linkplain|code)\s+([^}|\s]+)[^}]*\}/g;
// `tslint:disable:max-line-length`, `eslint-disable-next-line`, `@ts-ignore`, `prettier-ignore`, `noqa`, `type: ignore`, `pylint: disable`.
const DIRECTIVE = /^(?:tslint:|eslint-|prettier-ignore|istanbul\s|c8\s|noqa\b|type:\s*ignore|pylint:|pragma\b|fmt:\s)/i;
/** A summary this long at most: a paragraph, not the whole docstring. */
const SUMMARY_CHARS = 400;

// "How does `X` work?": its documentation and the functions its body calls.
const OVERVIEW = /^\s*how\s+does\s+(?:the\s+[a-z]+\s+)?`([^`]+)`(?:\s+of\s+the\s+class\s+`[^`]+`)?\s+work\s*\?\s*$/i;

export function explainQuestion(question: string): ExplainQuestion | null {
  return nameAsked(ASKS, question);
}

/** "How does `X` work?": the name whose overview (documentation and own calls) is asked for. */
export function overviewQuestion(question: string): ExplainQuestion | null {
  return nameAsked(OVERVIEW, question);
}

function nameAsked(form: RegExp, question: string): ExplainQuestion | null {
  const name = form.exec(question)?.[1]?.trim().split(/[.#:]/).pop();
  return name ? { name } : null;
}

/**
 * The asked name's definition in the block with its documentation: the first one documented (an
 * overload signature may carry only a linter directive, its implementation the doc comment), else
 * the first; null when the block defines no such name.
 */
export function explainedIn(asked: ExplainQuestion, block: { path?: string; startLine: number; text: string }): Explained | null {
  const lines = block.text.split('\n');
  const defines = definer([asked.name], block.path);
  let first: Explained | null = null;
  for (let at = 0; at < lines.length; at++) {
    if (!defines(lines[at]!, at, lines)) continue;
    let doc = documentationOf(lines, at);
    let summary = doc ? summaryOf(doc.lines) : null;
    // A default export is documented by the comment its file opens with (`@fileoverview ...`).
    if (!summary && block.startLine === 1 && isDefaultExport(lines[at]!)) {
      doc = fileDocumentation(lines);
      summary = doc ? summaryOf(doc.lines) : null;
    }
    const from = doc ? Math.min(doc.from, at) : at;
    const to = doc ? Math.max(doc.from + doc.lines.length - 1, at) : at;
    const found = { name: asked.name, line: block.startLine + at, head: lines[at]!.trim(), summary, startLine: block.startLine + from, endLine: block.startLine + to, members: membersOf(lines, at) };
    if (summary) return found;
    first ??= found;
  }
  return first;
}

/** The first paragraph of documentation lines, without markers, tags or blank lines, cut at a sentence. */
function summaryOf(lines: readonly string[]): string | null {
  const words: string[] = [];
  for (const raw of lines) {
    const line = raw.replace(MARKS, '').replace(INLINE_TAG, '$1').trim();
    // A blank line ends the first paragraph; so does a rule of dashes (`# -----`), which may also open it.
    if (!/[\p{L}\p{N}]/u.test(line)) {
      if (words.length) break;
      continue;
    }
    // JSDoc tags (@param, @returns) follow the summary; linter and type-checker directives say nothing.
    if (line.startsWith('@')) break;
    if (DIRECTIVE.test(line)) continue;
    words.push(line);
  }
  const text = words.join(' ');
  if (!text) return null;
  if (text.length <= SUMMARY_CHARS) return text;
  const cut = text.slice(0, SUMMARY_CHARS);
  const sentence = cut.lastIndexOf('. ');
  return sentence > SUMMARY_CHARS / 2 ? cut.slice(0, sentence + 1) : `${cut.trimEnd()}…`;
}

/** The members a type head on lines[at] defines in the lines that follow it: the definition heads one level inside it. */
function membersOf(lines: readonly string[], at: number): string[] {
  if (!TYPE_HEAD.test(lines[at]!)) return [];
  const outer = indentOf(lines[at]!);
  let inner: number | null = null;
  const out: string[] = [];
  for (let i = at + 1; i < lines.length && out.length < MAX_MEMBERS; i++) {
    const line = lines[i]!;
    if (!line.trim()) continue;
    const indent = indentOf(line);
    // The type's body ends at a line no deeper than its head (its closing brace, the next definition).
    if (indent <= outer) break;
    inner ??= indent;
    const name = indent === inner ? headName(line) : null;
    if (name && !out.includes(name)) out.push(name);
  }
  return out;
}
