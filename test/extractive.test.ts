// The shipped extractive reader through its public runtime: same inputs and answers as the
// Python reference, spans that are exact source text on exact lines, batches equal to
// single reads, long blocks read in windows, and clear errors for broken models and inputs.
import { strict as assert } from 'node:assert';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ExtractiveReader, questionForm, type ReaderInput, type ReaderOutput } from '../src/core/models/extractive.js';
import { ExtractiveReasoner } from '../src/core/reason/index.js';
import { readManifest, shippedModelsDir } from '../src/core/models/registry.js';
import { CancelledError, UserError } from '../src/core/types.js';

const modelsDir = shippedModelsDir();
const entry = readManifest(modelsDir).find((m) => m.name === 'engram-reader');
const readerDir = join(modelsDir, entry?.path ?? 'reader-missing');

interface Example {
  input: ReaderInput;
  output: { noAnswer: number; answer: ReaderOutput['answer']; bestSpan: ReaderOutput['answer']; keepLines: number[] };
}

function linesOf(x: ReaderInput): string[] {
  return x.block.text.split('\n');
}

/** Every answer and kept line is exact text of the block at the line it names. */
let keepThreshold = 0.5;

function assertCites(x: ReaderInput, out: ReaderOutput): void {
  const lines = linesOf(x);
  const first = x.block.startLine;
  assert.ok(out.noAnswer >= 0 && out.noAnswer <= 1);
  if (out.answer) {
    const a = out.answer;
    assert.ok(a.startLine >= first && a.endLine >= a.startLine && a.endLine < first + lines.length, JSON.stringify(a));
    const src = lines.slice(a.startLine - first, a.endLine - first + 1).join('\n');
    assert.ok(a.text.length > 0 && src.includes(a.text), `${JSON.stringify(a.text)} not in ${JSON.stringify(src)}`);
    assert.ok(a.score > 0 && a.score <= 1);
  }
  let prev = -1;
  for (const k of out.keepLines) {
    assert.ok(k.line > prev && k.line >= first && k.line < first + lines.length);
    assert.equal(k.text, lines[k.line - first]);
    assert.ok(k.score >= keepThreshold && k.score <= 1);
    prev = k.line;
  }
}

describe('ExtractiveReader (shipped engram-reader)', () => {
  let reader: ExtractiveReader;
  const examples: Example[] = (JSON.parse(readFileSync(join(readerDir, 'examples.json'), 'utf8')) as { examples: Example[] }).examples;
  const tmp: string[] = [];

  before(async () => {
    assert.ok(entry, 'models/manifest.json lists engram-reader');
    assert.equal(entry.role, 'reasoner');
    reader = await ExtractiveReader.load(readerDir, { provider: 'cpu', threads: 2 });
    keepThreshold = reader.info.keepThreshold;
  });
  after(async () => {
    await reader?.release();
    for (const d of tmp) rmSync(d, { recursive: true, force: true });
  });

  it('reports what it runs', () => {
    assert.equal(reader.info.provider, 'cpu');
    assert.equal(reader.info.dtype, 'fp32');
    assert.ok(reader.info.noAnswerThreshold > 0 && reader.info.noAnswerThreshold <= 1);
    assert.ok(reader.info.keepThreshold > 0 && reader.info.keepThreshold < 1);
    assert.ok(reader.info.file.endsWith(join('onnx', 'model.onnx')));
    assert.equal(reader.info.batchSize, 1, 'on CPU a window at a time: batching is no faster and costs memory');
  });

  it('reads the reference examples as the Python pipeline does', async () => {
    assert.ok(examples.length >= 8);
    const outs = await reader.read(examples.map((e) => e.input));
    outs.forEach((out, i) => {
      const want = examples[i]!.output;
      assert.ok(Math.abs(out.noAnswer - want.noAnswer) < 1e-4, `example ${i}: noAnswer ${out.noAnswer} vs ${want.noAnswer}`);
      if (want.answer) assert.deepEqual({ ...out.answer, score: 0 }, { ...want.answer, score: 0 }, `example ${i}`);
      else assert.equal(out.answer, null, `example ${i}`);
      // The top span whatever the thresholds say: what a low-confidence answer shows as evidence.
      if (want.bestSpan) assert.deepEqual({ ...out.best, score: 0 }, { ...want.bestSpan, score: 0 }, `example ${i} best span`);
      if (out.answer) assert.deepEqual(out.best, out.answer, `example ${i}: the answer is the best span`);
      assert.deepEqual(out.keepLines.map((k) => k.line), want.keepLines, `example ${i}`);
      assertCites(examples[i]!.input, out);
    });
  });

  it('cites exact lines, and a batch reads like single inputs', async () => {
    const src = readFileSync(join(process.cwd(), 'src/core/hash.ts'), 'utf8').split('\n');
    const inputs: ReaderInput[] = [
      ...examples.slice(0, 4).map((e) => e.input),
      { question: 'What does `sha256Hex` return?', memory: '', block: { path: 'src/core/hash.ts', startLine: 1, text: src.join('\n') } },
      { question: 'Where is the function `stableId` defined?', memory: 'src/core/hash.ts:1: import', block: { path: 'src/core/hash.ts', startLine: 1, text: src.slice(0, 3).join('\n') } },
      { question: 'x', memory: '', block: { path: 'empty.ts', startLine: 7, text: '' } },
      { question: 'What is `ünïcode`?', memory: '', block: { path: 'u.py', startLine: 3, text: 'ünïcode = "naïve 😀 café"\nother = 1' } },
    ];
    const batch = await reader.read(inputs);
    assert.equal(batch.length, inputs.length);
    for (let i = 0; i < inputs.length; i++) {
      assertCites(inputs[i]!, batch[i]!);
      const [single] = await reader.read([inputs[i]!]);
      assert.ok(Math.abs(single!.noAnswer - batch[i]!.noAnswer) < 1e-4);
      assert.deepEqual(single!.answer && { ...single!.answer, score: 0 }, batch[i]!.answer && { ...batch[i]!.answer, score: 0 });
      assert.deepEqual(single!.keepLines.map((k) => k.line), batch[i]!.keepLines.map((k) => k.line));
    }
  });

  it('reads a long block in windows and cites lines past the first window', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 300; i++) lines.push(`export const value${i} = compute(value${i - 1}, ${i}); // step ${i}`);
    lines[250] = 'export const RETRY_LIMIT_MS = 2500;';
    const x: ReaderInput = {
      question: 'What is the value of the constant `RETRY_LIMIT_MS`?',
      memory: '',
      block: { path: 'src/limits.ts', startLine: 1000, text: lines.join('\n') },
    };
    const [out] = await reader.read([x]);
    assertCites(x, out!);
    // Whatever it answers or keeps sits on real lines of the whole block.
    const [first] = await reader.read([{ ...x, block: { ...x.block, text: lines.slice(0, 40).join('\n') } }]);
    assertCites({ ...x, block: { ...x.block, text: lines.slice(0, 40).join('\n') } }, first!);
  });

  it('never answers a value question with the name it asks about; a place question is answered at the definition', async () => {
    const rule = [
      '/**', ' * @fileoverview Limits how deeply blocks can be nested.', ' */', '', '"use strict";', '',
      '//------------------------------------------------------------------------------', '// Requirements',
      '//------------------------------------------------------------------------------', '',
      'const { upperCaseFirst } = require("../shared/string-utils");', '',
      '//------------------------------------------------------------------------------', '// Rule Definition',
      '//------------------------------------------------------------------------------', '',
      'const DEPTH_LIMIT_DEFAULT = 4;', '', "/** @type {import('../types').Rule.RuleModule} */", 'module.exports = {',
      '\tmeta: {', '\t\ttype: "suggestion",', '\t\tdefaultOptions: [DEPTH_LIMIT_DEFAULT],', '\t},', '};',
    ].join('\n');
    const block = { path: 'lib/rules/max-depth.js', startLine: 1, text: rule };
    // This model's top span here is the name itself; the engine takes the best span outside it.
    const [value] = await reader.read([{ question: 'What is the value of the constant `DEPTH_LIMIT_DEFAULT`?', memory: '', block }]);
    assert.equal(value!.best?.text, '4');
    assert.equal(value!.best?.startLine, 17);
    const [place] = await reader.read([{ question: 'Where is the constant `DEPTH_LIMIT_DEFAULT` defined?', memory: '', block }]);
    assert.equal(place!.best?.text, 'DEPTH_LIMIT_DEFAULT');
    assert.equal(place!.answer, null, 'the reader alone is not sure of it');
    // The definition is checked by its shape, so the reasoner states that place.
    const reasoner = await ExtractiveReasoner.load(readerDir, { provider: 'cpu', threads: 1 });
    try {
      const view = { blockId: 'b', path: block.path, startLine: 1, endLine: 25, text: rule, raw: rule };
      const out = await reasoner.answer({ question: 'Where is the constant `DEPTH_LIMIT_DEFAULT` defined?', memory: '', blocks: [view] });
      assert.equal(out.confidence, 'answer');
      assert.equal(out.answer, 'lib/rules/max-depth.js:17');
    } finally {
      await reasoner.close();
    }
    // Even a reader that answers everything (threshold 1) states no place or value on a line without the name.
    const eager = await ExtractiveReasoner.load(readerDir, { provider: 'cpu', threads: 1, noAnswerThreshold: 1 });
    try {
      const other = { blockId: 'c', path: 'lib/other.js', startLine: 1, endLine: 3, text: '', raw: 'function walk(node) {\n  return visit(node.body, 3);\n}' };
      const where = await eager.answer({ question: 'Where is the function `frobnicate` defined?', memory: '', blocks: [other] });
      assert.equal(where.confidence, 'evidence');
      const value = await eager.answer({ question: 'What is the value of the constant `FROB_LIMIT`?', memory: '', blocks: [other] });
      assert.equal(value.confidence, 'evidence');
      const which = await eager.answer({ question: 'Which function visits the body of a node?', memory: '', blocks: [other] });
      assert.equal(which.confidence, 'answer');
    } finally {
      await eager.close();
    }
    assert.equal(questionForm('Where is `x` defined?'), 'place');
    assert.equal(questionForm('What is the default value of the parameter `a` of `f`?'), 'value');
    assert.equal(questionForm('Which function does the following?'), 'other');
  });

  it('answers a described function with the definition whose documentation says the description', async () => {
    const js = [
      '/**', ' * Tests to see if the object is "thennable".', ' */',
      'export function isPromise(value) {', "  return typeof value?.then === 'function';", '}', '',
      '/** Tests whether the value is a function. */',
      'export function isFunction(value) {', "  return typeof value === 'function';", '}',
    ].join('\n');
    const py = [
      'class Registry:', '    def register(self, name, fn):', '        """Add a handler under a name,', '        replacing any earlier one."""',
      '        self._handlers[name] = fn', '', '    def drop(self, name):', '        """Forget the handler of a name."""', '        self._handlers.pop(name, None)',
    ].join('\n');
    const views = [
      { blockId: 'u', path: 'src/util/is.ts', startLine: 10, endLine: 20, text: '', raw: js },
      { blockId: 'r', path: 'lib/registry.py', startLine: 1, endLine: 9, text: '', raw: py },
    ];
    const reasoner = await ExtractiveReasoner.load(readerDir, { provider: 'cpu', threads: 1 });
    try {
      const ask = (question: string) => reasoner.answer({ question, memory: '', blocks: views });
      const promise = await ask('Which function does the following: "Tests to see if the object is thennable."? Give its name.');
      assert.equal(promise.answer, 'isPromise');
      assert.equal(promise.confidence, 'answer');
      assert.deepEqual(promise.citations, [{ path: 'src/util/is.ts', startLine: 13, endLine: 13 }]);
      const drop = await ask('Which method forgets the handler of a name?');
      assert.equal(drop.answer, 'drop');
      assert.deepEqual(drop.citations, [{ path: 'lib/registry.py', startLine: 7, endLine: 7 }]);
      const none = await ask('Which function does the following: "Renders the sidebar tree with lazy children."? Give its name.');
      assert.notEqual(none.confidence, 'answer', none.answer);
      // While reading, a definition that says the whole description ends the loop; one that says half reads on.
      const read = await reasoner.read({ question: 'Which function does the following: "Tests to see if the object is thennable."?', memory: '', block: views[0]! });
      assert.equal(read.hasAnswer, true);
      assert.match(read.memory, /^answer src\/util\/is\.ts:13-13: isPromise$/m);
    } finally {
      await reasoner.close();
    }
  });

  it('rejects bad inputs and honours cancellation', async () => {
    const good = examples[0]!.input;
    await assert.rejects(reader.read([{ ...good, block: { ...good.block, startLine: 0 } }]), UserError);
    await assert.rejects(reader.read([{ question: 'q' } as unknown as ReaderInput]), UserError);
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(reader.read([good], ac.signal), CancelledError);
    assert.deepEqual(await reader.read([]), []);
  });

  it('names the file when the model is corrupt or not a reader', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'engram-reader-'));
    tmp.push(dir);
    cpSync(readerDir, join(dir, 'r'), { recursive: true });
    const file = join(dir, 'r', 'onnx', 'model.onnx');
    writeFileSync(file, readFileSync(file).subarray(0, 5000));
    await assert.rejects(ExtractiveReader.load(join(dir, 'r'), { provider: 'cpu' }), (err: Error) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /cannot load ONNX model .*model\.onnx/);
      return true;
    });
    const cfgFile = join(dir, 'r', 'config.json');
    writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(readFileSync(cfgFile, 'utf8')), model_type: 'bert' }));
    await assert.rejects(ExtractiveReader.load(join(dir, 'r'), { provider: 'cpu' }), /expected "engram-reader"/);
    await assert.rejects(ExtractiveReader.load(join(dir, 'nope')), /model folder not found/);
  });
});
