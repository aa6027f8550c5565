// The feature gate: a small MLP over gateFeatures (recall rank, the names the question
// and memory ask about, the question's words), trained in
// training/engram_training/feature_gate.py and exported to models/<name>/ with role
// 'gate' and model_type 'engram-feature-gate'. It needs no tokenizer and scores the
// 64 candidates of a round in a millisecond or two.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EncoderModel, type ProviderPreference } from '../models/index.js';
import { readJson } from '../models/tokenizer.js';
import { GATE_FEATURES, gateFeatures, gateQuery } from './features.js';
import type { GateInput, GateScorer } from './scorer.js';

export const FEATURE_GATE_TYPE = 'engram-feature-gate';

export class FeatureGate implements GateScorer {
  private constructor(
    readonly id: string,
    readonly threshold: number,
    private readonly model: EncoderModel,
  ) {}

  /** Loads models/<name>/ (config.json, onnx/model.onnx). Throws on anything missing, broken or of another feature set. */
  static async load(dir: string, opts: { provider?: ProviderPreference; threads?: number } = {}): Promise<FeatureGate> {
    const cfg = readJson(join(dir, 'config.json'));
    const names = Array.isArray(cfg.features) ? cfg.features.map(String) : [];
    if (names.join(',') !== GATE_FEATURES.join(',')) {
      throw new Error(`${dir} reads features [${names.join(', ')}], this engine computes [${GATE_FEATURES.join(', ')}]`);
    }
    const file = join(dir, 'onnx', 'model.onnx');
    if (!existsSync(file)) throw new Error(`no onnx/model.onnx in ${dir}`);
    // A few KB of weights: CPU always, one thread, the whole round in one run.
    const model = await EncoderModel.load(file, { provider: 'cpu', threads: opts.threads ?? 1, batchSize: 256 });
    if (!model.inputNames.includes('features') || !model.outputNames.includes('logits')) {
      throw new Error(`${file} is not a feature gate graph (needs input features and output logits)`);
    }
    const logit = typeof cfg.threshold_logit === 'number' ? cfg.threshold_logit : 0;
    const name = dir.split(/[\\/]/).filter(Boolean).pop() ?? 'gate';
    return new FeatureGate(`gate:${name}`, sigmoid(logit), model);
  }

  async score(question: string, memory: string, blocks: GateInput[], signal?: AbortSignal): Promise<number[]> {
    if (!blocks.length) return [];
    const q = gateQuery(question, memory);
    const rows = blocks.map((b) => ({ features: gateFeatures(q, b.path, b.text, b.rank) }));
    const out = await this.model.runBatch(rows, { signal });
    return out.map((o) => sigmoid(o.logits?.data[0] ?? Number.NEGATIVE_INFINITY));
  }

  async close(): Promise<void> {
    await this.model.release();
  }
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}
