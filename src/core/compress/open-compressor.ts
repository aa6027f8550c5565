// Picks the compressor an engine runs: by default the installed learned compressor (the
// shipped engram-compressor), or the one named by model name or folder, or `structural`,
// the rules. A learned one that is missing or fails to load never stops indexing: the
// engine warns and runs the structural compressor instead.
import { findModel, listModels, type InstalledModel, type RegistryOptions } from '../models/registry.js';
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
  return spec === 'structural' || (spec?.startsWith('structural@') ?? false);
}

/**
 * `structural`, an installed compressor model's name (e.g. engram-compressor), or a model
 * folder; undefined or empty takes the installed model with role 'compressor' (the shipped
 * one comes first), and the rules when there is none.
 */
export async function openCompressor(spec: string | undefined, opts: OpenCompressorOptions = {}): Promise<Compressor> {
  if (isStructural(spec)) return new StructuralCompressor();
  const registry = { env: opts.env, ...opts.registry };
  let model: InstalledModel | undefined;
  try {
    model = spec ? findModel(spec, registry) : listModels(registry).find((m) => m.role === 'compressor');
    if (!model) return new StructuralCompressor();
    if (model.problem) throw new Error(model.problem);
    return await ModelCompressor.load(model.dir, { ...opts, ...(model.version ? { version: model.version } : {}) });
  } catch (err) {
    opts.onWarning?.(`compressor "${spec || model?.name}" is not usable (${(err as Error).message}); using the structural compressor`);
    return new StructuralCompressor();
  }
}
