// Reasoners: pick a backend from a spec. A new backend (the extractive reader) is one
// more case here and one class implementing Reasoner; the ask loop does not change.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { findModel, listModels, type ProviderPreference } from '../models/index.js';
import { LatentCache } from '../models/latent-cache.js';
import { UserError } from '../types.js';
import { ChatBackend } from './chat-backend.js';
import { DecoderBackend } from './decoder-backend.js';
import { ExtractiveReasoner } from './extractive.js';
import { GenerativeReasoner } from './generative.js';
import { LatentMemoryReasoner } from './latent.js';
import type { Reasoner } from './reasoner.js';

export type { AnswerInput, AnswerOutput, BlockView, Lead, ReadInput, ReadOutput, Reasoner } from './reasoner.js';
export { betterLead, DEFAULT_MEMORY_TOKENS } from './reasoner.js';
export { documentationOf } from './describe.js';
export { usesIn, usesQuestion, type UsesQuestion } from './uses.js';
export { GenerativeReasoner, type Completer, type Completion, type GenerativeOptions } from './generative.js';
export { DecoderBackend } from './decoder-backend.js';
export { ExtractiveReasoner } from './extractive.js';
export { LatentMemoryReasoner } from './latent.js';
export { ChatBackend, type ChatBackendOptions } from './chat-backend.js';
export { parseAnswer, parseCitations, parseMemoryUpdate } from './parse.js';

export type ReasonerSpec =
  | {
      backend: 'onnx';
      /** A model name from `engram models list`, or a folder in the HF ONNX layout (a decoder, or the extractive reader). */
      model: string;
      provider?: ProviderPreference;
      threads?: number;
      memoryTokens?: number;
      env?: NodeJS.ProcessEnv;
    }
  | {
      backend: 'openai';
      baseUrl: string;
      model: string;
      contextTokens?: number;
      allowRemote?: boolean;
      memoryTokens?: number;
      env?: NodeJS.ProcessEnv;
    };

export const REASONER_BACKENDS = ['onnx', 'openai'] as const;

/** What opening a reasoner may say without failing (a chat template that does not render, say). */
export interface OpenReasonerOptions {
  onWarning?: (message: string) => void;
  /** Where a reasoner keeps what it computes per block between sessions (latent states); none: memory only. */
  cacheDir?: string;
}

export async function openReasoner(spec: ReasonerSpec, opts: OpenReasonerOptions = {}): Promise<Reasoner> {
  if (spec.backend === 'openai') {
    const backend = new ChatBackend({
      baseUrl: spec.baseUrl,
      model: spec.model,
      env: spec.env,
      allowRemote: spec.allowRemote,
      ...(spec.contextTokens ? { contextTokens: spec.contextTokens } : {}),
    });
    return new GenerativeReasoner(backend, { memoryTokens: spec.memoryTokens });
  }
  const found = findModel(spec.model, { env: spec.env });
  if (found.problem) throw new UserError(`reasoner ${found.name} cannot be used: ${found.problem}`);
  if (found.role && found.role !== 'reasoner') throw new UserError(`${found.name} is a ${found.role} model, not a reasoner`);
  const load = { provider: spec.provider ?? 'auto', ...(spec.threads ? { threads: spec.threads } : {}) } as const;
  // The extractive reader is an encoder with span heads, not a decoder: same role, own class.
  const withMemory = { ...load, ...(spec.memoryTokens ? { memoryTokens: spec.memoryTokens } : {}) };
  if (found.architecture === 'engram-reader') return ExtractiveReasoner.load(found.dir, withMemory);
  // A decoder exported with beacon.json reads blocks as latent memory (beacon key/value states).
  if (existsSync(join(found.dir, 'beacon.json'))) {
    return LatentMemoryReasoner.load(found.dir, { ...withMemory, cache: new LatentCache(opts.cacheDir ? { dir: opts.cacheDir } : {}) });
  }
  const backend = await DecoderBackend.load(found.dir, { ...load, ...(opts.onWarning ? { onWarning: opts.onWarning } : {}) });
  return new GenerativeReasoner(backend, { memoryTokens: spec.memoryTokens });
}

/**
 * The reasoner to use when none is named: ENGRAM_REASONER_URL (+ ENGRAM_REASONER_MODEL)
 * for a server, ENGRAM_REASONER for an ONNX folder or name, else the shipped reasoner.
 */
export function defaultReasonerSpec(env: NodeJS.ProcessEnv = process.env): ReasonerSpec {
  if (env.ENGRAM_REASONER_URL) {
    return { backend: 'openai', baseUrl: env.ENGRAM_REASONER_URL, model: env.ENGRAM_REASONER_MODEL ?? '', env };
  }
  if (env.ENGRAM_REASONER) return { backend: 'onnx', model: env.ENGRAM_REASONER, env };
  const shipped = listModels({ env }).find((m) => m.role === 'reasoner' && !m.problem);
  if (shipped) return { backend: 'onnx', model: shipped.dir, env };
  throw new UserError(
    'no reasoner installed: pass --model DIR (an ONNX decoder folder, see engram models pull) or --server URL --server-model NAME (an OpenAI-compatible server), or set ENGRAM_REASONER / ENGRAM_REASONER_URL',
  );
}
