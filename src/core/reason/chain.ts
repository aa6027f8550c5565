// Call-chain questions ("The function `f` calls exactly one function defined in another
// file[; that function calls exactly one function defined in a third file]. Which function
// is it?") are answered by following the calls: the block defining `f` gives its body's
// calls, written into the working memory; the gate, asked again with that memory, brings
// the block that defines one of them in another file; that is the answer, or the next hop.
// The memory carries the chain so far as `via NAME PATH:START-END` lines (the hop's body),
// so the reasoner itself stays stateless. The reader's span head scored 0.30 on them.
import { definer } from '../compress/identifiers.js';

export interface ChainQuestion {
  /** The function the chain starts from. */
  start: string;
  /** How many calls to follow (1: "another file"; 2: "... a third file"). */
  hops: number;
}

/** One definition reached: its name and where its body lies. */
export interface Hop {
  name: string;
  path: string;
  startLine: number;
  endLine: number;
}

export interface ChainStep {
  /** Lines for the working memory: the hop's `via` line, then its body's call lines as facts. */
  facts: string[];
  /** The last hop's definition, when this block completes the chain. */
  answer?: { name: string; path: string; line: number };
}

const ASKS = /`([^`]+)`[^.?;]*\bcalls?\b[^.?;]*\b(?:another|other|different) file/i;
const THIRD = /\b(?:third|3rd) file\b/i;
const VIA = /^via (\S+) (.+):(\d+)-(\d+)$/;
const FACT = /^(.+?):(\d+): (.*)$/;
const CALL = /([\p{L}_$][\p{L}\p{N}_$]*)\s*(?:<[^<>()]*>)?\s*\(/gu;
// Keywords that take parentheses; builtins stay (their definitions are just never found).
const NOT_CALLS = new Set(['if', 'for', 'foreach', 'while', 'switch', 'catch', 'return', 'typeof', 'function', 'super', 'elif', 'with', 'assert', 'await', 'yield', 'not', 'and', 'or', 'in', 'sizeof', 'new', 'def', 'fn', 'func', 'async', 'match', 'except', 'lambda']);
/** Body lines followed past the head, at most. */
const BODY_LINES = 80;

export function chainQuestion(question: string): ChainQuestion | null {
  const m = ASKS.exec(question);
  if (!m) return null;
  const start = m[1]!.trim().split(/[.#:]/).pop() ?? '';
  return start ? { start, hops: THIRD.test(question) ? 2 : 1 } : null;
}

/** The hops found so far, from the memory's `via` lines, in order. */
export function chainSoFar(memory: string): Hop[] {
  const out: Hop[] = [];
  for (const line of memory.split('\n')) {
    const m = VIA.exec(line);
    if (m) out.push({ name: m[1]!, path: m[2]!, startLine: Number(m[3]), endLine: Number(m[4]) });
  }
  return out;
}

export function isChainLine(line: string): boolean {
  return VIA.test(line);
}

/** What this block adds to the chain: the start's body, the next hop, or the answer; null when nothing. */
export function stepChain(chain: ChainQuestion, memory: string, block: { path: string; startLine: number; text: string }): ChainStep | null {
  const lines = block.text.split('\n');
  const hops = chainSoFar(memory);
  if (!hops.length) return enterFirst(chain.start, block, lines);
  const last = hops[hops.length - 1]!;
  if (hops.length > chain.hops) return null;
  const seen = new Set(hops.flatMap((h) => [h.path]));
  if (seen.has(block.path)) return null;
  const known = new Set(hops.map((h) => h.name));
  const wanted = callsIn(memory, last).filter((n) => !known.has(n));
  for (const name of wanted) {
    const heads = headsOf(name, lines);
    if (!heads.length) continue;
    // The last head: TypeScript's overload signatures come before the implementation.
    if (hops.length === chain.hops) return { facts: [], answer: { name, path: block.path, line: block.startLine + heads[heads.length - 1]! } };
    return enterFirst(name, block, lines);
  }
  return null;
}

/** Lines of `lines` that define `name`. */
function headsOf(name: string, lines: readonly string[]): number[] {
  const defines = definer([name]);
  return lines.flatMap((l, i) => (defines(l) ? [i] : []));
}

/** Enters the first definition of `name` whose body calls something (overload signatures have none), else its last. */
function enterFirst(name: string, block: { path: string; startLine: number }, lines: readonly string[]): ChainStep | null {
  const heads = headsOf(name, lines);
  if (!heads.length) return null;
  const steps = heads.map((at) => enter(name, block, lines, at));
  return steps.find((s) => s.facts.length > 1) ?? steps[steps.length - 1]!;
}

/** The `via` line and the call lines of the definition at lines[at]. */
function enter(name: string, block: { path: string; startLine: number }, lines: readonly string[], at: number): ChainStep {
  const end = bodyEnd(lines, at);
  const facts = [`via ${name} ${block.path}:${block.startLine + at}-${block.startLine + end}`];
  for (let i = at + 1; i <= end; i++) {
    if (calls(lines[i]!).length) facts.push(`${block.path}:${block.startLine + i}: ${lines[i]!.trim()}`);
  }
  return { facts };
}

/** Last line of the body whose head is lines[at]: up to the first line indented no deeper than the head (a closing bracket included). */
function bodyEnd(lines: readonly string[], at: number): number {
  const indent = (l: string): number => l.length - l.trimStart().length;
  const head = indent(lines[at]!);
  const last = Math.min(lines.length - 1, at + BODY_LINES);
  for (let i = at + 1; i <= last; i++) {
    const l = lines[i]!;
    if (!l.trim() || indent(l) > head) continue;
    return /^\s*[)}\]]/.test(l) ? i : i - 1;
  }
  return last;
}

/** Names called on the memory's fact lines inside a hop's body. */
function callsIn(memory: string, hop: Hop): string[] {
  const out = new Set<string>();
  for (const line of memory.split('\n')) {
    const m = FACT.exec(line);
    if (!m || m[1] !== hop.path) continue;
    const n = Number(m[2]);
    if (n > hop.startLine && n <= hop.endLine) for (const c of calls(m[3]!)) out.add(c);
  }
  return [...out];
}

function calls(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(CALL)) {
    const name = m[1]!;
    if (!NOT_CALLS.has(name)) out.push(name);
  }
  return out;
}
