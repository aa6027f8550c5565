// The Hugging Face / Optimum ONNX folder layout: config.json, tokenizer.json,
// generation_config.json and onnx/model*.onnx in fp32, fp16 and quantized files.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../types.js';
import { readJson } from './tokenizer.js';

export type ModelDtype = 'fp32' | 'fp16' | 'int8' | 'q8' | 'uint8' | 'q4' | 'q4f16';

/** File name suffixes per dtype, as Optimum and transformers.js name them. */
export const DTYPE_FILES: Record<ModelDtype, string[]> = {
  fp32: ['model.onnx'],
  fp16: ['model_fp16.onnx'],
  int8: ['model_int8.onnx', 'model_quantized.onnx'],
  q8: ['model_quantized.onnx', 'model_int8.onnx'],
  uint8: ['model_uint8.onnx'],
  q4: ['model_q4.onnx'],
  q4f16: ['model_q4f16.onnx'],
};

/** Decoder architectures whose ONNX exports use the Optimum past_key_values.N.key/value layout. */
export const DECODER_ARCHITECTURES = [
  'qwen2',
  'qwen3',
  'llama',
  'mistral',
  'phi3',
  'gemma',
  'gemma2',
  'granite',
  'olmo2',
  'smollm3',
  'starcoder2',
];

export interface DecoderConfig {
  modelType: string;
  layers: number;
  kvHeads: number;
  headDim: number;
  vocabSize: number;
  contextLength: number;
  eosIds: number[];
  maxNewTokens: number | undefined;
}

export interface ModelFolder {
  dir: string;
  config: Record<string, unknown>;
  generation: Record<string, unknown>;
  /** ONNX files found, relative to dir, with the dtype each is. */
  variants: Array<{ file: string; dtype: ModelDtype }>;
}

export function readModelFolder(dir: string): ModelFolder {
  if (!existsSync(dir)) throw new UserError(`model folder not found: ${dir}`);
  const cfgFile = join(dir, 'config.json');
  if (!existsSync(cfgFile)) throw new UserError(`not a model folder (no config.json): ${dir}`);
  const config = readJson(cfgFile);
  const genFile = join(dir, 'generation_config.json');
  const generation = existsSync(genFile) ? readJson(genFile) : {};
  return { dir, config, generation, variants: onnxVariants(dir) };
}

export function onnxVariants(dir: string): Array<{ file: string; dtype: ModelDtype }> {
  const out: Array<{ file: string; dtype: ModelDtype }> = [];
  for (const sub of ['onnx', '.']) {
    const d = join(dir, sub);
    if (!existsSync(d)) continue;
    const names = new Set(readdirSync(d));
    for (const [dtype, files] of Object.entries(DTYPE_FILES) as Array<[ModelDtype, string[]]>) {
      for (const f of files) {
        if (names.has(f) && !out.some((o) => o.file === join(sub, f))) out.push({ file: sub === '.' ? f : join(sub, f), dtype });
      }
    }
  }
  return out;
}

/**
 * The ONNX file to run: the dtype asked for, else fp16 on CUDA / fp32 on CPU,
 * else a quantized file, else whatever exists.
 */
export function pickOnnxFile(folder: ModelFolder, dtype: ModelDtype | 'auto', onGpu: boolean): { file: string; dtype: ModelDtype } {
  const v = folder.variants;
  if (!v.length) throw new UserError(`no ONNX model in ${folder.dir} (expected onnx/model.onnx, onnx/model_fp16.onnx, ...)`);
  if (dtype !== 'auto') {
    const hit = v.find((x) => x.dtype === dtype);
    if (!hit) throw new UserError(`no ${dtype} ONNX file in ${folder.dir} (found: ${v.map((x) => x.file).join(', ')})`);
    return hit;
  }
  const order: ModelDtype[] = onGpu ? ['fp16', 'fp32', 'q4f16', 'int8', 'q8', 'q4', 'uint8'] : ['fp32', 'int8', 'q8', 'uint8', 'q4', 'fp16', 'q4f16'];
  for (const d of order) {
    const hit = v.find((x) => x.dtype === d);
    if (hit) return hit;
  }
  return v[0]!;
}

/** The decoder's shape from config.json; unknown architectures get a clear message naming the file. */
export function decoderConfig(folder: ModelFolder): DecoderConfig {
  const c = folder.config;
  const file = join(folder.dir, 'config.json');
  const modelType = typeof c.model_type === 'string' ? c.model_type : '';
  if (!DECODER_ARCHITECTURES.includes(modelType)) {
    throw new UserError(
      `unsupported model architecture "${modelType || '(none)'}" in ${file}; supported decoders: ${DECODER_ARCHITECTURES.join(', ')}`,
    );
  }
  const num = (k: string): number | undefined => (typeof c[k] === 'number' ? (c[k] as number) : undefined);
  const layers = num('num_hidden_layers');
  const heads = num('num_attention_heads');
  const hidden = num('hidden_size');
  const vocabSize = num('vocab_size');
  if (!layers || !heads || !hidden || !vocabSize) {
    throw new UserError(`${file} lacks num_hidden_layers, num_attention_heads, hidden_size or vocab_size`);
  }
  const ids = (v: unknown): number[] => (typeof v === 'number' ? [v] : Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number') : []);
  const g = folder.generation;
  const maxNew = typeof g.max_new_tokens === 'number' ? g.max_new_tokens : undefined;
  return {
    modelType,
    layers,
    kvHeads: num('num_key_value_heads') ?? heads,
    headDim: num('head_dim') ?? hidden / heads,
    vocabSize,
    contextLength: num('max_position_embeddings') ?? 4096,
    eosIds: [...new Set([...ids(g.eos_token_id), ...ids(c.eos_token_id)])],
    maxNewTokens: maxNew,
  };
}
