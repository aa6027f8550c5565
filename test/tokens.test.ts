import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countTokens, splitTokens } from '../src/core/tokens.js';
import { sha256Hex, stableId } from '../src/core/hash.js';

test('countTokens counts words, numbers and punctuation', () => {
  assert.equal(countTokens('const x = 42;'), 5);
  assert.deepEqual(splitTokens('foo_bar(1, "é")'), ['foo_bar', '(', '1', ',', '"', 'é', '"', ')']);
  assert.equal(countTokens(''), 0);
});

test('hashes are stable and ids differ by part boundaries', () => {
  assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.notEqual(stableId('a', 'bc'), stableId('ab', 'c'));
  assert.equal(stableId('x', 1).length, 24);
});
