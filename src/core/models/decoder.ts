// A decoder-only language model in the Optimum ONNX layout, run by our own loop
// over onnxruntime-node: KV cache when the graph has past_key_values inputs, full
// re-run otherwise; streamed text, stop strings, budgets and cancellation.
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { CancelledError, UserError } from '../types.js';
import { ChatTemplate, type ChatTemplateLoad } from './chat-template.js';
import { toFloat32 } from './half.js';
import { decoderConfig, pickOnnxFile, readModelFolder, type DecoderConfig, type ModelDtype } from './layout.js';
import { detectCuda, type ProviderName, type ProviderPreference } from './providers.js';
import { makeSampler, type SamplingOptions } from './sampling.js';
import { inputShape, inputTypes, openSession } from './session.js';
import { ModelTokenizer } from './tokenizer.js';

export interface DecoderLoadOptions {
  provider?: ProviderPreference;
  /** Which ONNX file variant (default 'auto': fp16 on CUDA, fp32 on CPU, else what exists). */
  dtype?: ModelDtype | 'auto';
  /** An explicit ONNX file, relative to the folder (overrides dtype). */
  file?: string;
  threads?: number;
}

export interface DecoderInfo {
  dir: string;
  file: string;
  dtype: ModelDtype | 'custom';
  provider: ProviderName;
  providerNote: string;
  architecture: string;
  usesPast: boolean;
  contextLength: number;
}

/** The model's chat template, as loaded, with what ends an assistant turn. */
export interface DecoderChat extends ChatTemplateLoad {
  /** Text the template writes after a reply (e.g. `<|im_end|>`); '' when none. */
  endOfTurn: string;
  /** Token ids among the end-of-sequence ids because they end a turn. */
  endOfTurnIds: number[];
}

export interface GenerateOptions extends SamplingOptions {
  /** Default: generation_config.json's max_new_tokens, else 256. */
  maxNewTokens?: number;
  /** Generation ends before the first occurrence of any of these (not included in the text). */
  stop?: string[];
  /** Prompt + new tokens must fit here (default: the model's context length). */
  maxContextTokens?: number;
  signal?: AbortSignal;
  /** Keep going past end-of-sequence tokens (benchmarks). */
  ignoreEos?: boolean;
}

export interface GenerationChunk {
  /** New text since the last chunk (may be empty while a multi-byte character or stop string is pending). */
  text: string;
  tokenId: number;
}

export type FinishReason = 'eos' | 'stop' | 'length';

export interface GenerationResult {
  text: string;
  tokenIds: number[];
  promptTokens: number;
  finishReason: FinishReason;
  prefillMs: number;
  decodeMs: number;
}

interface Past {
  names: string[];
  dtype: 'float32' | 'float16';
  kvHeads: number;
  headDim: number;
}

export class DecoderModel {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly tokenizer: ModelTokenizer,
    readonly config: DecoderConfig,
    readonly info: DecoderInfo,
    private readonly past: Past | null,
    private readonly hasPositionIds: boolean,
    private readonly logitsToKeep: string | null,
    readonly chat: DecoderChat,
  ) {}

  static async load(dir: string, opts: DecoderLoadOptions = {}): Promise<DecoderModel> {
    const folder = readModelFolder(dir);
    const config = decoderConfig(folder);
    const onGpu = opts.provider !== 'cpu' && detectCuda().usable;
    const picked = opts.file ? { file: opts.file, dtype: 'custom' as const } : pickOnnxFile(folder, opts.dtype ?? 'auto', onGpu);
    const file = join(dir, picked.file);
    const opened = await openSession(file, { provider: opts.provider ?? 'auto', ...(opts.threads ? { threads: opts.threads } : {}) });
    const tokenizer = ModelTokenizer.load(dir);
    const s = opened.session;
    const types = inputTypes(s);
    if (!types.has('input_ids') || !s.outputNames.includes('logits')) {
      throw new UserError(`${file} is not a causal language model graph (needs input input_ids and output logits)`);
    }
    const pastNames = s.inputNames.filter((n) => n.startsWith('past_key_values.'));
    let past: Past | null = null;
    if (pastNames.length) {
      if (pastNames.length !== 2 * config.layers) {
        throw new UserError(`${file} has ${pastNames.length} past_key_values inputs but config.json says ${config.layers} layers`);
      }
      const shape = inputShape(s, pastNames[0]!);
      const type = types.get(pastNames[0]!);
      if (type !== 'float32' && type !== 'float16') throw new UserError(`${file}: unsupported KV cache type ${type}`);
      past = { names: pastNames, dtype: type, kvHeads: shape?.[1] ?? config.kvHeads, headDim: shape?.[3] ?? config.headDim };
    }
    const keep = ['logits_to_keep', 'num_logits_to_keep'].find((n) => types.has(n)) ?? null;
    const chat = loadChat(dir, tokenizer);
    // Chat models end a reply with the template's end-of-turn token, not always with eos.
    const eosIds = [...new Set([...config.eosIds, ...tokenizer.eosIds, ...chat.endOfTurnIds])];
    const info: DecoderInfo = {
      dir,
      file,
      dtype: picked.dtype,
      provider: opened.provider,
      providerNote: opened.providerNote,
      architecture: config.modelType,
      usesPast: past !== null,
      contextLength: config.contextLength,
    };
    return new DecoderModel(s, tokenizer, { ...config, eosIds }, info, past, types.has('position_ids'), keep, chat);
  }

  /** Logits at every position of `ids` (one forward pass from an empty cache). */
  async forward(ids: number[]): Promise<Float32Array[]> {
    const { logits, vocab } = await this.step(ids, 0, this.emptyPast(), true);
    const out: Float32Array[] = [];
    for (let i = 0; i < ids.length; i++) out.push(logits.slice(i * vocab, (i + 1) * vocab));
    return out;
  }

  /** Generate and collect; `onChunk` sees the text as it streams. */
  async generate(prompt: string | number[], opts: GenerateOptions = {}, onChunk?: (c: GenerationChunk) => void): Promise<GenerationResult> {
    const it = this.stream(prompt, opts);
    for (;;) {
      const r = await it.next();
      if (r.done) return r.value;
      onChunk?.(r.value);
    }
  }

  /** Streamed generation: yields text chunks, returns the whole result. Throws CancelledError when `signal` aborts. */
  async *stream(prompt: string | number[], opts: GenerateOptions = {}): AsyncGenerator<GenerationChunk, GenerationResult> {
    const promptIds = typeof prompt === 'string' ? this.tokenizer.encode(prompt) : prompt;
    if (!promptIds.length) throw new UserError('empty prompt');
    const context = Math.min(opts.maxContextTokens ?? this.config.contextLength, this.config.contextLength);
    if (promptIds.length >= context) {
      throw new UserError(`prompt has ${promptIds.length} tokens; the model's context is ${context}`);
    }
    const maxNew = Math.min(opts.maxNewTokens ?? this.config.maxNewTokens ?? 256, context - promptIds.length);
    const sample = makeSampler(opts);
    const stops = (opts.stop ?? []).filter((s) => s.length > 0);
    const text = new StreamText(this.tokenizer, stops);
    const out: number[] = [];
    const signal = opts.signal;
    let finish: FinishReason = 'length';
    let pastValues = this.emptyPast();
    let pos = 0;
    let feed = promptIds;
    let prefillMs = 0;
    const t0 = performance.now();
    let tDecode = t0;
    while (out.length < maxNew) {
      if (signal?.aborted) throw new CancelledError('generation cancelled');
      const all = this.past ? feed : [...promptIds, ...out];
      const { logits, vocab, present } = await this.step(all, this.past ? pos : 0, pastValues, false);
      if (this.past) {
        pos += feed.length;
        pastValues = present;
      }
      if (out.length === 0) {
        prefillMs = performance.now() - t0;
        tDecode = performance.now();
      }
      const rows = logits.length / vocab;
      const next = sample(logits.subarray((rows - 1) * vocab, rows * vocab));
      if (!opts.ignoreEos && this.config.eosIds.includes(next)) {
        finish = 'eos';
        break;
      }
      out.push(next);
      feed = [next];
      const chunk = text.push(next);
      if (chunk.stopped) {
        finish = 'stop';
        if (chunk.text) yield { text: chunk.text, tokenId: next };
        break;
      }
      yield { text: chunk.text, tokenId: next };
    }
    const rest = text.flush(finish !== 'stop');
    if (rest && finish !== 'stop') yield { text: rest, tokenId: out[out.length - 1] ?? -1 };
    return {
      text: text.emitted,
      tokenIds: out,
      promptTokens: promptIds.length,
      finishReason: finish,
      prefillMs,
      decodeMs: performance.now() - tDecode,
    };
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  private emptyPast(): Record<string, ort.Tensor> {
    const p = this.past;
    if (!p) return {};
    const feeds: Record<string, ort.Tensor> = {};
    const dims = [1, p.kvHeads, 0, p.headDim];
    for (const n of p.names) {
      feeds[n] = p.dtype === 'float16' ? new ort.Tensor('float16', new Uint16Array(0), dims) : new ort.Tensor('float32', new Float32Array(0), dims);
    }
    return feeds;
  }

  private async step(
    ids: number[],
    pastLen: number,
    past: Record<string, ort.Tensor>,
    allLogits: boolean,
  ): Promise<{ logits: Float32Array; vocab: number; present: Record<string, ort.Tensor> }> {
    const n = ids.length;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (x) => BigInt(x)), [1, n]),
      ...past,
    };
    if (this.session.inputNames.includes('attention_mask')) {
      feeds.attention_mask = new ort.Tensor('int64', new BigInt64Array(pastLen + n).fill(1n), [1, pastLen + n]);
    }
    if (this.hasPositionIds) {
      feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(pastLen + i)), [1, n]);
    }
    if (this.logitsToKeep) feeds[this.logitsToKeep] = new ort.Tensor('int64', BigInt64Array.from([allLogits ? 0n : 1n]), []);
    const res = await this.session.run(feeds);
    const out = res.logits;
    if (!out) throw new Error(`${this.info.file} returned no logits`);
    const vocab = out.dims[out.dims.length - 1]!;
    const present: Record<string, ort.Tensor> = {};
    if (this.past) {
      for (const name of this.past.names) {
        const t = res[name.replace('past_key_values.', 'present.')];
        if (!t) throw new Error(`${this.info.file} has no output for ${name}`);
        present[name] = t;
      }
    }
    return { logits: toFloat32(out.data, out.type), vocab, present };
  }
}

function loadChat(dir: string, tokenizer: ModelTokenizer): DecoderChat {
  const loaded = ChatTemplate.load(dir);
  const endOfTurn = loaded.template?.endOfTurn() ?? '';
  // The whole end-of-turn text, or the special token it starts with (`</s>` of `</s>\n`).
  const lead = /^<[^<>\s]+>/.exec(endOfTurn)?.[0];
  const id = tokenizer.singleTokenId(endOfTurn) ?? (lead !== undefined ? tokenizer.singleTokenId(lead) : undefined);
  return { ...loaded, endOfTurn, endOfTurnIds: id === undefined ? [] : [id] };
}

/**
 * Incremental detokenization: decodes the ids since the last line break (so
 * SentencePiece spaces and multi-byte characters come out right), holds back
 * text that could be the start of a stop string, and cuts at a stop string.
 */
class StreamText {
  private committed = '';
  private window: number[] = [];
  emitted = '';

  constructor(
    private readonly tok: ModelTokenizer,
    private readonly stops: string[],
  ) {}

  push(id: number): { text: string; stopped: boolean } {
    this.window.push(id);
    const windowText = this.tok.decode(this.window);
    const full = this.committed + windowText;
    for (const s of this.stops) {
      const at = full.indexOf(s, Math.max(0, this.emitted.length - s.length + 1));
      if (at >= 0) return { text: this.emit(full.slice(0, at)), stopped: true };
    }
    if (windowText.endsWith('\n')) {
      this.committed = full;
      this.window = [];
    }
    if (full.endsWith('\uFFFD')) return { text: '', stopped: false };
    return { text: this.emit(full.slice(0, full.length - this.heldBack(full))), stopped: false };
  }

  /** Whatever is still held back (end of generation without a stop). */
  flush(release: boolean): string {
    if (!release) return '';
    const full = this.committed + this.tok.decode(this.window);
    return this.emit(full);
  }

  private emit(upTo: string): string {
    if (upTo.length <= this.emitted.length) return '';
    const add = upTo.slice(this.emitted.length);
    this.emitted = upTo;
    return add;
  }

  // Length of the longest tail of `full` that is a proper prefix of a stop string.
  private heldBack(full: string): number {
    let hold = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, full.length); k > hold; k--) {
        if (full.endsWith(s.slice(0, k))) {
          hold = k;
          break;
        }
      }
    }
    return hold;
  }
}
