import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecoderModel, type GenerationChunk } from '../src/core/models/decoder.js';
import { CancelledError, UserError } from '../src/core/types.js';

const FIXTURE = join(__dirname, 'fixtures', 'tiny-reasoner');
const NOPAST = join(FIXTURE, 'nopast');

interface RefCase {
  prompt: string;
  input_ids: number[];
  logits: number[][];
  greedy_ids: number[];
  greedy_text: string;
}
const ref = JSON.parse(readFileSync(join(FIXTURE, 'reference.json'), 'utf8')) as { cases: RefCase[] };
const EOS = 0;

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('decoder on the tiny fixture', () => {
  let withPast: DecoderModel;
  let noPast: DecoderModel;
  before(async () => {
    withPast = await DecoderModel.load(FIXTURE, { provider: 'cpu', threads: 1 });
    noPast = await DecoderModel.load(NOPAST, { provider: 'cpu', threads: 1 });
  });
  after(async () => {
    await withPast.release();
    await noPast.release();
  });

  test('loads with and without KV cache, on the CPU provider', () => {
    assert.equal(withPast.info.usesPast, true);
    assert.equal(noPast.info.usesPast, false);
    assert.equal(withPast.info.provider, 'cpu');
    assert.equal(withPast.info.architecture, 'qwen2');
    assert.equal(withPast.info.dtype, 'fp32');
    assert.ok(withPast.info.file.endsWith(join('onnx', 'model.onnx')));
  });

  test('logits match the PyTorch references at every position', async () => {
    for (const model of [withPast, noPast]) {
      for (const c of ref.cases) {
        assert.deepEqual(model.tokenizer.encode(c.prompt), c.input_ids);
        const rows = await model.forward(c.input_ids);
        assert.equal(rows.length, c.logits.length);
        rows.forEach((row, i) => assert.ok(maxDiff(row, c.logits[i]!) < 1e-3, `${c.prompt} position ${i}`));
      }
    }
  });

  test('greedy generation reproduces the reference, through the cache and without it, every time', async () => {
    for (const c of ref.cases) {
      const want = c.greedy_ids.filter((id) => id !== EOS);
      for (const model of [withPast, noPast, withPast]) {
        const r = await model.generate(c.prompt, { maxNewTokens: 40 });
        assert.deepEqual(r.tokenIds, want, `${model.info.file}: ${c.prompt}`);
        assert.equal(r.finishReason, c.greedy_ids.includes(EOS) ? 'eos' : 'length');
        assert.equal(r.text, model.tokenizer.decode(want));
        assert.equal(r.promptTokens, c.input_ids.length);
      }
    }
  });

  test('streams text in pieces that add up to the result', async () => {
    const chunks: GenerationChunk[] = [];
    const it = withPast.stream(ref.cases[1]!.prompt, { maxNewTokens: 40 });
    let result;
    for (;;) {
      const r = await it.next();
      if (r.done) {
        result = r.value;
        break;
      }
      chunks.push(r.value);
    }
    assert.ok(chunks.length > 5);
    assert.equal(chunks.map((c) => c.text).join(''), result.text);
    assert.equal(result.text, ref.cases[1]!.greedy_text.replace('<|endoftext|>', ''));
  });

  test('stops before a stop string, also one spread over several tokens, and never streams it', async () => {
    const prompt = ref.cases[1]!.prompt; // continues " put(self, key, value):\n..."
    const seen: string[] = [];
    const r = await withPast.generate(prompt, { stop: ['\n'] }, (c) => seen.push(c.text));
    assert.equal(r.finishReason, 'stop');
    assert.equal(r.text, ' put(self, key, value):');
    const r2 = await withPast.generate(prompt, { stop: ['key, val', 'zzz'] }, (c) => seen.push(c.text));
    assert.equal(r2.text, ' put(self, ');
    assert.equal(r2.finishReason, 'stop');
    assert.ok(!seen.slice(-5).join('').includes('key'));
  });

  test('max new tokens and context budgets counted with the model tokenizer', async () => {
    const r = await withPast.generate(ref.cases[0]!.prompt, { maxNewTokens: 3 });
    assert.equal(r.tokenIds.length, 3);
    assert.equal(r.finishReason, 'length');
    const n = ref.cases[0]!.input_ids.length;
    const r2 = await withPast.generate(ref.cases[0]!.prompt, { maxNewTokens: 50, maxContextTokens: n + 2 });
    assert.equal(r2.tokenIds.length, 2);
    await assert.rejects(withPast.generate(ref.cases[0]!.prompt, { maxContextTokens: n }), (e: Error) => e instanceof UserError && /context/.test(e.message));
    assert.equal(withPast.tokenizer.count('def add(a, b):'), n);
    assert.equal(withPast.tokenizer.truncate('def add(a, b):', 2), withPast.tokenizer.decode(ref.cases[0]!.input_ids.slice(0, 2)));
  });

  test('cancellation stops a generation in the middle', async () => {
    const ac = new AbortController();
    let chunks = 0;
    await assert.rejects(
      withPast.generate(ref.cases[1]!.prompt, { maxNewTokens: 40, signal: ac.signal }, () => {
        if (++chunks === 3) ac.abort();
      }),
      CancelledError,
    );
    assert.equal(chunks, 3);
    await assert.rejects(withPast.generate('x', { signal: AbortSignal.abort() }), CancelledError);
  });

  test('sampling is reproducible with a seed and varies across seeds', async () => {
    const opts = { maxNewTokens: 12, temperature: 5, topP: 0.95 };
    const a = await withPast.generate('def', { ...opts, seed: 7 });
    const b = await withPast.generate('def', { ...opts, seed: 7 });
    const c = await withPast.generate('def', { ...opts, seed: 8 });
    assert.deepEqual(a.tokenIds, b.tokenIds);
    assert.notDeepEqual(a.tokenIds, c.tokenIds);
    // topP small enough keeps only the top token: same as greedy.
    const g = await withPast.generate(ref.cases[0]!.prompt, { maxNewTokens: 6 });
    const s = await withPast.generate(ref.cases[0]!.prompt, { maxNewTokens: 6, temperature: 1, topP: 1e-6, seed: 1 });
    assert.deepEqual(s.tokenIds, g.tokenIds);
  });

  test('int8 variant loads and stays close to fp32', async () => {
    const q = await DecoderModel.load(FIXTURE, { provider: 'cpu', dtype: 'int8', threads: 1 });
    try {
      assert.equal(q.info.dtype, 'int8');
      assert.ok(q.info.file.endsWith('model_quantized.onnx'));
      const c = ref.cases[0]!;
      const rows = await q.forward(c.input_ids);
      const d = maxDiff(rows[rows.length - 1]!, c.logits[c.logits.length - 1]!);
      assert.ok(d > 0 && d < 2, `int8 drift ${d}`);
    } finally {
      await q.release();
    }
  });
});

describe('broken model folders give a clear message naming the file', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'engram-models-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('truncated ONNX file', async () => {
    const m = join(dir, 'trunc');
    cpSync(FIXTURE, m, { recursive: true });
    const file = join(m, 'onnx', 'model.onnx');
    truncateSync(file, Math.floor(statSync(file).size / 3));
    await assert.rejects(DecoderModel.load(m, { provider: 'cpu' }), (e: Error) => e instanceof UserError && e.message.includes(file));
  });

  test('garbage ONNX file', async () => {
    const m = join(dir, 'garbage');
    cpSync(FIXTURE, m, { recursive: true });
    const file = join(m, 'onnx', 'model.onnx');
    writeFileSync(file, 'this is not a model');
    await assert.rejects(DecoderModel.load(m, { provider: 'cpu' }), (e: Error) => e instanceof UserError && e.message.includes(file));
  });

  test('unknown architecture', async () => {
    const m = join(dir, 'arch');
    cpSync(FIXTURE, m, { recursive: true });
    const cfgFile = join(m, 'config.json');
    const cfg = JSON.parse(readFileSync(cfgFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(cfgFile, JSON.stringify({ ...cfg, model_type: 'mamba9' }));
    await assert.rejects(
      DecoderModel.load(m, { provider: 'cpu' }),
      (e: Error) => e instanceof UserError && e.message.includes(cfgFile) && e.message.includes('mamba9'),
    );
  });

  test('missing folder, missing config, missing ONNX file', async () => {
    await assert.rejects(DecoderModel.load(join(dir, 'nope')), /model folder not found/);
    const m = join(dir, 'noonnx');
    cpSync(FIXTURE, m, { recursive: true });
    rmSync(join(m, 'onnx'), { recursive: true });
    rmSync(join(m, 'nopast'), { recursive: true });
    await assert.rejects(DecoderModel.load(m, { provider: 'cpu' }), (e: Error) => e.message.includes('no ONNX model') && e.message.includes(m));
    rmSync(join(m, 'config.json'));
    await assert.rejects(DecoderModel.load(m, { provider: 'cpu' }), /no config\.json/);
  });
});
