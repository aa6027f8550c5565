// The ONNX decoder backend: any Hugging Face ONNX decoder folder (the shipped
// reasoner, a downloaded Qwen2.5-Coder export, the test fixture) through DecoderModel.
// Prompts are rendered with the model's own chat template when it has one, else in
// the plain format (prompts.ts, plainPrompt).
import type { ChatTemplate } from '../models/chat-template.js';
import { DecoderModel, type ChatMessage, type DecoderLoadOptions } from '../models/index.js';
import type { Completer, Completion } from './generative.js';
import { plainPrompt, promptMessages, type Prompt, type PromptSlots } from './prompts.js';

const EMPTY: PromptSlots = { question: '', memory: '', code: '' };

export interface DecoderBackendOptions extends DecoderLoadOptions {
  /** Told once when the model's chat template cannot be used (default: a line on stderr). */
  onWarning?: (message: string) => void;
  /** Sees every prompt exactly as it is fed to the model. */
  onPrompt?: (prompt: RenderedPrompt) => void;
}

/** A prompt as the model gets it. */
export interface RenderedPrompt {
  text: string;
  /** The token ids fed to the model (special tokens in the text are single ids; nothing added twice). */
  ids: number[];
  /** Rendered with the model's chat template (else the plain format). */
  templated: boolean;
}

export class DecoderBackend implements Completer {
  private template: ChatTemplate | null;

  private constructor(
    private readonly model: DecoderModel,
    readonly id: string,
    private readonly opts: DecoderBackendOptions,
  ) {
    this.template = model.chat.template;
    if (model.chat.problem) this.warn(`${model.chat.problem} (${model.chat.file ?? model.info.dir})`);
  }

  static async load(dir: string, opts: DecoderBackendOptions = {}): Promise<DecoderBackend> {
    const { onWarning: _w, onPrompt: _p, ...load } = opts;
    const model = await DecoderModel.load(dir, load);
    const name = dir.split(/[\\/]/).filter(Boolean).pop() ?? dir;
    return new DecoderBackend(model, `onnx:${name}`, opts);
  }

  get contextTokens(): number {
    return this.model.info.contextLength;
  }

  count(text: string): number {
    return text ? this.model.tokenizer.count(text) : 0;
  }

  truncate(text: string, maxTokens: number): string {
    return this.model.tokenizer.truncate(text, maxTokens);
  }

  frameTokens(prompt: Prompt): number {
    return this.render(prompt, EMPTY).ids.length;
  }

  /** The prompt for `prompt` filled with `slots`, as `complete` feeds it to the model. */
  render(prompt: Prompt, slots: PromptSlots): RenderedPrompt {
    const tok = this.model.tokenizer;
    const messages = promptMessages(prompt, slots, true);
    const chat = this.applyTemplate(messages);
    if (chat !== null) {
      // The reply is started in the assistant turn; the template already holds any BOS.
      const text = chat + prompt.replyPrefix.trimStart();
      return { text, ids: tok.encode(text, false), templated: true };
    }
    const text = plainPrompt(messages, prompt.replyPrefix);
    return { text, ids: tok.encode(text, true), templated: false };
  }

  async complete(prompt: Prompt, slots: PromptSlots, maxNewTokens: number, signal?: AbortSignal, onText?: (t: string) => void): Promise<Completion> {
    const rendered = this.render(prompt, slots);
    this.opts.onPrompt?.(rendered);
    // An end of turn that is not one special token (then it is no eos id) still ends the reply.
    const chat = this.model.chat;
    const stop = rendered.templated && chat.endOfTurn && !chat.endOfTurnIds.length ? [chat.endOfTurn] : undefined;
    const r = await this.model.generate(
      rendered.ids,
      { maxNewTokens, signal, temperature: 0, ...(stop ? { stop } : {}) },
      onText ? (c) => c.text && onText(c.text) : undefined,
    );
    return { text: r.text, promptTokens: r.promptTokens, outputTokens: r.tokenIds.length };
  }

  close(): Promise<void> {
    return this.model.release();
  }

  /**
   * The chat template applied to `messages`, or null (no template, or it failed: then
   * warned once and not tried again, so every prompt of this backend has one format).
   * Templates without a system role get the instructions at the top of the user message.
   */
  private applyTemplate(messages: ChatMessage[]): string | null {
    const template = this.template;
    if (!template) return null;
    const [system, user] = messages;
    const merged: ChatMessage[] = system && user ? [{ role: 'user', content: `${system.content}\n\n${user.content}` }] : messages;
    let error: unknown;
    for (const form of [messages, merged]) {
      try {
        const text = template.render(form, true);
        if (text.trim()) return text;
        error = new Error('it rendered an empty prompt');
      } catch (err) {
        error = err;
      }
    }
    this.template = null;
    this.warn(`the chat template in ${template.file} fails: ${error instanceof Error ? error.message : String(error)}`);
    return null;
  }

  private warn(problem: string): void {
    const message = `${problem}; the reasoner ${this.id} uses the plain prompt format instead`;
    if (this.opts.onWarning) this.opts.onWarning(message);
    else process.stderr.write(`engram: warning: ${message}\n`);
  }
}
