// A reasoner that writes text (ONNX decoder or chat server): fits each prompt into the
// model's window, parses the reply. Backends only say how to count and how to complete.
import { UserError } from '../types.js';
import { parseAnswer, parseMemoryUpdate } from './parse.js';
import { ANSWER_PROMPT, ANSWER_PROMPT_COMPACT, codeHeader, READ_PROMPT, READ_PROMPT_COMPACT, type Prompt, type PromptSlots } from './prompts.js';
import type { AnswerInput, AnswerOutput, BlockView, ReadInput, ReadOutput, Reasoner } from './reasoner.js';

export interface Completion {
  text: string;
  promptTokens: number;
  outputTokens: number;
}

/** What a text backend provides. */
export interface Completer {
  readonly id: string;
  readonly contextTokens: number;
  count(text: string): number;
  /** The longest prefix of `text` within `maxTokens`. */
  truncate(text: string, maxTokens: number): string;
  /** Tokens the frame of `prompt` costs beyond its slots (template, chat wrapping). */
  frameTokens(prompt: Prompt): number;
  complete(prompt: Prompt, slots: PromptSlots, maxNewTokens: number, signal?: AbortSignal, onText?: (t: string) => void): Promise<Completion>;
  close(): Promise<void>;
}

export interface GenerativeOptions {
  /** Working-memory bound (default 1024, at most a quarter of the window). */
  memoryTokens?: number;
  /** Answer length (default 64 tokens). */
  answerTokens?: number;
}

export class GenerativeReasoner implements Reasoner {
  readonly memoryTokens: number;
  private readonly answerTokens: number;
  private readonly readPrompt: Prompt;
  private readonly answerPrompt: Prompt;

  constructor(
    private readonly backend: Completer,
    opts: GenerativeOptions = {},
  ) {
    const window = backend.contextTokens;
    this.memoryTokens = Math.max(16, Math.min(opts.memoryTokens ?? 1024, Math.floor(window / 4)));
    this.answerTokens = Math.max(8, Math.min(opts.answerTokens ?? 64, Math.floor(window / 8)));
    const small = backend.frameTokens(READ_PROMPT) > window / 4 || backend.frameTokens(ANSWER_PROMPT) > window / 4;
    this.readPrompt = small ? READ_PROMPT_COMPACT : READ_PROMPT;
    this.answerPrompt = small ? ANSWER_PROMPT_COMPACT : ANSWER_PROMPT;
  }

  get id(): string {
    return this.backend.id;
  }

  get contextTokens(): number {
    return this.backend.contextTokens;
  }

  count(text: string): number {
    return this.backend.count(text);
  }

  async read(input: ReadInput): Promise<ReadOutput> {
    const b = this.backend;
    const question = this.fitQuestion(input.question);
    const memory = b.truncate(input.memory, this.memoryTokens);
    const room = this.room(this.readPrompt, this.memoryTokens) - b.count(question) - b.count(memory);
    const code = this.fitBlock(input.block, room);
    const done = await b.complete(this.readPrompt, { question, memory, code }, this.memoryTokens, input.signal, input.onText);
    const parsed = parseMemoryUpdate(done.text);
    return {
      memory: b.truncate(parsed.memory, this.memoryTokens),
      hasAnswer: parsed.hasAnswer,
      blockTokens: b.count(code),
      promptTokens: done.promptTokens,
      outputTokens: done.outputTokens,
    };
  }

  async answer(input: AnswerInput): Promise<AnswerOutput> {
    const b = this.backend;
    const question = this.fitQuestion(input.question);
    const memory = b.truncate(input.memory, this.memoryTokens);
    let room = this.room(this.answerPrompt, this.answerTokens) - b.count(question) - b.count(memory);
    const parts: string[] = [];
    let used = 0;
    for (const block of input.blocks) {
      const text = codeHeader(block.path, block.startLine, block.endLine) + block.text + '\n';
      const n = b.count(text);
      if (n > room) {
        // The block that does not fit is cut at the window's edge, as a long context would be.
        const cut = b.truncate(text, room);
        if (b.count(cut) >= 16) {
          parts.push(cut);
          used++;
        }
        break;
      }
      parts.push(text);
      room -= n;
      used++;
    }
    const code = parts.join('');
    const done = await b.complete(this.answerPrompt, { question, memory, code }, this.answerTokens, input.signal, input.onText);
    const parsed = parseAnswer(done.text);
    return { ...parsed, blocksUsed: used, blockTokens: b.count(code), promptTokens: done.promptTokens, outputTokens: done.outputTokens };
  }

  close(): Promise<void> {
    return this.backend.close();
  }

  /** Tokens left for the slots once the frame and the reply are set aside. */
  private room(prompt: Prompt, reply: number): number {
    const room = this.backend.contextTokens - this.backend.frameTokens(prompt) - reply - 8;
    if (room < 16) throw new UserError(`the reasoner's window (${this.backend.contextTokens} tokens) is too small for a prompt`);
    return room;
  }

  /** A question keeps at most an eighth of the window (the rest is for code and memory). */
  private fitQuestion(question: string): string {
    return this.backend.truncate(question, Math.max(8, Math.floor(this.backend.contextTokens / 8)));
  }

  private fitBlock(block: BlockView, room: number): string {
    const head = codeHeader(block.path, block.startLine, block.endLine);
    return head + this.backend.truncate(block.text, Math.max(0, room - this.backend.count(head)));
  }
}
