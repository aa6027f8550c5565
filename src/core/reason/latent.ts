// The latent-memory reasoner (a model folder with beacon.json, training/engram_training/
// beacon.py): reading a block computes (or takes from the cache) its beacon states, and the
// working memory is the list of blocks whose states form the prefix, newest last, within
// `memoryTokens` states. The answer is generated greedily after that prefix. The model does
// not point at spans, so an answer counts as confident only when its text is found on a line
// of a block it read (then that line is cited); otherwise it is returned as evidence.
import { sha256Hex } from '../hash.js';
import { LatentCache } from '../models/latent-cache.js';
import { LatentReasoner, type LatentLoadOptions } from '../models/latent.js';
import type { LatentStates } from '../models/latent-states.js';
import type { Citation } from '../types.js';
import type { AnswerInput, AnswerOutput, BlockView, ReadInput, ReadOutput, Reasoner } from './reasoner.js';

// latent HASH PATH:START-END STATES
const HELD = /^latent ([0-9a-f]{64}) (.+):(\d+)-(\d+) (\d+)$/;

interface Held {
  hash: string;
  path: string;
  startLine: number;
  endLine: number;
  states: number;
}

export class LatentMemoryReasoner implements Reasoner {
  readonly reads = 'raw' as const;
  readonly id: string;
  readonly contextTokens: number;
  readonly memoryTokens: number;
  /** Text of the blocks held, to recompute states the cache let go of. */
  private readonly texts = new Map<string, string>();

  private constructor(
    private readonly model: LatentReasoner,
    memoryTokens: number | undefined,
  ) {
    this.id = `latent:${model.modelId}`;
    this.contextTokens = model.config.contextLength;
    const room = model.config.contextLength - model.beacon.questionMaxTokens - model.beacon.answerMaxTokens - 2;
    this.memoryTokens = Math.max(1, Math.min(memoryTokens ?? room, room));
  }

  static async load(dir: string, opts: LatentLoadOptions & { memoryTokens?: number } = {}): Promise<LatentMemoryReasoner> {
    const model = await LatentReasoner.load(dir, { ...opts, cache: opts.cache ?? new LatentCache() });
    return new LatentMemoryReasoner(model, opts.memoryTokens);
  }

  count(text: string): number {
    return text ? this.model.tokenizer.count(text) : 0;
  }

  async read(input: ReadInput): Promise<ReadOutput> {
    const text = blockText(input.block);
    const hash = sha256Hex(text);
    this.texts.set(hash, text);
    const { states } = await this.states(hash);
    const held = parseHeld(input.memory).filter((h) => h.hash !== hash);
    const b = input.block;
    held.push({ hash, path: b.path, startLine: b.startLine, endLine: b.endLine, states: states.length });
    while (held.length > 1 && held.reduce((n, h) => n + h.states, 0) > this.memoryTokens) held.shift();
    for (const k of [...this.texts.keys()]) if (!held.some((h) => h.hash === k)) this.texts.delete(k);
    const blockTokens = this.count(text);
    return { memory: held.map(formatHeld).join('\n'), hasAnswer: false, blockTokens, promptTokens: blockTokens, outputTokens: 0, lead: null };
  }

  async answer(input: AnswerInput): Promise<AnswerOutput> {
    const held = parseHeld(input.memory);
    let blockTokens = 0;
    let blocksUsed = 0;
    for (const b of input.blocks) {
      const text = blockText(b);
      const hash = sha256Hex(text);
      this.texts.set(hash, text);
      const n = (await this.states(hash)).states.length;
      if (held.reduce((s, h) => s + h.states, 0) + n > this.memoryTokens) break;
      held.push({ hash, path: b.path, startLine: b.startLine, endLine: b.endLine, states: n });
      blockTokens += this.count(text);
      blocksUsed++;
    }
    const prefix: LatentStates[] = [];
    for (const h of held) if (this.texts.has(h.hash)) prefix.push((await this.states(h.hash)).states);
    const out = await this.model.answer(input.question, prefix, { ...(input.signal ? { signal: input.signal } : {}) });
    const answer = out.text.trim();
    const found = answer ? this.locate(answer, held) : null;
    return {
      answer: !answer ? 'not found' : found ? answer : `Not sure (low confidence, not found in the blocks read): ${answer}`,
      citations: found ? [found] : held.map((h) => ({ path: h.path, startLine: h.startLine, endLine: h.endLine })),
      blocksUsed,
      blockTokens,
      promptTokens: out.prefixTokens + this.count(input.question),
      outputTokens: out.tokenIds.length,
      confidence: !answer ? 'none' : found ? 'answer' : 'evidence',
    };
  }

  async close(): Promise<void> {
    await this.model.release();
  }

  private states(hash: string): Promise<{ states: LatentStates }> {
    const text = this.texts.get(hash);
    if (text === undefined) throw new Error(`latent block ${hash} was not read`);
    return this.model.blockStates(hash, text);
  }

  /** The first line of a held block that holds the answer text. */
  private locate(answer: string, held: Held[]): Citation | null {
    for (const h of [...held].reverse()) {
      const lines = (this.texts.get(h.hash) ?? '').split('\n');
      const i = lines.findIndex((l) => l.includes(answer));
      // Line 0 is the path ("where is X defined"): the whole block is the evidence.
      if (i === 0) return { path: h.path, startLine: h.startLine, endLine: h.endLine };
      if (i > 0) return { path: h.path, startLine: h.startLine + i - 1, endLine: h.startLine + i - 1 };
    }
    return null;
  }
}

/** What the model compresses: the path, then the block's raw lines (as in training). */
function blockText(b: BlockView): string {
  return `${b.path}\n${b.raw ?? b.text}`;
}

function parseHeld(memory: string): Held[] {
  const out: Held[] = [];
  for (const line of memory.split('\n')) {
    const m = HELD.exec(line);
    if (m) out.push({ hash: m[1]!, path: m[2]!, startLine: Number(m[3]), endLine: Number(m[4]), states: Number(m[5]) });
  }
  return out;
}

function formatHeld(h: Held): string {
  return `latent ${h.hash} ${h.path}:${h.startLine}-${h.endLine} ${h.states}`;
}
