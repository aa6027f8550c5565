// The OpenAI-compatible backend (Ollama, llama.cpp server, vLLM, LM Studio). The
// server's tokenizer is not visible from here, so budgets use the engine's token
// estimate with a safety margin.
import { countTokens } from '../tokens.js';
import { OpenAIChatBackend, type OpenAIBackendOptions } from '../models/index.js';
import type { Completer, Completion } from './generative.js';
import { promptMessages, type Prompt, type PromptSlots } from './prompts.js';

const EMPTY: PromptSlots = { question: '', memory: '', code: '' };
/** BPE tokenizers split code finer than the estimate; leave headroom. */
const MARGIN = 1.3;

export interface ChatBackendOptions extends OpenAIBackendOptions {
  /** The server model's window (default 8192). */
  contextTokens?: number;
  seed?: number;
}

export class ChatBackend implements Completer {
  readonly id: string;
  readonly contextTokens: number;
  private readonly client: OpenAIChatBackend;
  private readonly seed: number | undefined;

  constructor(opts: ChatBackendOptions) {
    this.client = new OpenAIChatBackend(opts);
    this.id = `openai:${this.client.model}`;
    this.contextTokens = opts.contextTokens ?? 8192;
    this.seed = opts.seed;
  }

  count(text: string): number {
    return Math.ceil(countTokens(text) * MARGIN);
  }

  truncate(text: string, maxTokens: number): string {
    if (this.count(text) <= maxTokens) return text;
    // Binary search on characters: the estimate has no token boundaries to cut at.
    let lo = 0;
    let hi = text.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (this.count(text.slice(0, mid)) <= maxTokens) lo = mid;
      else hi = mid - 1;
    }
    return text.slice(0, lo);
  }

  frameTokens(prompt: Prompt): number {
    return promptMessages(prompt, EMPTY, false).reduce((n, m) => n + this.count(m.content) + 4, 0);
  }

  async complete(prompt: Prompt, slots: PromptSlots, maxNewTokens: number, signal?: AbortSignal, onText?: (t: string) => void): Promise<Completion> {
    // The server applies its own chat template to the messages.
    const messages = promptMessages(prompt, slots, false);
    const r = await this.client.chat(messages, { maxTokens: maxNewTokens, temperature: 0, seed: this.seed, signal }, onText);
    return {
      text: r.text,
      promptTokens: r.usage?.promptTokens ?? messages.reduce((n, m) => n + this.count(m.content), 0),
      outputTokens: r.usage?.completionTokens ?? this.count(r.text),
    };
  }

  async close(): Promise<void> {}
}
