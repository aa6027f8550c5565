// A model's own chat template (the Hugging Face `chat_template`, Jinja), rendered with
// @huggingface/jinja the way transformers does: the messages, add_generation_prompt
// and the tokenizer's special tokens. Instruction-tuned models only follow prompts in
// the format they were trained on.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Template } from '@huggingface/jinja' with { 'resolution-mode': 'import' };
import type { ChatMessage } from './openai.js';
import { readJson, tokenString } from './tokenizer.js';

// The package ships a CommonJS build for Node but only ESM-typed declarations.
const { Template: TemplateImpl } = require('@huggingface/jinja') as { Template: new (source: string) => Template };

/** Where a template was found and why it cannot be used, if so. */
export interface ChatTemplateLoad {
  template: ChatTemplate | null;
  /** The file the template text came from (also when it is broken). */
  file?: string;
  /** Why a template that is there cannot be used (then `template` is null). */
  problem?: string;
}

const SPECIAL_TOKENS = ['bos_token', 'eos_token', 'unk_token', 'pad_token'] as const;
// Probe texts to find what the template writes after an assistant turn.
const PROBE_USER = 'ENGRAM-PROBE-USER';
const PROBE_REPLY = 'ENGRAM-PROBE-REPLY';

export class ChatTemplate {
  private constructor(
    private readonly template: Template,
    /** The file the template came from. */
    readonly file: string,
    private readonly specials: Record<string, string>,
  ) {}

  /**
   * The chat template of a model folder: chat_template.jinja, else chat_template.json,
   * else tokenizer_config.json's `chat_template` (a string, or a list of named templates:
   * "default" is used). No template is not a problem; one that does not parse is.
   */
  static load(dir: string): ChatTemplateLoad {
    const cfgFile = join(dir, 'tokenizer_config.json');
    let cfg: Record<string, unknown> = {};
    let found: { file: string; source: unknown } | null = null;
    try {
      if (existsSync(cfgFile)) cfg = readJson(cfgFile);
      const jinja = join(dir, 'chat_template.jinja');
      const json = join(dir, 'chat_template.json');
      if (existsSync(jinja)) found = { file: jinja, source: readFileSync(jinja, 'utf8') };
      else if (existsSync(json)) found = { file: json, source: readJson(json).chat_template };
      else if (cfg.chat_template !== undefined && cfg.chat_template !== null) found = { file: cfgFile, source: cfg.chat_template };
    } catch (err) {
      return { template: null, problem: (err as Error).message };
    }
    if (!found) return { template: null };
    const source = pickSource(found.source);
    if (typeof source !== 'string') return { template: null, file: found.file, problem: source.problem };
    const specials: Record<string, string> = {};
    for (const k of SPECIAL_TOKENS) {
      const v = tokenString(cfg[k]);
      if (v !== undefined) specials[k] = v;
    }
    try {
      return { template: new ChatTemplate(new TemplateImpl(source), found.file, specials), file: found.file };
    } catch (err) {
      return { template: null, file: found.file, problem: `the chat template does not parse: ${(err as Error).message}` };
    }
  }

  /**
   * The prompt text for `messages`. Throws when the template fails (it may call
   * raise_exception, e.g. for a role it does not support).
   */
  render(messages: ChatMessage[], addGenerationPrompt = true): string {
    return this.template.render({
      messages,
      add_generation_prompt: addGenerationPrompt,
      ...this.specials,
      // Variables common templates read: no tools or documents, no thinking block (Qwen3).
      tools: undefined,
      documents: undefined,
      enable_thinking: false,
    });
  }

  /**
   * The text the template writes right after an assistant reply (e.g. `<|im_end|>`,
   * `<|eot_id|>`, `<end_of_turn>`), found by rendering a short conversation; '' when
   * it writes nothing or fails.
   */
  endOfTurn(): string {
    let text: string;
    try {
      text = this.render(
        [
          { role: 'user', content: PROBE_USER },
          { role: 'assistant', content: PROBE_REPLY },
        ],
        false,
      );
    } catch {
      return '';
    }
    const at = text.lastIndexOf(PROBE_REPLY);
    if (at < 0) return '';
    return text.slice(at + PROBE_REPLY.length).trim().split('\n')[0]!.trim();
  }
}

function pickSource(v: unknown): string | { problem: string } {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const named = v.find((t: unknown) => !!t && typeof t === 'object' && (t as { name?: unknown }).name === 'default') as
      | { template?: unknown }
      | undefined;
    if (named && typeof named.template === 'string') return named.template;
    return { problem: 'the chat template list has no template named "default"' };
  }
  return { problem: 'chat_template is neither a string nor a list of named templates' };
}
