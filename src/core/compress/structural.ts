// The `structural` compressor: rule-based, fast, no model. It keeps the lines that
// say what a chunk *is* (signatures, declarations, constants with their values, the
// first line of each doc comment, exported names, condensed imports) and drops
// ordinary body statements first, until the target token ratio is met.
//
// Output format (one kept line per output line, in source order):
//
//     12| export const RETRY_BASE_MS = 250;
//     14|  export async function fetchWithRetry(url: string, tries = 3) {
//     3| imports: ./http{get, post}; node:fs{readFile}
//
// `N|` is the 1-based line number in the block's file (the block carries the path), so
// a reader can cite `path:N`. Lines between two anchors were dropped. Leading
// indentation is halved (nesting stays visible, whitespace costs tokens). A line cut
// to fit the budget ends with `…`. All import statements of a chunk are condensed
// into one `imports:` line anchored at the first of them (`module{names}` each).
import { countTokens } from '../tokens.js';
import { CancelledError, type Chunk, type Compressed } from '../types.js';
import type { Compressor } from './compressor.js';
import { hashedVector } from './hashing.js';
import { LineClass, classify, condenseImport, isEmptyComment } from './lines.js';

export interface StructuralOptions {
  /** Target compressed/raw token ratio (default 0.25: ratio 4, as in the paper). */
  ratio?: number;
  /**
   * Recall vector dimension (default 64: the store keeps vectors as float16, and 64
   * dims keep it under half the source size; 256 measured ~0.63x).
   */
  dim?: number;
}

interface Item {
  line: number;
  text: string;
  cls: LineClass;
  indent: number;
  cost: number;
}

const ANCHOR_TOKENS = 2; // `12|` is a number and a bar
const MIN_BUDGET = 24; // tiny chunks still get a readable head
const MIN_TRUNCATED = 10; // below this a cut line says too little to be worth it
const TOKEN_END = /[\p{L}_][\p{L}\p{N}_]*|\p{N}+|[^\s\p{L}\p{N}_]/gu;

/** `text` cut after its first `n` tokens (same token rule as countTokens), plus `…`. */
function truncateTokens(text: string, n: number): string {
  TOKEN_END.lastIndex = 0;
  let end = 0;
  for (let i = 0; i < n; i++) {
    const m = TOKEN_END.exec(text);
    if (m === null) return text;
    end = m.index + m[0].length;
  }
  return text.slice(0, end) + '…';
}

function indentOf(line: string): number {
  let w = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 32) w += 1;
    else if (c === 9) w += 2;
    else break;
  }
  return w;
}

/** Unbalanced `{`/`(` count of a line: an import statement continues while > 0. */
function openBrackets(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 123 || c === 40) n++;
    else if (c === 125 || c === 41) n--;
  }
  return n;
}

/** Splits a chunk into classified candidate lines (imports already condensed). */
function itemsOf(chunk: Chunk): Item[] {
  const lines = chunk.text.split('\n');
  const items: Item[] = [];
  const imports: string[] = [];
  let importLine = 0;
  let pendingImport: string | null = null;
  let importDepth = 0;
  let inBlockComment: string | null = null; // the closing marker we wait for
  let docPending = false; // in a comment block whose worded first line was not seen yet
  let prevComment = false;

  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    const trimmed = raw.trim();
    const lineNo = chunk.startLine + i;

    if (pendingImport !== null) {
      pendingImport += ' ' + trimmed;
      importDepth += openBrackets(trimmed);
      if (importDepth <= 0) {
        imports.push(condenseImport(pendingImport));
        pendingImport = null;
      }
      continue;
    }

    let cls: LineClass;
    if (inBlockComment !== null) {
      cls = LineClass.Comment;
      if (trimmed.includes(inBlockComment)) inBlockComment = null;
    } else {
      cls = classify(trimmed, prevComment);
      if (cls === LineClass.Doc) {
        if (trimmed.startsWith('/*') && !trimmed.includes('*/', 2)) inBlockComment = '*/';
        else if (/^("""|''')/.test(trimmed) && trimmed.split(trimmed.slice(0, 3)).length === 2) inBlockComment = trimmed.slice(0, 3);
        docPending = true;
      }
    }
    const isComment = cls === LineClass.Doc || cls === LineClass.Comment;
    if (isComment && docPending) {
      if (isEmptyComment(trimmed)) {
        cls = LineClass.Drop;
      } else {
        cls = LineClass.Doc;
        docPending = false;
      }
    }
    if (!isComment) docPending = false;
    prevComment = isComment || (prevComment && trimmed.length === 0 && inBlockComment !== null);

    if (cls === LineClass.Drop) continue;
    if (cls === LineClass.Import) {
      if (imports.length === 0) importLine = lineNo;
      const depth = openBrackets(trimmed);
      if (depth > 0) {
        pendingImport = trimmed;
        importDepth = depth;
      } else {
        imports.push(condenseImport(trimmed));
      }
      continue;
    }
    const indent = indentOf(raw);
    const text = ' '.repeat(Math.min(indent >> 1, 12)) + trimmed.replace(/\s{2,}/g, ' ');
    items.push({ line: lineNo, text, cls, indent, cost: countTokens(text) + ANCHOR_TOKENS });
  }
  if (pendingImport !== null) imports.push(condenseImport(pendingImport));
  if (imports.length > 0) {
    const text = 'imports: ' + imports.join('; ');
    items.push({ line: importLine, text, cls: LineClass.Import, indent: 0, cost: countTokens(text) + ANCHOR_TOKENS });
  }
  return items;
}

export function compressText(chunk: Chunk, ratio: number): { compressed: string; compressedTokens: number } {
  const items = itemsOf(chunk);
  const raw = chunk.tokens > 0 ? chunk.tokens : countTokens(chunk.text);
  const budget = Math.max(Math.floor(raw * ratio), MIN_BUDGET);

  let total = 0;
  for (const it of items) total += it.cost;
  let kept: Item[];
  if (total <= budget) {
    kept = items;
  } else {
    const order = items.map((_, i) => i);
    order.sort((a, b) => {
      const x = items[a]!;
      const y = items[b]!;
      return x.cls - y.cls || x.indent - y.indent || x.line - y.line;
    });
    let left = budget;
    kept = [];
    for (const idx of order) {
      const it = items[idx]!;
      if (it.cost <= left) {
        kept.push(it);
        left -= it.cost;
      } else if (left >= MIN_TRUNCATED && it.cls <= LineClass.Import) {
        // a long signature or import list: its head still names what it is
        const text = truncateTokens(it.text, left - ANCHOR_TOKENS - 1);
        const cost = countTokens(text) + ANCHOR_TOKENS;
        if (cost <= left) {
          kept.push({ ...it, text, cost });
          left -= cost;
        }
      }
      if (left < ANCHOR_TOKENS + 1) break;
    }
    kept.sort((a, b) => a.line - b.line);
  }
  let compressed = '';
  let compressedTokens = 0;
  for (const it of kept) {
    compressed += (compressed.length > 0 ? '\n' : '') + `${it.line}| ${it.text}`;
    compressedTokens += it.cost;
  }
  return { compressed, compressedTokens };
}

/**
 * The rules' recall vector of a chunk: its words hashed (hashing.ts), its symbols and path boosted.
 * Also what a learned compressor configured with `"recall_vector": "hashing"` gives.
 */
export function hashingChunkVector(chunk: Chunk, dim: number): Float32Array {
  return hashedVector({ text: chunk.text, boosted: boostsOf(chunk) }, dim);
}

/** Path segments and symbols boost the vector: they name what a chunk is about. */
function boostsOf(chunk: Chunk): Array<{ name: string; weight: number }> {
  const out: Array<{ name: string; weight: number }> = [];
  for (const s of chunk.symbols) out.push({ name: s, weight: 2 });
  out.push({ name: chunk.path.replace(/[/\\.]+/g, ' '), weight: 0.5 });
  return out;
}

export class StructuralCompressor implements Compressor {
  readonly id = 'structural@2';
  readonly recallVectors = 'hashing';
  readonly dim: number;
  readonly ratio: number;

  constructor(options: StructuralOptions = {}) {
    const ratio = options.ratio ?? 0.25;
    const dim = options.dim ?? 64;
    if (!(ratio > 0 && ratio <= 1)) throw new RangeError(`ratio must be in (0, 1], got ${ratio}`);
    if (!Number.isInteger(dim) || dim < 8) throw new RangeError(`dim must be an integer >= 8, got ${dim}`);
    this.ratio = ratio;
    this.dim = dim;
  }

  async compress(chunks: readonly Chunk[], signal?: AbortSignal): Promise<Compressed[]> {
    const out: Compressed[] = [];
    for (let i = 0; i < chunks.length; i++) {
      if (signal?.aborted) throw new CancelledError();
      const chunk = chunks[i]!;
      const { compressed, compressedTokens } = compressText(chunk, this.ratio);
      const vector = hashingChunkVector(chunk, this.dim);
      out.push({ compressed, compressedTokens, vector });
      // let other work (progress, cancellation) run during very large batches
      if (i % 256 === 255) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return out;
  }

  async embedQuery(text: string): Promise<Float32Array> {
    return hashedVector({ text }, this.dim);
  }
}
