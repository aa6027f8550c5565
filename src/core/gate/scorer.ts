// Gate models: classifiers over (question, working memory, block) exported to
// models/<name>/ with role 'gate'. The transformer gate (training/engram_training/gate.py)
// reads ids <s> <question> Q <memory> M <block> path:start-end\nBLOCK (raw lines); the
// feature gate (feature-gate.ts) reads computed features.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EncoderModel, listModels, ModelTokenizer, type ProviderPreference } from '../models/index.js';
import { readJson } from '../models/tokenizer.js';
import { FEATURE_GATE_TYPE, FeatureGate, sigmoid } from './feature-gate.js';

/** A block as the gate model reads it. */
export interface GateInput {
  path: string;
  startLine: number;
  endLine: number;
  /** The block's raw source lines (the model was trained on raw text). */
  text: string;
  /** Its 0-based place in recall's order this round. */
  rank: number;
}

export interface GateScorer {
  readonly id: string;
  /** Probability above which a block is worth reading (chosen for F1 in training). */
  readonly threshold: number;
  /** P(relevant) per block, in order. */
  score(question: string, memory: string, blocks: GateInput[], signal?: AbortSignal): Promise<number[]>;
  close(): Promise<void>;
}

const SPECIALS = ['<s>', '<question>', '<memory>', '<block>'] as const;

export class ModelGate implements GateScorer {
  private constructor(
    readonly id: string,
    readonly threshold: number,
    private readonly model: EncoderModel,
    private readonly tokenizer: ModelTokenizer,
    private readonly special: Record<(typeof SPECIALS)[number], number>,
    private readonly maxLen: number,
    private readonly questionMax: number,
    private readonly memoryMax: number,
  ) {}

  /** Loads models/<name>/ (config.json, tokenizer.json, onnx/model_quantized.onnx or model.onnx). Throws on anything missing or broken. */
  static async load(dir: string, opts: { provider?: ProviderPreference; threads?: number } = {}): Promise<ModelGate> {
    const cfgFile = join(dir, 'config.json');
    if (!existsSync(cfgFile)) throw new Error(`no config.json in ${dir}`);
    const cfg = readJson(cfgFile);
    const file = ['onnx/model_quantized.onnx', 'onnx/model.onnx'].map((f) => join(dir, f)).find((f) => existsSync(f));
    if (!file) throw new Error(`no onnx/model.onnx in ${dir}`);
    const tokenizer = ModelTokenizer.load(dir);
    const special = {} as Record<(typeof SPECIALS)[number], number>;
    for (const s of SPECIALS) {
      const id = tokenizer.tokenId(s);
      if (id === undefined) throw new Error(`the gate tokenizer in ${dir} has no ${s} token`);
      special[s] = id;
    }
    const model = await EncoderModel.load(file, { provider: opts.provider ?? 'cpu', ...(opts.threads ? { threads: opts.threads } : {}), batchSize: 16 });
    if (!model.inputNames.includes('input_ids') || !model.outputNames.includes('logits')) {
      throw new Error(`${file} is not a gate graph (needs input_ids and logits)`);
    }
    const logit = typeof cfg.threshold_logit === 'number' ? cfg.threshold_logit : 0;
    const name = dir.split(/[\\/]/).filter(Boolean).pop() ?? 'gate';
    return new ModelGate(
      `gate:${name}`,
      1 / (1 + Math.exp(-logit)),
      model,
      tokenizer,
      special,
      typeof cfg.max_len === 'number' ? cfg.max_len : 512,
      typeof cfg.question_max_tokens === 'number' ? cfg.question_max_tokens : 64,
      typeof cfg.memory_max_tokens === 'number' ? cfg.memory_max_tokens : 96,
    );
  }

  async score(question: string, memory: string, blocks: GateInput[], signal?: AbortSignal): Promise<number[]> {
    if (!blocks.length) return [];
    const t = this.tokenizer;
    const head = [
      this.special['<s>'],
      this.special['<question>'],
      ...t.encode(question, false).slice(0, this.questionMax),
      this.special['<memory>'],
      ...t.encode(memory, false).slice(0, this.memoryMax),
      this.special['<block>'],
    ];
    const rows = blocks.map((b) => {
      const ids = [...head, ...t.encode(`${b.path}:${b.startLine}-${b.endLine}\n${b.text}`, false)].slice(0, this.maxLen);
      return { input_ids: ids, attention_mask: ids.map(() => 1) };
    });
    const out = await this.model.runBatch(rows, { signal });
    return out.map((o) => sigmoid(o.logits?.data[0] ?? Number.NEGATIVE_INFINITY));
  }

  async close(): Promise<void> {
    await this.model.release();
  }
}

/** The gate in `dir`, by its config's model_type: the feature gate, else the transformer gate. */
async function loadGate(dir: string, provider: ProviderPreference): Promise<GateScorer> {
  const cfgFile = join(dir, 'config.json');
  if (!existsSync(cfgFile)) throw new Error(`no config.json in ${dir}`);
  return readJson(cfgFile).model_type === FEATURE_GATE_TYPE ? FeatureGate.load(dir) : ModelGate.load(dir, { provider });
}

/**
 * The gate model to use: `spec` 'none' turns it off; a name or folder loads that one;
 * undefined takes the installed model with role 'gate'. A missing or broken model is
 * not fatal: the caller is warned and recall ranking stands in (returns null).
 */
export async function openGate(
  spec: string | undefined,
  opts: { env?: NodeJS.ProcessEnv; onWarning?: (message: string) => void; provider?: ProviderPreference } = {},
): Promise<GateScorer | null> {
  if (spec === 'none') return null;
  let dir: string | undefined;
  if (spec === undefined) {
    const installed = listModels({ env: opts.env }).find((m) => m.role === 'gate');
    if (!installed) return null;
    if (installed.problem) {
      opts.onWarning?.(`gate model ${installed.name} is unusable (${installed.problem}); ranking by recall instead`);
      return null;
    }
    dir = installed.dir;
  } else {
    const named = listModels({ env: opts.env }).find((m) => m.name === spec && m.role === 'gate');
    dir = named?.dir ?? spec;
  }
  try {
    return await loadGate(dir, opts.provider ?? 'cpu');
  } catch (error) {
    opts.onWarning?.(`gate model ${dir} could not be loaded (${error instanceof Error ? error.message : String(error)}); ranking by recall instead`);
    return null;
  }
}
