// The gate: recall candidates for the question plus the current working memory,
// score them (gate model, or recall rank without one), and keep those above the
// threshold within the block-count and token budgets. Run again after every memory
// update, so a multi-hop question follows what was just learned. A memory line that cites
// a range ending in `…` (`src/a.ts:32-59…`: a body that runs past its block) asks for the
// block that continues it, which then comes first.
import type { Compressor } from '../compress/index.js';
import type { MemoryStore } from '../store/index.js';
import { CONTINUATION_GAP, definesSymbol, type MemoryBlock } from '../types.js';
import { namesIn } from '../compress/identifiers.js';
import { recall, RRF_MAX } from './recall.js';
import type { GateInput, GateScorer } from './scorer.js';

/** Memory names searched for on their own each round, at most (the earliest: a hop's calls lead). */
const MEMORY_NAMES = 8;

/**
 * Names searched for on their own, each for the blocks defining it first: the question's (a stop
 * word such as rxjs's `not` would be dropped from the query itself), then the code names the
 * working memory holds that the question does not.
 */
function searchNames(question: string, memory: string): string[] {
  const asked = namesIn(question);
  if (!memory) return asked;
  return [...asked, ...namesIn(memory).filter((n) => !asked.includes(n)).slice(0, MEMORY_NAMES)];
}

/** `PATH:START-END…`: a range the memory says goes on past its block. */
const CONTINUES = /(\S+):\d+-(\d+)…/;

/** The last range of the memory that goes on past its block, with the words of its line (the definition's name). */
function continued(memory: string): { path: string; endLine: number; words: Set<string> } | null {
  for (const line of memory.split('\n').reverse()) {
    const m = CONTINUES.exec(line);
    if (m) return { path: m[1]!, endLine: Number(m[2]), words: new Set(line.split(/[^\p{L}\p{N}_$]+/u)) };
  }
  return null;
}

/** A gate score this high goes before the continuation of an open range. */
const SURE = 0.5;

/** Blocks read per question when not told otherwise. */
export const DEFAULT_MAX_BLOCKS = 8;

export interface GateOptions {
  /** Keep blocks scoring at least this (default: the gate model's own; 0.5 without one, see rank()). */
  threshold?: number;
  /**
   * Read at least this many blocks per question, threshold or not, unless the reasoner has the
   * answer first. Default: 1 with a gate model; without one, maxBlocks: the recall rank is no
   * calibrated relevance, so the reasoner's answer, not the threshold, ends the reading (bench:ask
   * at 512K: 0.71 -> 0.83 accuracy for 2.0 -> 3.1 blocks read a question).
   */
  minBlocks?: number;
  /** Read at most this many blocks per question (default DEFAULT_MAX_BLOCKS). */
  maxBlocks?: number;
  /** At most this many block tokens per question (default 8192). */
  tokenBudget?: number;
  /** Candidates recalled per round (default 64, as the gate was trained). */
  candidates?: number;
  /** Only blocks of these files are candidates (a question asked about a file or a folder). */
  within?: ReadonlySet<string>;
  /**
   * The names whose definitions answer the question (its parameters, returns, documentation, own
   * calls; a class's constructor): blocks defining one go first and are read, whatever their
   * score. The gate model was trained on place, value and chain questions; for "what does
   * `innerFrom` return?" it ranked seven import blocks above the definition.
   */
  definitionOf?: readonly string[];
}

/** A scope of this many files or fewer has all its blocks among the candidates, recalled or not. */
const WITHIN_ALL_BLOCKS = 16;

export interface GateDecision {
  block: MemoryBlock;
  score: number;
  kept: boolean;
}

/** What the question has used so far; the gate only fills what is left. */
export interface GateState {
  read: ReadonlySet<string>;
  excluded: ReadonlySet<string>;
  blocksRead: number;
  tokensRead: number;
}

/** Raw lines of a block for the gate model (the compressed text when the file is gone). */
export type BlockText = (block: MemoryBlock) => Promise<string>;

export class Gate {
  readonly threshold: number;
  readonly minBlocks: number;
  readonly maxBlocks: number;
  readonly tokenBudget: number;
  readonly candidates: number;
  private readonly within: ReadonlySet<string> | null;
  private readonly definitionOf: readonly string[];
  private readonly blocks = new Map<string, MemoryBlock>();
  /** The blocks of a small scope's files, read once per question. */
  private scopeBlocks: MemoryBlock[] | null = null;

  constructor(
    private readonly store: MemoryStore,
    private readonly compressor: Compressor,
    readonly scorer: GateScorer | null,
    private readonly text: BlockText,
    opts: GateOptions = {},
  ) {
    this.threshold = opts.threshold ?? scorer?.threshold ?? 0.5;
    this.maxBlocks = opts.maxBlocks ?? DEFAULT_MAX_BLOCKS;
    this.minBlocks = opts.minBlocks ?? (scorer ? 1 : this.maxBlocks);
    this.tokenBudget = opts.tokenBudget ?? 8192;
    this.candidates = opts.candidates ?? 64;
    this.within = opts.within ?? null;
    this.definitionOf = opts.definitionOf ?? [];
    if (!(this.maxBlocks >= 1 && this.minBlocks >= 0 && this.minBlocks <= this.maxBlocks)) {
      throw new RangeError(`gate block limits need 0 <= min (${this.minBlocks}) <= max (${this.maxBlocks}), max >= 1`);
    }
  }

  get id(): string {
    return this.scorer?.id ?? 'recall-rank';
  }

  /** Every unread candidate, scored, best first. */
  async rank(question: string, memory: string, state: Pick<GateState, 'read' | 'excluded'>, signal?: AbortSignal): Promise<Array<{ block: MemoryBlock; score: number }>> {
    const query = memory ? `${question}\n${memory}` : question;
    // Ask for enough that `candidates` remain once what was read or excluded is set aside.
    const depth = Math.min(this.candidates + state.read.size + state.excluded.size, 1000);
    const open = (id: string): boolean => !state.read.has(id) && !state.excluded.has(id);
    const within = this.within;
    // The definitions asked about are searched for by name too (a class's constructor block is named `Class.constructor`).
    const names = [...searchNames(question, memory), ...this.definitionOf.filter((n) => n.includes('.'))];
    const recalled = await recall(this.store, this.compressor, query, within ? 1000 : depth, names);
    const hits = recalled.filter((h) => open(h.blockId) && (!within || within.has(h.path))).slice(0, this.candidates);
    const missing = hits.map((h) => h.blockId).filter((id) => !this.blocks.has(id));
    for (const [id, b] of await this.store.getBlocks(missing)) this.blocks.set(id, b);
    // A few files asked about: their other blocks are candidates too, after the recalled ones.
    if (within && within.size <= WITHIN_ALL_BLOCKS) {
      if (!this.scopeBlocks) {
        this.scopeBlocks = [];
        for (const path of within) this.scopeBlocks.push(...(await this.store.blocksForPath(path)));
      }
      const seen = new Set(hits.map((h) => h.blockId));
      for (const b of this.scopeBlocks) {
        if (hits.length >= this.candidates) break;
        if (seen.has(b.id) || !open(b.id)) continue;
        this.blocks.set(b.id, b);
        hits.push({ blockId: b.id, path: b.path, startLine: b.startLine, endLine: b.endLine, score: 0 });
      }
    }
    const blocks = hits.flatMap((h) => this.blocks.get(h.blockId) ?? []);
    let scores: number[];
    if (this.scorer) {
      // One block at a time: the texts come from whole files, and 64 files read at once
      // raised peak memory by ~70 MB on bench:ask's contexts.
      const inputs: GateInput[] = [];
      for (const [rank, b] of blocks.entries()) inputs.push({ path: b.path, startLine: b.startLine, endLine: b.endLine, text: await this.text(b), rank });
      scores = await this.scorer.score(question, memory, inputs, signal);
    } else {
      // Recall's fused score on a 0..1 scale: 1 when first in both lists, 0.5 when first in one only.
      const byId = new Map(hits.map((h) => [h.blockId, h.score]));
      scores = blocks.map((b) => Math.min(1, (byId.get(b.id) ?? 0) / RRF_MAX));
    }
    // Blocks defining what the question is answered from first, then by score.
    const ranked = blocks
      .map((block, i) => ({ block, score: scores[i] ?? 0, first: this.defines(block) }))
      .sort((a, b) => Number(b.first) - Number(a.first) || b.score - a.score || a.block.id.localeCompare(b.block.id))
      .map(({ block, score }) => ({ block, score }));
    const next = await this.continuation(memory, state);
    if (!next) return ranked;
    // The continuation comes first, unless the gate is sure of a block (the definition of a
    // callee the body already named): the rest of a long body would take the reading budget.
    const rest = ranked.filter((r) => r.block.id !== next.id);
    const sure = rest[0] && rest[0].score >= SURE ? [rest.shift()!] : [];
    return [...sure, { block: next, score: 1 }, ...rest];
  }

  /** The unread block continuing the memory's last open range, if there is one. */
  private async continuation(memory: string, state: Pick<GateState, 'read' | 'excluded'>): Promise<MemoryBlock | null> {
    const open = continued(memory);
    if (!open) return null;
    // The continuing block belongs to the same definition: the chunker names its pieces after it.
    const next = (await this.store.blocksForPath(open.path)).find(
      (b) => b.startLine > open.endLine && b.startLine <= open.endLine + CONTINUATION_GAP && b.symbols.some((s) => open.words.has(s.slice(s.lastIndexOf('.') + 1))),
    );
    if (!next || state.read.has(next.id) || state.excluded.has(next.id)) return null;
    this.blocks.set(next.id, next);
    return next;
  }

  /** One round: every candidate with its decision; kept ones are in reading order. */
  async select(question: string, memory: string, state: GateState, signal?: AbortSignal): Promise<GateDecision[]> {
    const ranked = await this.rank(question, memory, state, signal);
    let blocks = state.blocksRead;
    let tokens = state.tokensRead;
    return ranked.map(({ block, score }) => {
      const wanted = score >= this.threshold || blocks < this.minBlocks || this.defines(block);
      const fits = blocks < this.maxBlocks && tokens + block.compressedTokens <= this.tokenBudget;
      const kept = wanted && fits;
      if (kept) {
        blocks++;
        tokens += block.compressedTokens;
      }
      return { block, score, kept };
    });
  }

  /** Whether the block defines a name whose definition answers the question (read first, and read whatever its score). */
  private defines(block: MemoryBlock): boolean {
    return this.definitionOf.some((n) => definesSymbol(block.symbols, n));
  }

  /** Candidates recur across rounds; fetch each block once per question. */
  async block(id: string): Promise<MemoryBlock | null> {
    const seen = this.blocks.get(id);
    if (seen) return seen;
    const b = await this.store.getBlock(id);
    if (b) this.blocks.set(id, b);
    return b;
  }
}
