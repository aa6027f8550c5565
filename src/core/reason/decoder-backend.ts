// The ONNX decoder backend: any Hugging Face ONNX decoder folder (the shipped
// reasoner, a downloaded Qwen2.5-Coder export, the test fixture) through DecoderModel.
import { DecoderModel, type DecoderLoadOptions } from '../models/index.js';
import type { Completer, Completion } from './generative.js';
import { renderDecoder, type Prompt, type PromptSlots } from './prompts.js';

const EMPTY: PromptSlots = { question: '', memory: '', code: '' };

export class DecoderBackend implements Completer {
  private constructor(
    private readonly model: DecoderModel,
    readonly id: string,
  ) {}

  static async load(dir: string, opts: DecoderLoadOptions = {}): Promise<DecoderBackend> {
    const model = await DecoderModel.load(dir, opts);
    const name = dir.split(/[\\/]/).filter(Boolean).pop() ?? dir;
    return new DecoderBackend(model, `onnx:${name}`);
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
    return this.model.tokenizer.encode(renderDecoder(prompt, EMPTY)).length;
  }

  async complete(prompt: Prompt, slots: PromptSlots, maxNewTokens: number, signal?: AbortSignal, onText?: (t: string) => void): Promise<Completion> {
    const r = await this.model.generate(
      renderDecoder(prompt, slots),
      { maxNewTokens, signal, temperature: 0 },
      onText ? (c) => c.text && onText(c.text) : undefined,
    );
    return { text: r.text, promptTokens: r.promptTokens, outputTokens: r.tokenIds.length };
  }

  close(): Promise<void> {
    return this.model.release();
  }
}
