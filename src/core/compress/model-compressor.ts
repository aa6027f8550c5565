// The learned compressor (issue 5 item 3): an ONNX encoder reads each chunk as windows of
// whole lines and says, per token, whether to keep it; it also embeds the chunk for recall.
// The folder follows the engram-compressor contract (config.json model_type
// "engram-compressor", onnx/model.onnx and onnx/model_quantized.onnx, tokenizer.json).
//
// Text form: one line per source line with a kept token, `N| ` then the kept tokens'
// exact source text, a single space where tokens were dropped between them. A model whose
// config.json says `"keep_unit": "line"` keeps whole lines instead: each line whose best
// token reaches the threshold (its labels were whole lines: a literal is never cut inside),
// and at least the chunk's best line.
// `"recall_vector": "hashing"` takes the recall vectors of chunks and questions from the
// structural rules (hashing.ts) instead of the model's embedding head.
// `"force_keep": "literals"` also keeps every unindented constant with a literal value
// (`export const RETRY_BASE_MS = 250;`, `CACHE_TTL = 300`), as the rules classify lines:
// the value a question asks for, which a small model scores unevenly across languages
// (LLMLingua-2's force tokens serve the same end).
import { basename, join } from 'node:path';
import { EncoderModel, type EncoderRow } from '../models/encoder.js';
import { pickOnnxFile, readModelFolder } from '../models/layout.js';
import { lineTokens, lineWindows, tokenByteLengths, type LineTokens, type LineWindow } from '../models/line-windows.js';
import type { ProviderName, ProviderPreference } from '../models/providers.js';
import { ModelTokenizer } from '../models/tokenizer.js';
import { countTokens } from '../tokens.js';
import { CancelledError, UserError, type Chunk, type Compressed } from '../types.js';
import type { Compressor } from './compressor.js';
import { hashedVector } from './hashing.js';
import { LineClass, classify } from './lines.js';
import { hashingChunkVector } from './structural.js';

export interface ModelCompressorOptions {
  /** Which ONNX file: 'fp32' (default; outputs do not depend on batch mates) or 'int8' (smaller, faster). */
  dtype?: 'fp32' | 'int8';
  provider?: ProviderPreference;
  threads?: number;
  /** Windows per ONNX run (default 16). */
  batchSize?: number;
  /** The version in the id when config.json has none (the manifest's); else the folder name's `-X.Y.Z`. */
  version?: string;
}

export interface ModelCompressorInfo {
  name: string;
  version: string;
  dir: string;
  file: string;
  dtype: 'fp32' | 'int8';
  provider: ProviderName;
  keepThreshold: number;
  maxLen: number;
}

interface CompressorConfig {
  maxLen: number;
  lineMax: number;
  dim: number;
  question: number;
  block: number;
  newline: number;
  /** A logit: a token is kept when its keep_logits >= this (config.json keep_rule). */
  keepThreshold: number;
  keepUnit: 'token' | 'line';
  recallVector: 'model' | 'hashing';
  forceKeep: 'none' | 'literals';
}


interface ChunkWindow extends LineWindow {
  chunk: number;
}

/** Distinct lines remembered with their tokens: code repeats lines (`}`, blank, imports) a lot. 10K
 * lines hold ~10 MB and index as fast as 100K (~100 MB) did on the medium benchmark set. */
const LINE_CACHE = 10_000;
/** Chunks compressed together (their windows sorted by length share ONNX runs). */
const CHUNKS_PER_GROUP = 64;

export class ModelCompressor implements Compressor {
  readonly id: string;
  readonly dim: number;
  readonly recallVectors: string;
  private readonly lineCache = new Map<string, LineTokens>();

  private constructor(
    private readonly model: EncoderModel,
    private readonly tok: ModelTokenizer,
    private readonly tokBytes: Int32Array,
    private readonly cfg: CompressorConfig,
    readonly info: ModelCompressorInfo,
  ) {
    // int8 keeps other tokens than fp32, so it is another compressor for the store.
    this.id = `${info.name}@${info.version}${info.dtype === 'int8' ? '+int8' : ''}`;
    this.dim = cfg.dim;
    this.recallVectors = cfg.recallVector === 'hashing' ? 'hashing' : this.id;
  }

  /** Loads a model folder; a wrong or broken folder is a UserError that names what is wrong. */
  static async load(dir: string, opts: ModelCompressorOptions = {}): Promise<ModelCompressor> {
    const folder = readModelFolder(dir);
    const cfgFile = join(dir, 'config.json');
    const cfg = parseConfig(folder.config, cfgFile);
    const tok = ModelTokenizer.load(dir);
    const tokBytes = tokenByteLengths(dir);
    const dtype = opts.dtype ?? 'fp32';
    const picked = pickOnnxFile(folder, dtype, false);
    const file = join(dir, picked.file);
    let model: EncoderModel;
    try {
      model = await EncoderModel.load(file, { provider: opts.provider, threads: opts.threads, batchSize: opts.batchSize ?? 16 });
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw new UserError(`cannot load the compressor ${file}: ${(err as Error).message}`);
    }
    const missing = [
      ...['input_ids', 'attention_mask'].filter((n) => !model.inputNames.includes(n)).map((n) => `input "${n}"`),
      ...['keep_logits', 'embedding'].filter((n) => !model.outputNames.includes(n)).map((n) => `output "${n}"`),
    ];
    if (missing.length) {
      await model.release();
      throw new UserError(`${file} is not an engram compressor: it has no ${missing.join(', ')}`);
    }
    const c = folder.config;
    const info: ModelCompressorInfo = {
      name: typeof c.name === 'string' && c.name ? c.name : 'engram-compressor',
      version: typeof c.version === 'string' && c.version ? c.version : opts.version || (/-(\d+\.\d+\.\d+[\w.-]*)$/.exec(basename(dir))?.[1] ?? '0'),
      dir,
      file,
      dtype,
      provider: model.provider,
      keepThreshold: cfg.keepThreshold,
      maxLen: cfg.maxLen,
    };
    const compressor = new ModelCompressor(model, tok, tokBytes, cfg, info);
    // One run now, so a graph that loads but cannot run (or has another dim) fails here, not mid-index.
    try {
      await compressor.modelEmbedding('probe');
    } catch (err) {
      await model.release();
      throw new UserError(`the compressor ${file} does not run: ${(err as Error).message}`);
    }
    return compressor;
  }

  async compress(chunks: readonly Chunk[], signal?: AbortSignal): Promise<Compressed[]> {
    const out: Compressed[] = [];
    // A group at a time: an index batch holds up to 400K tokens, and its windows, rows and
    // outputs all at once would hold ~100 MB more for no speed (padding is as low per group).
    for (let i = 0; i < chunks.length; i += CHUNKS_PER_GROUP) out.push(...(await this.compressGroup(chunks.slice(i, i + CHUNKS_PER_GROUP), signal)));
    return out;
  }

  private async compressGroup(chunks: readonly Chunk[], signal?: AbortSignal): Promise<Compressed[]> {
    if (signal?.aborted) throw new CancelledError('compression cancelled');
    const c = this.cfg;
    const lines = chunks.map((ch) => ch.text.split('\n'));
    const windows: ChunkWindow[] = [];
    lines.forEach((ls, i) => {
      const toks = ls.map((l) => this.lineTokens(l));
      for (const w of lineWindows([c.block], toks, c.maxLen, c.newline)) windows.push({ ...w, chunk: i });
    });
    // Similar lengths share a batch: less padding.
    const order = windows.map((_, i) => i).sort((a, b) => windows[a]!.ids.length - windows[b]!.ids.length);
    const rows: EncoderRow[] = order.map((i) => row(windows[i]!.ids));
    const outs = await this.model.runBatch(rows, { signal });

    const vectors = chunks.map(() => new Float32Array(this.dim));
    // kept byte ranges per chunk line: chunk -> line index -> [b0, b1) in token order
    const kept = chunks.map(() => new Map<number, Array<[number, number]>>());
    // keep unit "line": the best logit per chunk line
    const best = chunks.map(() => new Map<number, number>());
    order.forEach((wi, r) => {
      const w = windows[wi]!;
      const o = outs[r]!;
      const emb = o.embedding!.data;
      if (emb.length !== this.dim) throw new UserError(`${this.info.file}: embedding has ${emb.length} dimensions, config.json says ${this.dim}`);
      const v = vectors[w.chunk]!;
      for (let d = 0; d < this.dim; d++) v[d]! += emb[d]!;
      const keep = o.keep_logits!.data;
      const byLine = kept[w.chunk]!;
      const bestOf = best[w.chunk]!;
      for (let t = 0; t < w.ids.length; t++) {
        if (!w.spanable[t]) continue;
        const line = w.first + w.lineOf[t]!;
        if (this.cfg.keepUnit === 'line') {
          bestOf.set(line, Math.max(bestOf.get(line) ?? -Infinity, keep[t]!));
          continue;
        }
        if (!(keep[t]! >= this.cfg.keepThreshold)) continue;
        const ranges = byLine.get(line) ?? [];
        ranges.push([w.b0[t]!, w.b1[t]!]);
        byLine.set(line, ranges);
      }
    });
    best.forEach((bestOf, i) => {
      const whole = (line: number): void => void kept[i]!.set(line, [[0, Buffer.byteLength(lines[i]![line]!, 'utf8')]]);
      for (const [line, logit] of bestOf) if (logit >= this.cfg.keepThreshold) whole(line);
      if (this.cfg.forceKeep === 'literals') {
        lines[i]!.forEach((text, line) => {
          if (isTopLevelLiteral(text)) whole(line);
        });
      }
      // A block always says something: with no line over the threshold, its best line (else the
      // editor shows an empty memory chunk and a text-form reasoner reads nothing).
      if (kept[i]!.size === 0 && bestOf.size > 0) whole([...bestOf].reduce((a, b) => (b[1] > a[1] ? b : a))[0]);
    });
    return chunks.map((chunk, i) => {
      const compressed = textForm(chunk.startLine, lines[i]!, kept[i]!);
      const vector = this.cfg.recallVector === 'hashing' ? hashingChunkVector(chunk, this.dim) : normalise(vectors[i]!);
      return { compressed, compressedTokens: countTokens(compressed), vector };
    });
  }

  async embedQuery(text: string): Promise<Float32Array> {
    return this.cfg.recallVector === 'hashing' ? hashedVector({ text }, this.dim) : this.modelEmbedding(text);
  }

  /** The model's own embedding of a question. */
  private async modelEmbedding(text: string): Promise<Float32Array> {
    const c = this.cfg;
    const ids = [c.question, ...(text ? this.tok.encode(text, false) : []).slice(0, c.maxLen - 1)];
    const [out] = await this.model.runBatch([row(ids)]);
    const emb = out!.embedding!.data;
    if (emb.length !== this.dim) throw new UserError(`${this.info.file}: embedding has ${emb.length} dimensions, config.json says ${this.dim}`);
    return normalise(Float32Array.from(emb));
  }

  async release(): Promise<void> {
    await this.model.release();
  }

  private lineTokens(text: string): LineTokens {
    let t = this.lineCache.get(text);
    if (t === undefined) {
      t = lineTokens(this.tok, this.tokBytes, text, this.cfg.lineMax);
      if (text.length <= 256) {
        if (this.lineCache.size >= LINE_CACHE) this.lineCache.clear();
        this.lineCache.set(text, t);
      }
    }
    return t;
  }
}

/** An unindented `NAME = literal` line (the rules' Literal class): a constant or config value. */
function isTopLevelLiteral(text: string): boolean {
  return text.length > 0 && text.trimStart() === text && classify(text.trimEnd(), false) === LineClass.Literal;
}

function row(ids: number[]): EncoderRow {
  return { input_ids: ids, attention_mask: new Array<number>(ids.length).fill(1) };
}

/**
 * `N| ` + the kept tokens' source text per line. Adjacent kept tokens join without a gap,
 * a dropped token between two kept ones becomes one space; ranges widen to whole
 * characters (a byte-level token may end inside a multi-byte one).
 */
function textForm(startLine: number, lines: readonly string[], kept: Map<number, Array<[number, number]>>): string {
  const out: string[] = [];
  for (const line of [...kept.keys()].sort((a, b) => a - b)) {
    const raw = Buffer.from(lines[line] ?? '', 'utf8');
    const segments: Array<[number, number]> = [];
    for (const [t0, t1] of kept.get(line)!) {
      let a = t0;
      let b = t1;
      while (a > 0 && a < raw.length && (raw[a]! & 0xc0) === 0x80) a--;
      while (b < raw.length && (raw[b]! & 0xc0) === 0x80) b++;
      const last = segments[segments.length - 1];
      if (last && a <= last[1]) last[1] = Math.max(last[1], b);
      else segments.push([a, b]);
    }
    const parts = segments.map(([a, b]) => raw.subarray(a, b).toString('utf8').trim()).filter((s) => s.length > 0);
    if (parts.length) out.push(`${startLine + line}| ${parts.join(' ')}`);
  }
  return out.join('\n');
}

function normalise(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  if (n > 0) {
    const inv = 1 / Math.sqrt(n);
    for (let i = 0; i < v.length; i++) v[i]! *= inv;
  }
  return v;
}

/** A config field with a few allowed values, the first of them when it is absent. */
function oneOf<T extends string>(c: Record<string, unknown>, key: string, allowed: readonly [T, ...T[]], file: string): T {
  const v = c[key];
  if (v === undefined) return allowed[0];
  if ((allowed as readonly unknown[]).includes(v)) return v as T;
  throw new UserError(`${file}: "${key}" must be ${allowed.map((a) => `"${a}"`).join(' or ')}, got ${JSON.stringify(v)}`);
}

function parseConfig(c: Record<string, unknown>, file: string): CompressorConfig {
  if (c.model_type !== 'engram-compressor') {
    throw new UserError(`${file}: model_type is ${JSON.stringify(c.model_type)}, expected "engram-compressor"`);
  }
  const num = (k: string, v: unknown = c[k]): number => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new UserError(`${file}: "${k}" must be a number`);
    return v;
  };
  const sp = (c.special_tokens ?? {}) as Record<string, unknown>;
  const cfg: CompressorConfig = {
    maxLen: num('max_len'),
    lineMax: num('line_max_tokens'),
    dim: num('dim'),
    question: num('special_tokens.<question>', sp['<question>']),
    block: num('special_tokens.<block>', sp['<block>']),
    newline: num('newline_token'),
    keepThreshold: num('keep_threshold'),
    keepUnit: oneOf(c, 'keep_unit', ['token', 'line'], file),
    recallVector: oneOf(c, 'recall_vector', ['model', 'hashing'], file),
    forceKeep: oneOf(c, 'force_keep', ['none', 'literals'], file),
  };
  if (!Number.isInteger(cfg.dim) || cfg.dim < 1) throw new UserError(`${file}: "dim" must be a positive integer`);
  if (!Number.isInteger(cfg.maxLen) || cfg.maxLen < 2) throw new UserError(`${file}: "max_len" must be an integer >= 2`);
  return cfg;
}
