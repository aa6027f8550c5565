// The extractive reader as a reasoner (the built-in default): it points at exact source
// spans instead of writing text, so its memory is a list of cited lines and its answer
// is source text on known lines. It reads raw lines (it was trained on them).
import { ExtractiveReader, ModelTokenizer, type ReaderLoadOptions, type ReaderOutput } from '../models/index.js';
import type { Citation } from '../types.js';
import type { AnswerInput, AnswerOutput, BlockView, ReadInput, ReadOutput, Reasoner } from './reasoner.js';

const ANSWER = 'answer ';
// answer path:3-4: text   |   path:12: text
const FACT = /^(answer )?(.+?):(\d+)(?:-(\d+))?: (.*)$/;

export class ExtractiveReasoner implements Reasoner {
  readonly reads = 'raw' as const;
  readonly memoryTokens: number;

  private constructor(
    private readonly reader: ExtractiveReader,
    private readonly tok: ModelTokenizer,
    readonly id: string,
    memoryTokens: number,
  ) {
    this.memoryTokens = memoryTokens;
  }

  static async load(dir: string, opts: ReaderLoadOptions & { memoryTokens?: number } = {}): Promise<ExtractiveReasoner> {
    const reader = await ExtractiveReader.load(dir, opts);
    return new ExtractiveReasoner(reader, ModelTokenizer.load(dir), `reader:${reader.info.name}`, opts.memoryTokens ?? 1024);
  }

  /** Blocks are read in windows of whole lines, so any block fits; this is one window. */
  get contextTokens(): number {
    return this.reader.info.maxLen;
  }

  count(text: string): number {
    return text ? this.tok.count(text) : 0;
  }

  async read(input: ReadInput): Promise<ReadOutput> {
    const [out] = await this.reader.read([{ question: input.question, memory: input.memory, block: plain(input.block) }], input.signal);
    const facts = input.memory ? input.memory.split('\n') : [];
    const add = (line: string): void => {
      if (!facts.includes(line)) facts.push(line);
    };
    for (const k of out?.keepLines ?? []) add(`${input.block.path}:${k.line}: ${k.text.trim()}`);
    const found = out?.answer ?? null;
    if (found) add(`${ANSWER}${input.block.path}:${found.startLine}-${found.endLine}: ${found.text}`);
    const blockTokens = this.count(plain(input.block).text);
    const memory = this.bound(facts);
    return { memory, hasAnswer: found !== null, blockTokens, promptTokens: blockTokens + this.count(input.question) + this.count(input.memory), outputTokens: 0 };
  }

  async answer(input: AnswerInput): Promise<AnswerOutput> {
    let best: { text: string; citation: Citation; score: number } | null = null;
    let used = 0;
    let blockTokens = 0;
    if (input.blocks.length) {
      const outs: ReaderOutput[] = await this.reader.read(
        input.blocks.map((b) => ({ question: input.question, memory: input.memory, block: plain(b) })),
        input.signal,
      );
      used = input.blocks.length;
      outs.forEach((o, i) => {
        const b = input.blocks[i]!;
        blockTokens += this.count(plain(b).text);
        if (o.answer && (!best || o.answer.score > best.score)) {
          best = { text: o.answer.text, citation: { path: b.path, startLine: o.answer.startLine, endLine: o.answer.endLine }, score: o.answer.score };
        }
      });
    }
    // The memory loop already found its answers; the latest one wins.
    if (!best) {
      for (const line of input.memory.split('\n').reverse()) {
        const m = FACT.exec(line);
        if (m?.[1]) {
          const start = Number(m[3]);
          best = { text: m[5] ?? '', citation: { path: m[2] ?? '', startLine: start, endLine: m[4] ? Number(m[4]) : start }, score: 1 };
          break;
        }
      }
    }
    const found = best as { text: string; citation: Citation } | null;
    // The reader points at the definition; a "where" question is answered with that place.
    const where = found && /^\s*where\b/i.test(input.question) ? `${found.citation.path}:${found.citation.startLine}` : null;
    return {
      answer: found ? (where ?? found.text) : 'not found',
      citations: found ? [found.citation] : [],
      blocksUsed: used,
      blockTokens,
      promptTokens: blockTokens,
      outputTokens: 0,
    };
  }

  close(): Promise<void> {
    return this.reader.release();
  }

  /** Oldest facts go first; answers are kept as long as anything is. */
  private bound(facts: string[]): string {
    const out = [...facts];
    let text = out.join('\n');
    while (out.length > 1 && this.count(text) > this.memoryTokens) {
      const drop = out.findIndex((l) => !l.startsWith(ANSWER));
      out.splice(drop >= 0 ? drop : 0, 1);
      text = out.join('\n');
    }
    return this.count(text) > this.memoryTokens ? this.tok.truncate(text, this.memoryTokens) : text;
  }
}

/** The reader's input form: plain source lines from the block's first line. */
function plain(b: BlockView): { path: string; startLine: number; text: string } {
  return { path: b.path, startLine: b.startLine, text: b.raw ?? b.text.replace(/^\d+\| ?/gm, '') };
}
