// Picks the compressor an engine runs: `structural` (the default) or a learned one named by
// its model name or folder. A learned one that is missing or fails to load never stops
// indexing: the engine warns and runs the structural compressor instead.
import { findModel, type RegistryOptions } from '../models/registry.js';
import type { Compressor } from './compressor.js';
import { ModelCompressor, type ModelCompressorOptions } from './model-compressor.js';
import { StructuralCompressor } from './structural.js';

export interface OpenCompressorOptions extends ModelCompressorOptions {
  env?: NodeJS.ProcessEnv;
  /** Where to look up model names (default: shipped models, the cache, ENGRAM_MODEL_PATHS). */
  registry?: RegistryOptions;
  onWarning?: (message: string) => void;
}

/** True for the names of the built-in rule-based compressor. */
export function isStructural(spec: string | undefined): boolean {
  return spec === undefined || spec === '' || spec === 'structural' || spec.startsWith('structural@');
}

/** `structural`, an installed compressor model's name (e.g. engram-compressor), or a model folder. */
export async function openCompressor(spec: string | undefined, opts: OpenCompressorOptions = {}): Promise<Compressor> {
  if (isStructural(spec)) return new StructuralCompressor();
  const name = spec as string;
  try {
    const model = findModel(name, { env: opts.env, ...opts.registry });
    return await ModelCompressor.load(model.dir, { ...opts, ...(model.version ? { version: model.version } : {}) });
  } catch (err) {
    opts.onWarning?.(`compressor "${name}" is not usable (${(err as Error).message}); using the structural compressor`);
    return new StructuralCompressor();
  }
}
