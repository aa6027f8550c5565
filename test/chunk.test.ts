import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Chunker } from '../src/core/chunk/index.js';
import { countTokens } from '../src/core/tokens.js';
import { UserError, type Chunk } from '../src/core/types.js';

const FIXTURES = join(__dirname, 'fixtures', 'chunk');
const chunkerP = Chunker.create();

/** Every non-blank line is in exactly one chunk, and each chunk's text ends with its exact lines. */
function assertCoverage(text: string, chunks: Chunk[], budget: number): void {
  const lines = text.split(/\r\n|\r|\n/);
  const owner = new Array<number>(lines.length).fill(-1);
  chunks.forEach((c, i) => {
    assert.ok(c.startLine >= 1 && c.endLine >= c.startLine && c.endLine <= lines.length, `range ${c.startLine}-${c.endLine}`);
    const source = lines.slice(c.startLine - 1, c.endLine).join('\n');
    const isLinePart = c.startLine === c.endLine && !c.text.endsWith(source);
    if (isLinePart) {
      assert.ok(source.includes(c.text.split('\n').pop() ?? ''), 'a part of a long line comes from that line');
      owner[c.startLine - 1] = i;
      return;
    }
    assert.ok(c.text.endsWith(source), `chunk ${c.startLine}-${c.endLine} ends with its source lines`);
    assert.equal(c.tokens, countTokens(c.text));
    assert.ok(c.tokens <= budget + 8, `chunk ${c.startLine}-${c.endLine} has ${c.tokens} tokens, budget ${budget}`);
    for (let l = c.startLine - 1; l < c.endLine; l++) {
      assert.equal(owner[l], -1, `line ${l + 1} is in two chunks`);
      owner[l] = i;
    }
  });
  lines.forEach((line, l) => {
    if (line.trim() !== '') assert.notEqual(owner[l], -1, `line ${l + 1} is in no chunk: ${line}`);
  });
}

function chunkWith(chunks: Chunk[], needle: string): Chunk {
  const c = chunks.find((ch) => ch.text.split('\n').some((l) => l.includes(needle)));
  assert.ok(c, `a chunk holds "${needle}"`);
  return c;
}

/** The chunk that owns the source line containing `needle` (not the signature prefix). */
function ownerOf(text: string, chunks: Chunk[], needle: string): Chunk {
  const line = text.split('\n').findIndex((l) => l.includes(needle)) + 1;
  assert.ok(line > 0, `fixture has "${needle}"`);
  const c = chunks.find((ch) => ch.startLine <= line && line <= ch.endLine);
  assert.ok(c, `line ${line} ("${needle}") is in a chunk`);
  return c;
}

interface Case {
  file: string;
  lang: string;
  symbols: string[];
  /** The budget that keeps `add` and the Greeter apart in this fixture. */
  budget: number;
  addBody: string;
  classLine: string;
}

const CASES: Case[] = [
  { file: 'sample.ts', lang: 'typescript', symbols: ['add', 'MAX_GREETINGS', 'Greeter', 'Greeter.greet', 'Greeting'], budget: 48, addBody: 'return a + b', classLine: 'export class Greeter' },
  { file: 'sample.tsx', lang: 'tsx', symbols: ['add', 'MAX_GREETINGS', 'Greeter', 'Greeter.greet', 'Greeter.render'], budget: 48, addBody: 'return a + b', classLine: 'export class Greeter' },
  { file: 'sample.js', lang: 'javascript', symbols: ['add', 'MAX_GREETINGS', 'Greeter', 'Greeter.greet'], budget: 48, addBody: 'return a + b', classLine: 'class Greeter' },
  { file: 'sample.py', lang: 'python', symbols: ['add', 'MAX_GREETINGS', 'Greeter', 'Greeter.greet'], budget: 48, addBody: 'return a + b', classLine: 'class Greeter' },
  { file: 'sample.go', lang: 'go', symbols: ['add', 'MAX_GREETINGS', 'Greeter', 'Greeter.greet'], budget: 48, addBody: 'return a + b', classLine: 'type Greeter struct' },
  { file: 'sample.rs', lang: 'rust', symbols: ['add', 'MAX_GREETINGS', 'Greeter', 'Greeter.greet'], budget: 48, addBody: 'return a + b', classLine: 'pub struct Greeter' },
  { file: 'Sample.java', lang: 'java', symbols: ['Greeter', 'Greeter.add', 'Greeter.greet', 'Greeter.MAX_GREETINGS'], budget: 48, addBody: 'return a + b', classLine: 'public class Greeter' },
  { file: 'sample.c', lang: 'c', symbols: ['add', 'MAX_GREETINGS', 'Greeter', 'greet'], budget: 48, addBody: 'return a + b', classLine: 'struct Greeter {' },
  { file: 'sample.cpp', lang: 'cpp', symbols: ['sample', 'add', 'MAX_GREETINGS', 'Greeter', 'Greeter.greet'], budget: 48, addBody: 'return a + b', classLine: 'class Greeter' },
  { file: 'sample.cs', lang: 'csharp', symbols: ['Sample', 'Greeter', 'Greeter.add', 'Greeter.greet', 'Greeter.MAX_GREETINGS'], budget: 48, addBody: 'return a + b', classLine: 'public class Greeter' },
  { file: 'sample.rb', lang: 'ruby', symbols: ['add', 'MAX_GREETINGS', 'Greeter', 'Greeter.greet'], budget: 48, addBody: 'return a + b', classLine: 'class Greeter' },
  { file: 'sample.php', lang: 'php', symbols: ['Sample', 'add', 'MAX_GREETINGS', 'Greeter', 'Greeter.greet'], budget: 48, addBody: 'return $a + $b', classLine: 'class Greeter' },
];

for (const c of CASES) {
  test(`${c.lang}: chunks at definitions, doc comments stay, symbols found`, async () => {
    const chunker = await chunkerP;
    const text = await readFile(join(FIXTURES, c.file), 'utf8');
    assert.equal(chunker.languageOf(c.file), c.lang);
    const chunks = await chunker.chunk(c.file, text, { maxTokens: c.budget });
    assertCoverage(text, chunks, c.budget);
    assert.ok(chunks.every((ch) => ch.lang === c.lang && ch.path === c.file));
    const all = new Set(chunks.flatMap((ch) => ch.symbols));
    for (const s of c.symbols) assert.ok(all.has(s), `symbol ${s} in [${[...all].join(', ')}]`);
    // `add` is one piece with its doc comment, the Greeter's doc stays with it, and they are apart.
    const add = ownerOf(text, chunks, c.addBody);
    assert.equal(ownerOf(text, chunks, 'Adds two numbers'), add);
    assert.ok(add.symbols.some((s) => s === 'add' || s.endsWith('.add')));
    const greeter = ownerOf(text, chunks, c.classLine);
    assert.equal(ownerOf(text, chunks, 'Greets people'), greeter);
    assert.ok(greeter.symbols.includes('Greeter'));
    assert.notEqual(add, ownerOf(text, chunks, 'Hello, '));
    // With a roomy budget the whole small file is one chunk.
    const whole = await chunker.chunk(c.file, text);
    assert.equal(whole.length, 1);
    assertCoverage(text, whole, 512);
  });
}

test('a large function is cut into windows that carry its signature', async () => {
  const chunker = await chunkerP;
  const body = Array.from({ length: 120 }, (_, i) => `  total += compute(${i}, input.values[${i}]);`).join('\n');
  const text = `import { compute } from './compute';\n\n/** Sums everything. */\nexport function bigSum(input: { values: number[] }): number {\n  let total = 0;\n${body}\n  return total;\n}\n`;
  const budget = 128;
  const chunks = await chunker.chunk('big.ts', text, { maxTokens: budget });
  assertCoverage(text, chunks, budget);
  assert.ok(chunks.length > 5);
  const [first, ...rest] = chunks.filter((c) => c.symbols.includes('bigSum'));
  assert.ok(first && first.text.includes('/** Sums everything. */'), 'the first piece starts with the doc comment');
  assert.equal(rest.length, chunks.length - 2, 'every piece but the imports names the function');
  for (const c of rest) {
    const [sig, marker] = c.text.split('\n');
    assert.equal(sig, 'export function bigSum(input: { values: number[] }): number {');
    assert.equal(marker, '  // …');
    assert.ok(c.startLine > 4);
  }
});

test("a cut function's head stays with its docstring when the two fit the budget together", async () => {
  const chunker = await chunkerP;
  const params = Array.from({ length: 8 }, (_, i) => `         option_${i}=None,`).join('\n');
  const doc = Array.from({ length: 18 }, (_, i) => `    Line ${i} of what serialize_all does with its options.`).join('\n');
  const body = Array.from({ length: 60 }, (_, i) => `    out.append(convert(obj, ${i}))`).join('\n');
  const text = `def serialize_all(obj,\n${params}\n         **kw):\n    """Serialize obj as a stream.\n\n${doc}\n    """\n    out = []\n${body}\n    return out\n`;
  const budget = 256;
  const chunks = await chunker.chunk('lib/ser.py', text, { maxTokens: budget });
  assertCoverage(text, chunks, budget);
  const head = ownerOf(text, chunks, 'def serialize_all(');
  assert.equal(head, ownerOf(text, chunks, 'Serialize obj as a stream.'), 'the head and its docstring are one chunk');
  assert.ok(chunks.length > 2, 'the body still goes on in other chunks');
});

test("a cut function's head opens the first piece of a docstring too long to sit beside it", async () => {
  const chunker = await chunkerP;
  const params = Array.from({ length: 8 }, (_, i) => `         option_${i}=None,`).join('\n');
  const doc = Array.from({ length: 60 }, (_, i) => `    Line ${i} of what dump does with its options and the stream.`).join('\n');
  const text = `def dump(obj, fp,\n${params}\n         **kw):\n    """Serialize obj as a JSON formatted stream to fp.\n\n${doc}\n    """\n    fp.write(encode(obj))\n`;
  const budget = 256;
  const chunks = await chunker.chunk('lib/ser.py', text, { maxTokens: budget });
  assertCoverage(text, chunks, budget);
  assert.equal(ownerOf(text, chunks, 'def dump('), ownerOf(text, chunks, 'Serialize obj as a JSON'));
});

test('a doc comment stays with the statement below it when a function body is cut', async () => {
  const chunker = await chunkerP;
  const budget = 96;
  // Statements before the comment fill a piece to just under the budget, wherever the comment starts.
  for (let filler = 4; filler <= 12; filler++) {
    const before = Array.from({ length: filler }, (_, i) => `  const v${i} = input.values[${i}] * ${i};`).join('\n');
    const text = [
      'export function windowTime(input: Input) {',
      before,
      '  /**',
      '   * Used to notify all of the windows and the subscriber',
      '   * in the same way in the error and complete handlers.',
      '   */',
      '  const terminate = (cb: (c: Consumer) => void) => {',
      '    cb(input.subscriber);',
      '  };',
      '  return terminate;',
      '}',
    ].join('\n');
    const chunks = await chunker.chunk('w.ts', text, { maxTokens: budget });
    assertCoverage(text, chunks, budget);
    assert.equal(ownerOf(text, chunks, 'Used to notify all'), ownerOf(text, chunks, 'const terminate ='), `with ${filler} statements before it`);
  }
});

test('a large class is cut into its members, named Class.member, with the class line as context', async () => {
  const chunker = await chunkerP;
  const methods = Array.from({ length: 12 }, (_, i) => `    def method_${i}(self, x):\n        y = x * ${i} + self.offset\n        return self.scale(y) - ${i}\n`).join('\n');
  const text = `class Big(Base):\n    """A big class."""\n\n    offset = 3\n\n${methods}`;
  const budget = 64;
  const chunks = await chunker.chunk('big.py', text, { maxTokens: budget });
  assertCoverage(text, chunks, budget);
  const symbols = chunks.flatMap((c) => c.symbols);
  for (let i = 0; i < 12; i++) assert.ok(symbols.includes(`Big.method_${i}`));
  assert.ok(chunks[0]?.symbols.includes('Big'));
  for (const c of chunks.slice(1)) assert.ok(c.text.startsWith('class Big(Base):\n    # …\n'), c.text);
  // no method is cut in two: each `def` line and its `return` share a chunk
  for (let i = 0; i < 12; i++) assert.equal(ownerOf(text, chunks, `def method_${i}(`), ownerOf(text, chunks, `return self.scale(y) - ${i}`));
});

test('small neighbours are merged up to the budget, never splitting a definition', async () => {
  const chunker = await chunkerP;
  const fns = Array.from({ length: 60 }, (_, i) => `// Returns ${i}.\nfunction f${i}(x) {\n  return x + ${i};\n}\n`).join('\n');
  const text = `'use strict';\n\n${fns}`;
  for (const budget of [40, 64, 200]) {
    const chunks = await chunker.chunk('many.js', text, { maxTokens: budget });
    assertCoverage(text, chunks, budget);
    assert.ok(chunks.length < 60, `merged: ${chunks.length} chunks`);
    for (const c of chunks) assert.ok(c.tokens <= budget);
    for (let i = 0; i < 60; i++) {
      const owner = ownerOf(text, chunks, `function f${i}(`);
      assert.equal(ownerOf(text, chunks, `// Returns ${i}.`), owner);
      assert.equal(ownerOf(text, chunks, `return x + ${i};`), owner);
      assert.ok(owner.symbols.includes(`f${i}`));
    }
  }
});

test('coverage holds on real sources of every kind at several budgets', async () => {
  const chunker = await chunkerP;
  const files = [
    ...readdirSync(FIXTURES).map((f) => join(FIXTURES, f)),
    join(__dirname, '..', 'src', 'core', 'chunk', 'cut.ts'),
    join(__dirname, '..', 'src', 'core', 'chunk', 'languages.ts'),
    join(__dirname, '..', 'src', 'core', 'types.ts'),
  ];
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    for (const budget of [32, 100, 512]) assertCoverage(text, await chunker.chunk(file, text, { maxTokens: budget }), budget);
  }
});

test('text files are cut into line windows that break at blank lines', async () => {
  const chunker = await chunkerP;
  const para = (i: number): string => Array.from({ length: 4 }, (_, j) => `Paragraph ${i} line ${j} says something about the project.`).join('\n');
  const text = Array.from({ length: 20 }, (_, i) => para(i)).join('\n\n') + '\n';
  assert.equal(chunker.languageOf('docs/README.md'), 'markdown');
  const budget = 100;
  const chunks = await chunker.chunk('docs/README.md', text, { maxTokens: budget });
  assertCoverage(text, chunks, budget);
  assert.ok(chunks.length > 3);
  for (const c of chunks) {
    assert.equal(c.lang, 'markdown');
    assert.deepEqual(c.symbols, []);
    assert.match(c.text.split('\n')[0] ?? '', /line 0 says/, 'windows start at a paragraph');
  }
});

test('a very long line is split so no chunk is far over budget', async () => {
  const chunker = await chunkerP;
  const long = Array.from({ length: 3000 }, (_, i) => `v${i % 7}`).join(', ');
  const text = `first line\n${long}\nlast line\n`;
  const budget = 200;
  for (const path of ['data.txt', 'data.json', 'min.js']) {
    const chunks = await chunker.chunk(path, text, { maxTokens: budget });
    assertCoverage(text, chunks, budget);
    const parts = chunks.filter((c) => c.startLine === 2 && c.endLine === 2);
    assert.ok(parts.length > 10, `${path}: the long line is in ${parts.length} parts`);
    assert.equal(parts.map((c) => c.text).join(''), long, 'the parts put together are the line');
    for (const c of chunks) assert.ok(c.tokens <= budget, `${path}: ${c.tokens}`);
    assert.equal(new Set(chunks.map((c) => c.id)).size, chunks.length, 'ids are distinct');
  }
});

test('a broken parse still covers every line and keeps the definitions before the damage', async () => {
  const chunker = await chunkerP;
  const text = `export function good(a: number): number {\n  return a * 2;\n}\n\n` + 'const = = ((( {{{ ] ;; class\n'.repeat(40) + `\nexport function after(): void {}\n`;
  const budget = 64;
  const chunks = await chunker.chunk('broken.ts', text, { maxTokens: budget });
  assertCoverage(text, chunks, budget);
  assert.ok(chunks.some((c) => c.symbols.includes('good')));
});

test('a grammar that fails to load falls back to line windows', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'engram-chunk-'));
  try {
    await writeFile(join(dir, 'tree-sitter-python.wasm'), 'not a wasm module');
    const chunker = await Chunker.create({ grammarDir: dir });
    const text = await readFile(join(FIXTURES, 'sample.py'), 'utf8');
    const chunks = await chunker.chunk('sample.py', text, { maxTokens: 32 });
    assertCoverage(text, chunks, 32);
    assert.ok(chunks.every((c) => c.symbols.length === 0 && c.lang === 'python'));
    // a second file of the same language takes the same path without another attempt
    const again = await chunker.chunk('other.py', text, { maxTokens: 32 });
    assert.equal(again.length, chunks.length);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('chunking is deterministic and ids follow content and position', async () => {
  const chunker = await chunkerP;
  const fn = (name: string, k: number): string =>
    `/** ${name} */\nexport function ${name}(x: number): number {\n  const a = x * ${k};\n  const b = a + ${k};\n  const c = b - x;\n  return a + b + c;\n}\n`;
  const text = ['alpha', 'beta', 'gamma', 'delta'].map((n, i) => fn(n, i)).join('\n');
  const budget = 64; // each function (46 tokens) on its own
  const one = await chunker.chunk('src/d.ts', text, { maxTokens: budget });
  const two = await (await Chunker.create()).chunk('src/d.ts', text, { maxTokens: budget });
  assert.deepEqual(one, two);
  assert.equal(one.length, 4);
  for (const c of one) assert.equal(c.id.length, 24);
  // Editing `beta` in place (same line count) changes only beta's chunk id.
  const edited = text.replace('const b = a + 1;', 'const b = a + 1000;');
  const three = await chunker.chunk('src/d.ts', edited, { maxTokens: budget });
  assert.equal(three.length, 4);
  const changed = three.filter((c, i) => c.id !== one[i]?.id).map((c) => c.symbols[0]);
  assert.deepEqual(changed, ['beta']);
  // Ids include the start line: a function that moves gets a new id, with the same hash.
  const grown = text.replace('const b = a + 1;', 'const b = a + 1;\n  const extra = 1;');
  const four = await chunker.chunk('src/d.ts', grown, { maxTokens: budget });
  assert.equal(four[0]?.id, one[0]?.id);
  assert.notEqual(four[2]?.id, one[2]?.id);
  assert.equal(four[2]?.hash, one[2]?.hash);
  // The path is part of the id.
  const moved = await chunker.chunk('src/e.ts', text, { maxTokens: budget });
  assert.notEqual(moved[0]?.id, one[0]?.id);
  assert.equal(moved[0]?.hash, one[0]?.hash);
});

test('language ids from paths', async () => {
  const chunker = await chunkerP;
  const expect: Record<string, string> = {
    'a/b.ts': 'typescript', 'x.mts': 'typescript', 'c.tsx': 'tsx', 'd.jsx': 'javascript', 'e.mjs': 'javascript',
    'f.py': 'python', 'g.go': 'go', 'h.rs': 'rust', 'I.java': 'java', 'j.c': 'c', 'k.h': 'c', 'l.cc': 'cpp',
    'm.hpp': 'cpp', 'n.cs': 'csharp', 'o.rb': 'ruby', 'Gemfile': 'ruby', 'p.php': 'php', 'q.md': 'markdown',
    'r.json': 'json', 's.yml': 'yaml', 't.toml': 'toml', 'u.html': 'html', 'v.css': 'css', 'w.sh': 'shell',
    'LICENSE': 'text', 'x.unknownext': 'text', 'win\\path\\Y.PY': 'python', 'Dockerfile': 'dockerfile',
  };
  for (const [p, lang] of Object.entries(expect)) assert.equal(chunker.languageOf(p), lang, p);
  // A C++ header with a .h name is parsed as C++.
  const chunks = await chunker.chunk('x.h', 'namespace n {\nclass A {\n  int f();\n};\n}\n');
  assert.equal(chunks[0]?.lang, 'cpp');
  assert.ok(chunks[0]?.symbols.includes('A'));
});

test('bad options and empty input', async () => {
  const chunker = await chunkerP;
  await assert.rejects(chunker.chunk('a.ts', 'x', { maxTokens: 0 }), UserError);
  await assert.rejects(chunker.chunk('a.ts', 'x', { maxTokens: 1.5 }), UserError);
  assert.deepEqual(await chunker.chunk('a.ts', ''), []);
  assert.deepEqual(await chunker.chunk('a.md', '\n\n  \n'), []);
  const crlf = await chunker.chunk('w.py', 'def f():\r\n    return 1\r\n');
  assert.equal(crlf[0]?.text, 'def f():\n    return 1');
  assert.deepEqual([crlf[0]?.startLine, crlf[0]?.endLine], [1, 2]);
});
