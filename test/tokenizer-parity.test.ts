import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ModelTokenizer } from '../src/core/models/index.js';

interface Parity {
  tokenizer: string;
  vocabSize: number;
  specialTokens: Record<string, number>;
  cases: Array<{ text: string; ids: number[] }>;
}

const ROOT = resolve(__dirname, '..');

test('the engine tokenizes exactly like the Python training side (shipped BPE tokenizer)', () => {
  const parity = JSON.parse(readFileSync(resolve(__dirname, 'fixtures', 'tokenizer-parity.json'), 'utf8')) as Parity;
  const tok = ModelTokenizer.load(dirname(resolve(ROOT, parity.tokenizer)));
  assert.ok(parity.cases.length >= 3);
  for (const c of parity.cases) {
    assert.deepEqual(tok.encode(c.text, false), c.ids, JSON.stringify(c.text.slice(0, 60)));
    assert.equal(tok.decode(c.ids, false), c.text, 'lossless round trip');
  }
  for (const [token, id] of Object.entries(parity.specialTokens)) assert.equal(tok.tokenId(token), id, token);
});
