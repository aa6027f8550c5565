// A model's own tokenizer (tokenizer.json + tokenizer_config.json), loaded from
// local files only through @huggingface/tokenizers: nothing reaches a hub.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Tokenizer } from '@huggingface/tokenizers' with { 'resolution-mode': 'import' };

// The package ships a CommonJS build for Node but only ESM-typed declarations.
const { Tokenizer: TokenizerImpl } = require('@huggingface/tokenizers') as {
  Tokenizer: new (json: object, config: object) => Tokenizer;
};
import { UserError } from '../types.js';

export class ModelTokenizer {
  private constructor(
    private readonly tok: Tokenizer,
    /** Special-token ids that end a generation (from the tokenizer config). */
    readonly eosIds: number[],
  ) {}

  static load(dir: string): ModelTokenizer {
    const file = join(dir, 'tokenizer.json');
    if (!existsSync(file)) throw new UserError(`no tokenizer.json in ${dir}`);
    const json = readJson(file);
    const cfgFile = join(dir, 'tokenizer_config.json');
    const cfg = existsSync(cfgFile) ? readJson(cfgFile) : {};
    let tok: Tokenizer;
    try {
      tok = new TokenizerImpl(json, cfg);
    } catch (err) {
      throw new UserError(`cannot read tokenizer ${file}: ${(err as Error).message}`);
    }
    const eos: number[] = [];
    const eosTok = tokenString(cfg.eos_token);
    if (eosTok !== undefined) {
      const id = tok.token_to_id(eosTok);
      if (id !== undefined) eos.push(id);
    }
    return new ModelTokenizer(tok, eos);
  }

  encode(text: string, addSpecialTokens = true): number[] {
    return this.tok.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  decode(ids: number[], skipSpecialTokens = true): string {
    if (!ids.length) return '';
    return this.tok.decode(ids, { skip_special_tokens: skipSpecialTokens });
  }

  /** Tokens `text` takes for this model (no special tokens), for budgets. */
  count(text: string): number {
    return this.encode(text, false).length;
  }

  /** The longest prefix of `text` that fits in `maxTokens` tokens. */
  truncate(text: string, maxTokens: number): string {
    const ids = this.encode(text, false);
    if (ids.length <= maxTokens) return text;
    return this.decode(ids.slice(0, Math.max(0, maxTokens)), false);
  }

  tokenId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  /** The id of `text` when it is one whole token (e.g. `<|im_end|>`), else undefined. */
  singleTokenId(text: string): number | undefined {
    const id = this.tok.token_to_id(text);
    if (id === undefined) return undefined;
    const ids = this.encode(text, false);
    return ids.length === 1 && ids[0] === id ? id : undefined;
  }
}

// tokenizer_config's special tokens are strings or {content: string} objects.
export function tokenString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') {
    return (v as { content: string }).content;
  }
  return undefined;
}

export function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    const v: unknown = JSON.parse(text);
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new UserError(`invalid JSON in ${file}: ${(err as Error).message}`);
  }
}
