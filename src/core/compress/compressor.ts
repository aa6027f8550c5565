import type { Chunk, Compressed } from '../types.js';

/** Turns chunks into memory-block content: a readable compressed text and a recall vector. */
export interface Compressor {
  /** name@version, e.g. 'structural@2'; stored on each block as `model`. A new id means recompress. */
  readonly id: string;
  /** Vector dimension. */
  readonly dim: number;
  /** Whose recall vectors it gives: 'hashing' (the structural rules'), or the model's id. */
  readonly recallVectors: string;
  /** One result per chunk, in the same order. Throws CancelledError when `signal` aborts. */
  compress(chunks: readonly Chunk[], signal?: AbortSignal): Promise<Compressed[]>;
  /** Embeds a question into the same space as block vectors (for recall). */
  embedQuery(text: string): Promise<Float32Array>;
}
