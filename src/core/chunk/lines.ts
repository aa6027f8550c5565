// A file's lines with token counts, and cutting line ranges into windows under a token budget.
import { countTokens } from '../tokens.js';

/** A cut before it becomes a Chunk: source lines start..end (0-based, inclusive). */
export interface Piece {
  start: number;
  end: number;
  symbols: string[];
  /** Context lines put before the source lines (signature of the enclosing definition). */
  prefix: string;
  /** Set when one over-long line was cut: this part of the line instead of whole lines. */
  partText?: string;
}

export class Lines {
  readonly lines: string[];
  private readonly cum: Int32Array;
  private readonly blankFlags: Uint8Array;

  constructor(text: string) {
    // CRLF and CR count as line ends; a chunk's text joins its lines with '\n'.
    this.lines = text.split(/\r\n|\r|\n/);
    if (this.lines.length > 1 && this.lines[this.lines.length - 1] === '') this.lines.pop();
    const n = this.lines.length;
    this.cum = new Int32Array(n + 1);
    this.blankFlags = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const line = this.lines[i] ?? '';
      const blank = line.trim() === '';
      this.blankFlags[i] = blank ? 1 : 0;
      this.cum[i + 1] = (this.cum[i] ?? 0) + (blank ? 0 : countTokens(line));
    }
  }

  get count(): number {
    return this.lines.length;
  }

  line(i: number): string {
    return this.lines[i] ?? '';
  }

  blank(i: number): boolean {
    return this.blankFlags[i] === 1;
  }

  /** Tokens of lines a..b joined with '\n' (tokens never span a line end). */
  tokens(a: number, b: number): number {
    if (b < a) return 0;
    return (this.cum[b + 1] ?? 0) - (this.cum[a] ?? 0);
  }

  text(a: number, b: number): string {
    return this.lines.slice(a, b + 1).join('\n');
  }

  /** True when some line in a..b has text. */
  hasText(a: number, b: number): boolean {
    for (let i = a; i <= b; i++) if (this.blankFlags[i] === 0) return true;
    return false;
  }
}

/** Cuts lines a..b into windows of at most `budget` tokens, preferring to end a window at a
 *  blank line in its second half. Blank lines at window edges are left out. */
export function lineWindows(L: Lines, a: number, b: number, budget: number, symbols: string[], prefix: string): Piece[] {
  const out: Piece[] = [];
  let i = a;
  while (i <= b) {
    while (i <= b && L.blank(i)) i++;
    if (i > b) break;
    if (L.tokens(i, i) > budget) {
      for (const part of splitLongLine(L.line(i), budget)) out.push({ start: i, end: i, symbols, prefix, partText: part });
      i++;
      continue;
    }
    let j = i;
    let lastBlank = -1;
    while (j < b && L.tokens(i, j + 1) <= budget) {
      j++;
      if (L.blank(j)) lastBlank = j;
    }
    if (j < b && lastBlank > i + (j - i) / 2) j = lastBlank;
    out.push({ start: i, end: j, symbols, prefix, partText: undefined });
    i = j + 1;
  }
  return out;
}

/** Parts of one line, each at most `budget` tokens, cut at whitespace where possible. Linear:
 *  the line is counted in short steps, each step once (a word cut between two steps counts
 *  twice, so a step sum never undercounts). */
export function splitLongLine(line: string, budget: number): string[] {
  const STEP = 64;
  const parts: string[] = [];
  let i = 0;
  while (i < line.length) {
    let j = i;
    let tok = 0;
    while (j < line.length) {
      const k = Math.min(line.length, j + STEP);
      const t = countTokens(line.slice(j, k));
      if (tok + t > budget) break;
      tok += t;
      j = k;
    }
    if (j === i) {
      // One step is over budget on its own (tiny budgets): grow a character at a time.
      j = i + 1;
      while (j < line.length && countTokens(line.slice(i, j + 1)) <= budget) j++;
    } else if (j < line.length) {
      const ws = line.slice(i, j).search(/\s\S*$/);
      if (ws > (j - i) / 2) j = i + ws + 1;
    }
    parts.push(line.slice(i, j));
    i = j;
  }
  return parts;
}
