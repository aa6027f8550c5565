// Model inputs made of whole source lines, shared by our encoders (the extractive reader,
// the learned compressor) and mirrored by training/engram_training/reader.py
// (ReaderEncoder.line / windows). Each line is tokenized on its own and followed by the
// newline token; every token belongs to one line and covers known bytes of it
// (byte-level BPE), so model outputs map back to exact source text.
import { join } from 'node:path';
import { UserError } from '../types.js';
import { readJson, type ModelTokenizer } from './tokenizer.js';

/** One line's token ids (at most line_max_tokens) and the bytes each stands for. */
export interface LineTokens {
  ids: number[];
  lens: number[];
}

/** One model input: a run of whole lines after a prefix, with per-token line and byte range. */
export interface LineWindow {
  ids: number[];
  /** Line of each token, relative to `first`; -1 for prefix tokens. */
  lineOf: Int32Array;
  /** Byte range [b0, b1) of each token in its line (the newline token is empty). */
  b0: Int32Array;
  b1: Int32Array;
  /** 1 for tokens of line text, 0 for prefix and newline tokens. */
  spanable: Uint8Array;
  /** Index in the input's lines of this window's first line. */
  first: number;
  count: number;
}

export function lineTokens(tok: ModelTokenizer, tokBytes: Int32Array, text: string, lineMax: number): LineTokens {
  const ids = text ? tok.encode(text, false).slice(0, lineMax) : [];
  return { ids, lens: ids.map((id) => tokBytes[id] ?? 0) };
}

/** Consecutive windows of whole lines that fit maxLen with the prefix (as reader.py). */
export function lineWindows(prefix: readonly number[], toks: readonly LineTokens[], maxLen: number, newline: number): LineWindow[] {
  const budget = maxLen - prefix.length;
  const out: LineWindow[] = [];
  let first = 0;
  let used = 0;
  for (let k = 0; k < toks.length; k++) {
    const n = toks[k]!.ids.length + 1;
    if (k > first && used + n > budget) {
      out.push(lineWindow(prefix, toks, first, k, maxLen, newline));
      first = k;
      used = 0;
    }
    used += n;
  }
  if (first < toks.length || !out.length) out.push(lineWindow(prefix, toks, first, toks.length, maxLen, newline));
  return out;
}

function lineWindow(prefix: readonly number[], toks: readonly LineTokens[], first: number, end: number, maxLen: number, newline: number): LineWindow {
  const ids = [...prefix];
  const lineOf: number[] = prefix.map(() => -1);
  const b0: number[] = prefix.map(() => 0);
  const b1: number[] = prefix.map(() => 0);
  const sp: number[] = prefix.map(() => 0);
  for (let k = first; k < end; k++) {
    const t = toks[k]!;
    let off = 0;
    t.ids.forEach((id, j) => {
      ids.push(id);
      lineOf.push(k - first);
      b0.push(off);
      off += t.lens[j]!;
      b1.push(off);
      sp.push(1);
    });
    ids.push(newline);
    lineOf.push(k - first);
    b0.push(off);
    b1.push(off);
    sp.push(0);
  }
  const n = Math.min(ids.length, maxLen);
  return {
    ids: ids.slice(0, n),
    lineOf: Int32Array.from(lineOf.slice(0, n)),
    b0: Int32Array.from(b0.slice(0, n)),
    b1: Int32Array.from(b1.slice(0, n)),
    spanable: Uint8Array.from(sp.slice(0, n)),
    first,
    count: end - first,
  };
}

/** Bytes each token id stands for, from the byte-level vocabulary of tokenizer.json. */
export function tokenByteLengths(dir: string): Int32Array {
  const file = join(dir, 'tokenizer.json');
  const json = readJson(file);
  const model = json.model as { vocab?: Record<string, number> } | undefined;
  if (!model?.vocab || typeof model.vocab !== 'object') throw new UserError(`${file}: no model.vocab (expected a byte-level BPE tokenizer)`);
  const bytes = byteLevelChars();
  let max = 0;
  for (const id of Object.values(model.vocab)) max = Math.max(max, id);
  const out = new Int32Array(max + 1);
  for (const [tokStr, id] of Object.entries(model.vocab)) {
    let n = 0;
    for (const ch of tokStr) if (bytes.has(ch)) n++;
    out[id] = n;
  }
  return out;
}

/** The 256 characters GPT-2's byte-level alphabet uses for bytes (bytes_to_unicode). */
function byteLevelChars(): Set<string> {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  return new Set(cs.map((c) => String.fromCodePoint(c)));
}
