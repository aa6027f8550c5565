// The reasoner contract: one block at a time into a bounded working memory, then an
// answer with citations. Every backend (an ONNX decoder, an OpenAI-compatible server,
// an extractive reader) implements it, so the ask loop never changes per backend.
import type { AnswerConfidence, Citation } from '../types.js';

/**
 * A cited span a reasoner found but is not confident of. The loop keeps the best one seen
 * and hands it to `answer`, so a reasoner that must not pretend can still show its evidence.
 */
export interface Lead {
  /** Source text of the span. */
  text: string;
  citation: Citation;
  /** How much the reasoner believes it, 0..1 (comparable within one reasoner only). */
  score: number;
  /** The reasoner would state it as an answer (it cleared the answer thresholds); else it is evidence only. */
  confident?: boolean;
  /** How well the cited line fits what the question asks, 0 (best, the default) or below; weighs before score. */
  fit?: number;
}

/** Which of two leads the loop keeps: a confident one over evidence, then the better fit, then the higher score. */
export function betterLead(a: Lead | null | undefined, b: Lead | null | undefined): Lead | null {
  if (!a || !b) return a ?? b ?? null;
  if (Boolean(a.confident) !== Boolean(b.confident)) return a.confident ? a : b;
  const fa = a.fit ?? 0;
  const fb = b.fit ?? 0;
  if (fa !== fb) return fb > fa ? b : a;
  return b.score > a.score ? b : a;
}

/** One piece of the workspace as the reasoner reads it. */
export interface BlockView {
  blockId: string;
  path: string;
  startLine: number;
  endLine: number;
  /** Lines prefixed with their file line number (`12| code`): compressed, or raw for `full`. */
  text: string;
  /** The plain source lines startLine..endLine, given to reasoners that read raw lines. */
  raw?: string;
  /** The names the block defines, as the chunker named them (`Class.method`; a piece of a class: the class). */
  symbols?: readonly string[];
}

export interface ReadInput {
  question: string;
  /** The working memory so far ('' at the start). */
  memory: string;
  block: BlockView;
  signal?: AbortSignal;
  /** Sees generated text as it streams. */
  onText?: (text: string) => void;
}

export interface ReadOutput {
  /** The rewritten memory, at most `memoryTokens` tokens of this reasoner. */
  memory: string;
  /** True when the memory now holds the answer (the loop may stop reading). */
  hasAnswer: boolean;
  /** Tokens of the block that reached the model (after any truncation to fit its window). */
  blockTokens: number;
  /** All tokens the model read and wrote for this step. */
  promptTokens: number;
  outputTokens: number;
  /** The best span of this block, confident or not (reasoners that point at spans). */
  lead?: Lead | null;
  /** The memory's size in this reasoner's tokens, when it counted them anyway (the loop counts otherwise). */
  memoryTokens?: number;
}

export interface AnswerInput {
  question: string;
  memory: string;
  /** Context read directly at answer time (modes `full` and `rag`); empty for the memory loop. */
  blocks: BlockView[];
  /** The best lead the memory loop saw (absent or null when none). */
  lead?: Lead | null;
  signal?: AbortSignal;
  onText?: (text: string) => void;
}

export interface AnswerOutput {
  answer: string;
  /** As the reasoner stated them; the loop verifies them against what was read. */
  citations: Citation[];
  /** How many of `blocks` fitted into the model's window (the rest were cut). */
  blocksUsed: number;
  /** Tokens of `blocks` that reached the model. */
  blockTokens: number;
  promptTokens: number;
  outputTokens: number;
  /** How sure the answer is (AskResult.confidence); absent: the loop infers 'none' from "not found", else 'answer'. */
  confidence?: AnswerConfidence;
}

export interface Reasoner {
  /** backend:model, for traces, feedback records and benchmark tables. */
  readonly id: string;
  /** The model's window in its own tokens. */
  readonly contextTokens: number;
  /** The working-memory bound in the reasoner's tokens. */
  readonly memoryTokens: number;
  /** What the memory loop hands it: the compressed text (default) or also the raw lines (`BlockView.raw`). */
  readonly reads?: 'compressed' | 'raw';
  /** Tokens `text` takes for this reasoner. */
  count(text: string): number;
  read(input: ReadInput): Promise<ReadOutput>;
  answer(input: AnswerInput): Promise<AnswerOutput>;
  close(): Promise<void>;
}

/** The usual MemAgent memory size. */
export const DEFAULT_MEMORY_TOKENS = 1024;
