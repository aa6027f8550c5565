// The built-in extractive reasoner ("reader", training/engram_training/reader.py): reads
// (question, working memory, block) and points at the answer span or says "not here",
// and scores each line for keeping in the working memory. Every token belongs to one
// source line and covers known bytes of it, so an answer is always exact source text on
// exact lines: it cites by construction.
import { join } from 'node:path';
import { definesAny, mentionsAny, nameRanges, namesIn } from '../compress/identifiers.js';
import { CancelledError, UserError } from '../types.js';
import { EncoderModel, type EncoderRow } from './encoder.js';
import { pickOnnxFile, readModelFolder, type ModelDtype } from './layout.js';
import type { ProviderName, ProviderPreference } from './providers.js';
import { lineTokens, lineWindows, tokenByteLengths, type LineTokens, type LineWindow } from './line-windows.js';
import { ModelTokenizer } from './tokenizer.js';

export interface ReaderInput {
  question: string;
  /** The working memory so far (cited facts, one per line); '' when empty. */
  memory: string;
  /** text = the block's source lines joined by '\n' (as chunks hold them); startLine = the first line's number (1-based). */
  block: { path: string; startLine: number; text: string };
}

export interface ReaderAnswer {
  /** Exact source text (whole characters, surrounding whitespace trimmed). */
  text: string;
  startLine: number;
  endLine: number;
  /** P(start) * P(end) of the chosen span. */
  score: number;
}

export interface ReaderOutput {
  /** Probability that the block lacks the answer. */
  noAnswer: number;
  /**
   * The span, when noAnswer is under the model's threshold and the span's own probability is
   * at least answer_min_score (config.json, both tuned on validation); else null: then
   * keepLines are the evidence found, not an answer.
   */
  answer: ReaderAnswer | null;
  /**
   * The top span of the window least likely to lack the answer, whatever the thresholds say
   * (equal to `answer` when there is one); null only when the block has no text. A caller that
   * must not pretend shows it as evidence, weighed by (1 - noAnswer) * score.
   */
  best: ReaderAnswer | null;
  /** Lines scored at or above the keep threshold, in line order. */
  keepLines: Array<{ line: number; text: string; score: number }>;
}

export interface ReaderInfo {
  name: string;
  dir: string;
  file: string;
  dtype: ModelDtype;
  provider: ProviderName;
  providerNote: string;
  noAnswerThreshold: number;
  answerMinScore: number;
  keepThreshold: number;
  maxLen: number;
  /** Windows per ONNX run. */
  batchSize: number;
}

export interface ReaderLoadOptions {
  provider?: ProviderPreference;
  threads?: number;
  /**
   * Windows per ONNX run. Default: 16 on CUDA; 1 on CPU, where batching 512-token windows is
   * no faster per window and every window in a batch adds ~17 MB of activations to the peak.
   */
  batchSize?: number;
  /**
   * Which ONNX file (default 'auto': fp32 on CPU, whose outputs do not depend on batch mates;
   * 'int8' is smaller and faster, but its per-batch activation scales shift scores slightly).
   */
  dtype?: ModelDtype | 'auto';
  /** Overrides config.json's no_answer_threshold. */
  noAnswerThreshold?: number;
}

interface ReaderConfig {
  maxLen: number;
  qMax: number;
  memMax: number;
  pathMax: number;
  lineMax: number;
  maxSpan: number;
  special: { s: number; question: number; memory: number; block: number; sep: number };
  newline: number;
  noAnswerThreshold: number;
  answerMinScore: number;
  keepThreshold: number;
}

/** One model input: a run of whole lines of one block, and which input it belongs to. */
interface Window extends LineWindow {
  input: number;
}

/**
 * Log-odds against a span on a line that names none of the question's code names, when
 * the question names some. The reader sees exact-match features but still picks look-alike
 * lines (`RBDT_RESOLVE_FILE = 3` for `RBDT_FILE`); an answer to "the value of `X`" or
 * "where `X` is defined" sits on a line that says `X`. Mirrors NAME_PENALTY in reader.py.
 */
export const NAME_PENALTY = 16;
/**
 * Log-odds against a span on a line that uses a question name without defining it: the
 * reader also picks `case X:` for "the value of `X`". Mirrors MENTION_PENALTY in reader.py.
 */
export const MENTION_PENALTY = 4;

/** The rank prior of a line for a question naming `names` (see NAME_PENALTY, MENTION_PENALTY). */
export function linePrior(line: string, names: readonly string[]): number {
  if (!names.length || definesAny(line, names)) return 0;
  return mentionsAny(line, names) ? -MENTION_PENALTY : -NAME_PENALTY;
}

/**
 * What a question asks for, by its form: a place ("where is `X` defined"), a value ("the
 * value of `X`", "the default value of ..."), or anything else. Mirrors question_form in reader.py.
 */
export type QuestionForm = 'place' | 'value' | 'other';

export function questionForm(question: string): QuestionForm {
  if (/^\s*where\b/i.test(question)) return 'place';
  return /\bvalue of\b/i.test(question) ? 'value' : 'other';
}

/**
 * How well an answer on `line` fits the question, 0 (best) or below: for places and values,
 * the line's name prior, since both sit where the name is defined; 0 for other questions,
 * whose answers (a callee, a described function) are often on lines without the name.
 * Mirrors answer_fit in reader.py (held-out test accuracy: see the reader's card).
 */
export function answerFit(question: string, line: string): number {
  return questionForm(question) === 'other' ? 0 : linePrior(line, namesIn(question));
}

interface WindowResult {
  noAnswer: number;
  answer: ReaderAnswer | null;
  keep: Map<number, number>;
}

export class ExtractiveReader {
  private constructor(
    private readonly model: EncoderModel,
    private readonly tok: ModelTokenizer,
    private readonly tokBytes: Int32Array,
    private readonly cfg: ReaderConfig,
    readonly info: ReaderInfo,
  ) {}

  static async load(dir: string, opts: ReaderLoadOptions = {}): Promise<ExtractiveReader> {
    const folder = readModelFolder(dir);
    const cfg = parseConfig(folder.config, join(dir, 'config.json'));
    if (opts.noAnswerThreshold !== undefined) cfg.noAnswerThreshold = opts.noAnswerThreshold;
    const tok = ModelTokenizer.load(dir);
    const tokBytes = tokenByteLengths(dir);
    const picked = pickOnnxFile(folder, opts.dtype ?? 'auto', opts.provider === 'cuda');
    const file = join(dir, picked.file);
    const model = await EncoderModel.load(file, { provider: opts.provider, threads: opts.threads, batchSize: opts.batchSize });
    // Known once the session picked its provider; read() passes it to every run.
    const batchSize = opts.batchSize ?? (model.provider === 'cuda' ? 16 : 1);
    const names = model.outputNames;
    for (const n of ['start_logits', 'end_logits', 'keep_logits', 'no_answer_logits']) {
      if (!names.includes(n)) {
        await model.release();
        throw new UserError(`${file} is not an extractive reader: it has no output "${n}" (outputs: ${names.join(', ')})`);
      }
    }
    const info: ReaderInfo = {
      name: typeof folder.config.name === 'string' ? folder.config.name : 'engram-reader',
      dir,
      file,
      dtype: picked.dtype,
      provider: model.provider,
      providerNote: model.providerNote,
      noAnswerThreshold: cfg.noAnswerThreshold,
      answerMinScore: cfg.answerMinScore,
      keepThreshold: cfg.keepThreshold,
      maxLen: cfg.maxLen,
      batchSize,
    };
    return new ExtractiveReader(model, tok, tokBytes, cfg, info);
  }

  async read(inputs: ReaderInput[], signal?: AbortSignal): Promise<ReaderOutput[]> {
    const lines = inputs.map((x, i) => checkInput(x, i));
    const names = inputs.map((x) => namesIn(x.question));
    // The answer to a question about `X` is never `X` itself, except where it asks for X's place.
    const notAnswers = inputs.map((x, i) => (questionForm(x.question) === 'place' ? [] : names[i]!));
    const windows: Window[] = [];
    inputs.forEach((x, i) => windows.push(...this.windows(i, x, lines[i]!)));
    // Similar lengths share a batch: less padding.
    const order = windows.map((_, i) => i).sort((a, b) => windows[a]!.ids.length - windows[b]!.ids.length);
    const rows: EncoderRow[] = order.map((i) => {
      const ids = windows[i]!.ids;
      return { input_ids: ids, attention_mask: new Array<number>(ids.length).fill(1) };
    });
    if (signal?.aborted) throw new CancelledError('reading cancelled');
    const outs = await this.model.runBatch(rows, { signal, batchSize: this.info.batchSize });
    const results: WindowResult[] = new Array<WindowResult>(windows.length);
    order.forEach((wi, r) => {
      const o = outs[r]!;
      const w = windows[wi]!;
      const blockLines = lines[w.input]!;
      const named = names[w.input]!;
      const prior = (l: number): number => linePrior(blockLines[w.first + l]!, named);
      const occ = nameTokens(w, blockLines, notAnswers[w.input]!);
      results[wi] = this.decode(w, blockLines, o.start_logits!.data, o.end_logits!.data, o.keep_logits!.data, o.no_answer_logits!.data[0]!, prior, occ);
    });
    return inputs.map((x, i) => this.merge(x, lines[i]!, windows, results, i));
  }

  async release(): Promise<void> {
    await this.model.release();
  }

  private lineTokens(text: string): LineTokens {
    return lineTokens(this.tok, this.tokBytes, text, this.cfg.lineMax);
  }

  private prefix(x: ReaderInput): number[] {
    const c = this.cfg;
    const enc = (t: string, max: number): number[] => (t ? this.tok.encode(t, false).slice(0, max) : []);
    return [
      c.special.s, c.special.question, ...enc(x.question, c.qMax),
      c.special.memory, ...enc(x.memory, c.memMax),
      c.special.block, ...enc(x.block.path, c.pathMax), c.special.sep,
    ];
  }

  /** Consecutive windows of whole lines that fit maxLen with the prefix (as reader.py). */
  private windows(input: number, x: ReaderInput, lines: string[]): Window[] {
    const toks = lines.map((l) => this.lineTokens(l));
    return lineWindows(this.prefix(x), toks, this.cfg.maxLen, this.cfg.newline).map((w) => ({ ...w, input }));
  }

  /**
   * Best span (start <= end < start + maxSpan, block tokens of one line, widened to whole
   * words; ranked by its log-probability plus the line's `prior`, scored by the former; never
   * a span inside one occurrence `occ` of a name), P(no answer), line keep scores. Mirrors
   * decode_window in training/engram_training/reader.py.
   */
  private decode(
    w: Window,
    lines: string[],
    start: Float32Array,
    end: Float32Array,
    keep: Float32Array,
    naLogit: number,
    prior: (line: number) => number,
    occ: Int32Array,
  ): WindowResult {
    const n = w.ids.length;
    const ls = logSoftmaxMasked(start, w.spanable, n);
    const le = logSoftmaxMasked(end, w.spanable, n);
    const priors = Array.from({ length: w.count }, (_, l) => prior(l));
    let rank = -Infinity;
    let best = -Infinity;
    let bi = -1;
    let bj = -1;
    for (let i = 0; i < n; i++) {
      if (!w.spanable[i]) continue;
      const hi = Math.min(n, i + this.cfg.maxSpan);
      const p = priors[w.lineOf[i]!]!;
      for (let j = i; j < hi && w.lineOf[j] === w.lineOf[i]; j++) {
        if (!w.spanable[j] || (occ[i]! >= 0 && occ[j] === occ[i])) continue;
        const s = ls[i]! + le[j]!;
        if (s + p > rank) {
          rank = s + p;
          best = s;
          bi = i;
          bj = j;
        }
      }
    }
    const noAnswer = sigmoid(naLogit);
    let answer: ReaderAnswer | null = null;
    if (bi >= 0) {
      const l0 = w.lineOf[bi]!;
      const l1 = w.lineOf[bj]!;
      const parts: string[] = [];
      for (let l = l0; l <= l1; l++) {
        const raw = Buffer.from(lines[w.first + l]!, 'utf8');
        let a = l === l0 ? w.b0[bi]! : 0;
        let b = l === l1 ? w.b1[bj]! : raw.length;
        // Whole characters: a byte-level token may end inside a multi-byte one.
        while (a > 0 && a < raw.length && (raw[a]! & 0xc0) === 0x80) a--;
        while (b < raw.length && (raw[b]! & 0xc0) === 0x80) b++;
        // Answers are whole names, numbers and literals; a BPE piece never is one.
        while (l === l0 && a > 0 && isWordByte(raw[a]) && isWordByte(raw[a - 1])) a--;
        while (l === l1 && b < raw.length && isWordByte(raw[b]) && isWordByte(raw[b - 1])) b++;
        parts.push(raw.subarray(a, b).toString('utf8'));
      }
      answer = { text: parts.join('\n').trim(), startLine: w.first + l0, endLine: w.first + l1, score: Math.exp(best) };
    }
    const sums = new Map<number, { s: number; n: number }>();
    for (let t = 0; t < n; t++) {
      const l = w.lineOf[t]!;
      if (l < 0) continue;
      const e = sums.get(l) ?? { s: 0, n: 0 };
      e.s += keep[t]!;
      e.n++;
      sums.set(l, e);
    }
    const keepMap = new Map<number, number>();
    for (const [l, e] of sums) keepMap.set(w.first + l, sigmoid(e.s / e.n));
    return { noAnswer, answer, keep: keepMap };
  }

  /** A block read in several windows has the answer if any window has it. */
  private merge(x: ReaderInput, lines: string[], windows: Window[], results: WindowResult[], input: number): ReaderOutput {
    let bestNa = Infinity;
    let bestAnswer: ReaderAnswer | null = null;
    const keep = new Map<number, number>();
    windows.forEach((w, i) => {
      if (w.input !== input) return;
      const r = results[i]!;
      if (r.noAnswer < bestNa) {
        bestNa = r.noAnswer;
        bestAnswer = r.answer;
      }
      for (const [l, s] of r.keep) keep.set(l, s);
    });
    const base = x.block.startLine;
    const a = bestAnswer as ReaderAnswer | null;
    const best = a?.text ? { text: a.text, startLine: base + a.startLine, endLine: base + a.endLine, score: a.score } : null;
    const answer = best && bestNa < this.cfg.noAnswerThreshold && best.score >= this.cfg.answerMinScore ? best : null;
    const keepLines = [...keep.entries()]
      .filter(([, s]) => s >= this.cfg.keepThreshold)
      .sort((p, q) => p[0] - q[0])
      .map(([l, s]) => ({ line: base + l, text: lines[l]!, score: s }));
    return { noAnswer: bestNa, answer, best, keepLines };
  }
}

/**
 * Per token of `w`, which occurrence of one of `names` it lies in (its other bytes are not
 * identifier bytes, so the span widens to exactly the name), else -1. Mirrors name_tokens in reader.py.
 */
function nameTokens(w: LineWindow, lines: readonly string[], names: readonly string[]): Int32Array {
  const occ = new Int32Array(w.ids.length).fill(-1);
  if (!names.length) return occ;
  const found = new Map<number, { raw: Buffer; ranges: Array<[number, number]>; ids: number[] }>();
  let next = 0;
  for (let t = 0; t < w.ids.length; t++) {
    const l = w.lineOf[t]!;
    if (l < 0 || !w.spanable[t]) continue;
    let f = found.get(l);
    if (!f) {
      const line = lines[w.first + l]!;
      const ranges = nameRanges(line, names);
      f = { raw: Buffer.from(line, 'utf8'), ranges, ids: ranges.map(() => next++) };
      found.set(l, f);
    }
    const a = w.b0[t]!;
    const b = w.b1[t]!;
    f.ranges.forEach(([s, e], k) => {
      if (occ[t]! >= 0 || a >= e || b <= s) return;
      for (let x = a; x < b; x++) if ((x < s || x >= e) && isWordByte(f.raw[x])) return;
      occ[t] = f.ids[k]!;
    });
  }
  return occ;
}

function checkInput(x: ReaderInput, i: number): string[] {
  if (!x || typeof x.question !== 'string' || typeof x.memory !== 'string' || !x.block) {
    throw new UserError(`reader input ${i}: expected {question, memory, block}`);
  }
  const b = x.block;
  if (typeof b.path !== 'string' || typeof b.text !== 'string') throw new UserError(`reader input ${i}: block needs path and text`);
  if (!Number.isInteger(b.startLine) || b.startLine < 1) {
    throw new UserError(`reader input ${i}: block.startLine must be a positive integer, got ${b.startLine}`);
  }
  // Exactly the block's lines (as the chunker joins them); '\r' stays part of its line.
  return b.text.split('\n');
}

function parseConfig(c: Record<string, unknown>, file: string): ReaderConfig {
  if (c.model_type !== 'engram-reader') {
    throw new UserError(`${file}: model_type is ${JSON.stringify(c.model_type)}, expected "engram-reader"`);
  }
  const num = (k: string): number => {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new UserError(`${file}: "${k}" must be a number`);
    return v;
  };
  const sp = (c.special_tokens ?? {}) as Record<string, unknown>;
  const id = (k: string): number => {
    const v = sp[k];
    if (typeof v !== 'number') throw new UserError(`${file}: special_tokens lacks "${k}"`);
    return v;
  };
  return {
    maxLen: num('max_len'),
    qMax: num('question_max_tokens'),
    memMax: num('memory_max_tokens'),
    pathMax: num('path_max_tokens'),
    lineMax: num('line_max_tokens'),
    maxSpan: num('max_span_tokens'),
    special: { s: id('<s>'), question: id('<question>'), memory: id('<memory>'), block: id('<block>'), sep: id('<sep>') },
    newline: num('newline_token'),
    noAnswerThreshold: num('no_answer_threshold'),
    answerMinScore: typeof c.answer_min_score === 'number' ? c.answer_min_score : 0,
    keepThreshold: num('keep_threshold'),
  };
}

function logSoftmaxMasked(x: Float32Array, mask: Uint8Array, n: number): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < n; i++) if (mask[i] && x[i]! > m) m = x[i]!;
  let s = 0;
  for (let i = 0; i < n; i++) if (mask[i]) s += Math.exp(x[i]! - m);
  const lse = m + Math.log(s);
  const out = new Float64Array(n).fill(-Infinity);
  for (let i = 0; i < n; i++) if (mask[i]) out[i] = x[i]! - lse;
  return out;
}

/** ASCII letters, digits, `_` and `$`: the characters of an identifier or a number. */
function isWordByte(b: number | undefined): boolean {
  return b !== undefined && ((b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b === 95 || b === 36);
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}
