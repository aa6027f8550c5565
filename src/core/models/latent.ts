// The latent-memory reasoner: a decoder exported with beacon.json (training/engram_training/
// beacon.py). A block's text becomes beacon key/value states (one pass over the chunk with a
// beacon token after every `ratio` tokens, keeping the present.* rows at the beacon
// positions); a question is answered greedily with the selected blocks' states as past key
// values, positions continuing after them. Both passes run the same ONNX graph.
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { sha256Hex } from '../hash.js';
import { CancelledError, UserError } from '../types.js';
import { decoderConfig, pickOnnxFile, readModelFolder, type DecoderConfig } from './layout.js';
import { LatentCache, type LatentSource } from './latent-cache.js';
import { concatStates, interleaveBeacons, sliceStates, statesSlab, type LatentStates } from './latent-states.js';
import { argmax } from './sampling.js';
import { inputTypes, openSession } from './session.js';
import { ModelTokenizer, readJson } from './tokenizer.js';
import type { ProviderPreference } from './providers.js';

/** beacon.json: what a beacon model needs beyond a plain decoder. */
export interface BeaconSpec {
  token: string;
  tokenId: number;
  ratio: number;
  /** Tokens per chunk pass in training; longer blocks are compressed chunk by chunk. */
  chunkTokens: number;
  questionId: number;
  answerId: number;
  eosId: number;
  questionMaxTokens: number;
  answerMaxTokens: number;
}

export interface LatentLoadOptions {
  provider?: ProviderPreference;
  threads?: number;
  cache?: LatentCache;
}

export interface LatentAnswer {
  text: string;
  tokenIds: number[];
  /** States the question attended to before its own tokens. */
  prefixTokens: number;
  ms: number;
}

export interface BlockStates {
  states: LatentStates;
  source: LatentSource;
}

type Feeds = Record<string, ort.Tensor>;

export class LatentReasoner {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly tokenizer: ModelTokenizer,
    readonly config: DecoderConfig,
    readonly beacon: BeaconSpec,
    /** Names this model's states in caches: folder name plus a hash of its config and graph size. */
    readonly modelId: string,
    readonly cache: LatentCache,
  ) {}

  static async load(dir: string, opts: LatentLoadOptions = {}): Promise<LatentReasoner> {
    const folder = readModelFolder(dir);
    const config = decoderConfig(folder);
    const beacon = readBeacon(dir);
    const picked = pickOnnxFile(folder, 'fp32', false);
    const file = join(dir, picked.file);
    const { session } = await openSession(file, { provider: opts.provider ?? 'cpu', ...(opts.threads ? { threads: opts.threads } : {}) });
    const types = inputTypes(session);
    const need = ['input_ids', 'attention_mask', 'position_ids', 'past_key_values.0.key'];
    const missing = need.filter((n) => !types.has(n));
    if (missing.length || !session.outputNames.includes('present.0.key')) {
      await session.release();
      throw new UserError(`${file} is not a decoder graph with past key values (missing ${missing.join(', ') || 'present.0.key'})`);
    }
    if (types.get('past_key_values.0.key') !== 'float32') {
      await session.release();
      throw new UserError(`${file}: latent memory needs a float32 KV cache, found ${types.get('past_key_values.0.key')}`);
    }
    const modelId = `${basename(dir)}-${sha256Hex(JSON.stringify([folder.config, beacon, statSync(file).size])).slice(0, 12)}`;
    return new LatentReasoner(session, ModelTokenizer.load(dir), config, beacon, modelId, opts.cache ?? new LatentCache());
  }

  /** Beacon states of token ids: chunkTokens at a time, each chunk its own pass, concatenated. */
  async statesOfIds(ids: readonly number[]): Promise<LatentStates> {
    if (!ids.length) throw new UserError('cannot compress an empty block');
    const parts: LatentStates[] = [];
    for (let at = 0; at < ids.length; at += this.beacon.chunkTokens) {
      const { ids: seq, positions } = interleaveBeacons(ids.slice(at, at + this.beacon.chunkTokens), this.beacon.ratio, this.beacon.tokenId);
      const res = await this.run(seq, 0, this.emptyPast());
      const present = [];
      for (let i = 0; i < this.config.layers; i++) {
        present.push({ key: floats(res, `present.${i}.key`), value: floats(res, `present.${i}.value`) });
      }
      parts.push(sliceStates(present, this.config.kvHeads, seq.length, this.config.headDim, positions));
    }
    return concatStates(parts);
  }

  /** A block's states from the cache, computed from `text` only when absent. */
  async blockStates(blockHash: string, text: string): Promise<BlockStates> {
    return this.cache.getOrCompute(this.modelId, blockHash, () => this.statesOfIds(this.tokenizer.encode(text, false)));
  }

  /** The greedy answer to `question` reading the blocks' states (in order) as the prefix. */
  async answer(question: string, blocks: readonly LatentStates[], opts: { maxNewTokens?: number; signal?: AbortSignal } = {}): Promise<LatentAnswer> {
    return this.answerIds(this.tokenizer.encode(question, false), blocks, opts);
  }

  async answerIds(question: readonly number[], blocks: readonly LatentStates[], opts: { maxNewTokens?: number; signal?: AbortSignal } = {}): Promise<LatentAnswer> {
    const t0 = performance.now();
    const prefix = blocks.length ? concatStates(blocks) : undefined;
    const m = prefix?.length ?? 0;
    const b = this.beacon;
    let feed = [b.questionId, ...question.slice(0, b.questionMaxTokens), b.answerId];
    const maxNew = Math.min(opts.maxNewTokens ?? b.answerMaxTokens, this.config.contextLength - m - feed.length);
    if (maxNew <= 0) throw new UserError(`the prefix of ${m} states leaves no room in the model's context of ${this.config.contextLength}`);
    let past = prefix ? this.pastOf(prefix) : this.emptyPast();
    let pos = m;
    const out: number[] = [];
    while (out.length < maxNew) {
      if (opts.signal?.aborted) throw new CancelledError('generation cancelled');
      const res = await this.run(feed, pos, past);
      const logits = res.logits!;
      const vocab = logits.dims[2]!;
      const rows = logits.dims[1]!;
      const next = argmax((logits.data as Float32Array).subarray((rows - 1) * vocab, rows * vocab));
      if (next === b.eosId || this.config.eosIds.includes(next)) break;
      out.push(next);
      pos += feed.length;
      past = this.presentAsPast(res);
      feed = [next];
    }
    return { text: this.tokenizer.decode(out), tokenIds: out, prefixTokens: m, ms: performance.now() - t0 };
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  private async run(ids: readonly number[], pastLen: number, past: Feeds): Promise<ort.InferenceSession.ReturnType> {
    const n = ids.length;
    return this.session.run({
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (x) => BigInt(x)), [1, n]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(pastLen + n).fill(1n), [1, pastLen + n]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(pastLen + i)), [1, n]),
      ...past,
    });
  }

  private pastOf(s: LatentStates): Feeds {
    const feeds: Feeds = {};
    const dims = [1, s.kvHeads, s.length, s.headDim];
    for (let i = 0; i < s.layers; i++) {
      feeds[`past_key_values.${i}.key`] = new ort.Tensor('float32', statesSlab(s, i, 0), dims);
      feeds[`past_key_values.${i}.value`] = new ort.Tensor('float32', statesSlab(s, i, 1), dims);
    }
    return feeds;
  }

  private emptyPast(): Feeds {
    return this.pastOf({ layers: this.config.layers, kvHeads: this.config.kvHeads, length: 0, headDim: this.config.headDim, data: new Float32Array(0) });
  }

  private presentAsPast(res: ort.InferenceSession.ReturnType): Feeds {
    const feeds: Feeds = {};
    for (let i = 0; i < this.config.layers; i++) {
      for (const kv of ['key', 'value']) {
        const t = res[`present.${i}.${kv}`];
        if (!t) throw new Error(`the model returned no present.${i}.${kv}`);
        feeds[`past_key_values.${i}.${kv}`] = t;
      }
    }
    return feeds;
  }
}

function floats(res: ort.InferenceSession.ReturnType, name: string): Float32Array {
  const t = res[name];
  if (!t || t.type !== 'float32') throw new Error(`the model returned no float32 ${name}`);
  return t.data as Float32Array;
}

function readBeacon(dir: string): BeaconSpec {
  const file = join(dir, 'beacon.json');
  if (!existsSync(file)) throw new UserError(`${dir} is not a latent-memory model (no beacon.json)`);
  const j = readJson(file);
  const int = (k: string): number => {
    const v = j[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new UserError(`${file}: "${k}" must be a non-negative integer`);
    return v;
  };
  const ratio = int('ratio');
  if (ratio < 1) throw new UserError(`${file}: "ratio" must be at least 1`);
  return {
    token: typeof j.token === 'string' ? j.token : '',
    tokenId: int('token_id'),
    ratio,
    chunkTokens: int('chunk_tokens') || 64,
    questionId: int('question_id'),
    answerId: int('answer_id'),
    eosId: int('eos_id'),
    questionMaxTokens: int('question_max_tokens'),
    answerMaxTokens: int('answer_max_tokens'),
  };
}
