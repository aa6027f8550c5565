import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { verifyCitations } from '../src/core/ask/index.js';
import { openReasoner, parseAnswer, parseCitations, parseMemoryUpdate } from '../src/core/reason/index.js';

const FIXTURE = join(__dirname, 'fixtures', 'tiny-reasoner');

test('answers and citations are read from the reply, leniently', () => {
  assert.deepEqual(parseAnswer(' 8080\nCITATIONS: src/a.ts:1-3, lib/b.py:7'), {
    answer: '8080',
    citations: [
      { path: 'src/a.ts', startLine: 1, endLine: 3 },
      { path: 'lib/b.py', startLine: 7, endLine: 7 },
    ],
  });
  assert.equal(parseAnswer('ANSWER: `resolvePort` (src/c.ts:9–4)').citations[0]?.startLine, 4, 'reversed ranges are ordered');
  assert.deepEqual(parseCitations('note:1 and step:2 are not paths; ./x/y.js:5-6 is'), [{ path: 'x/y.js', startLine: 5, endLine: 6 }]);
  assert.deepEqual(parseMemoryUpdate('Notes:\nA = 1 (a.ts:1)\nSTATUS: found'), { memory: 'A = 1 (a.ts:1)', hasAnswer: true });
  assert.deepEqual(parseMemoryUpdate('nothing yet\nSTATUS: continue'), { memory: 'nothing yet', hasAnswer: false });
});

test('citations are clipped to the lines read; unread paths and lines are dropped and counted', () => {
  const read = [
    { path: 'a.ts', startLine: 10, endLine: 20 },
    { path: 'b.ts', startLine: 1, endLine: 5 },
  ];
  const { citations, dropped } = verifyCitations(
    [
      { path: 'a.ts', startLine: 5, endLine: 12 },
      { path: 'a.ts', startLine: 30, endLine: 31 },
      { path: 'c.ts', startLine: 1, endLine: 1 },
      { path: 'b.ts', startLine: 2, endLine: 2 },
      { path: 'b.ts', startLine: 2, endLine: 2 },
    ],
    read,
  );
  assert.deepEqual(citations, [
    { path: 'a.ts', startLine: 10, endLine: 12 },
    { path: 'b.ts', startLine: 2, endLine: 2 },
  ]);
  assert.equal(dropped, 2);
});

test('the ONNX reasoner bounds the memory with its own tokenizer and fits every prompt in its window', async () => {
  const r = await openReasoner({ backend: 'onnx', model: FIXTURE, provider: 'cpu', threads: 1, memoryTokens: 24 });
  try {
    assert.equal(r.contextTokens, 256);
    assert.equal(r.memoryTokens, 24);
    assert.match(r.id, /^onnx:tiny-reasoner$/);
    const long = Array.from({ length: 200 }, (_, i) => `${i + 1}| const value${i} = compute(${i});`).join('\n');
    let memory = 'x '.repeat(500);
    for (let i = 0; i < 3; i++) {
      const out = await r.read({ question: 'which value is computed last? '.repeat(20), memory, block: { blockId: 'b', path: 'a.ts', startLine: 1, endLine: 200, text: long } });
      assert.ok(r.count(out.memory) <= 24, 'memory within its bound');
      assert.ok(out.promptTokens + out.outputTokens <= 256, 'prompt and reply within the window');
      assert.ok(out.blockTokens > 0 && out.blockTokens < r.count(long), 'the block was cut to fit');
      memory = out.memory;
    }
    const blocks = Array.from({ length: 10 }, (_, i) => ({ blockId: `b${i}`, path: `f${i}.ts`, startLine: 1, endLine: 40, text: long.slice(0, 600) }));
    const a = await r.answer({ question: 'what?', memory, blocks });
    assert.ok(a.blocksUsed < blocks.length, 'full-context answers keep what fits');
    assert.ok(a.promptTokens + a.outputTokens <= 256);
  } finally {
    await r.close();
  }
});

test('a server reasoner needs a loopback URL unless remote use is allowed', async () => {
  await assert.rejects(openReasoner({ backend: 'openai', baseUrl: 'http://example.com/v1', model: 'm' }), /not on this machine/);
  const r = await openReasoner({ backend: 'openai', baseUrl: 'http://127.0.0.1:9/v1', model: 'm', contextTokens: 4096, memoryTokens: 512 });
  assert.equal(r.memoryTokens, 512);
  assert.equal(r.contextTokens, 4096);
  await r.close();
});

test('the extractive reader is the default reasoner: cited facts as memory, answers as exact source text on exact lines', async () => {
  const { defaultReasonerSpec } = await import('../src/core/reason/index.js');
  const { Engine } = await import('../src/core/engine.js');
  const { tempRepo, writeFiles } = await import('./support/repo.js');
  const { twoHopFiles } = await import('./fixtures/ask/repos.js');
  const { readFileSync } = await import('node:fs');
  const spec = defaultReasonerSpec({});
  assert.equal(spec.backend, 'onnx');
  const r = await openReasoner({ ...spec, provider: 'cpu', threads: 1, memoryTokens: 40 });
  const t = tempRepo();
  const repo = join(t.dir, 'repo');
  writeFiles(repo, twoHopFiles());
  const engine = await Engine.open({ repo, store: join(t.dir, 'store') });
  try {
    assert.match(r.id, /^reader:/);
    assert.equal(r.reads, 'raw');
    await engine.index();
    const res = await engine.ask('Which value does `clamp` give back?', { mode: 'memagent', reasoner: r });
    assert.equal(res.stats.blocksRead, res.stats.blocksTotal);
    for (const m of res.steps.filter((e) => e.type === 'memory')) {
      assert.ok(r.count(m.memory ?? '') <= 40);
      for (const line of (m.memory ?? '').split('\n').filter(Boolean)) assert.match(line, /^(answer )?[\w/.]+:\d+(-\d+)?: /);
    }
    // Confident or not, what it says is source text on the lines it cites; below its thresholds it says it is not sure.
    assert.notEqual(res.confidence, 'none', 'it read every block: there is evidence');
    const c = res.citations[0]!;
    const lines = readFileSync(join(repo, c.path), 'utf8').split('\n').slice(c.startLine - 1, c.endLine);
    if (res.confidence === 'answer') assert.ok(lines.join('\n').includes(res.answer), 'the answer is source text on the cited lines');
    else assert.ok(res.answer.endsWith(lines.map((l) => l.trim()).filter(Boolean).join(' ⏎ ')) && res.answer.startsWith('Not sure (low confidence)'), res.answer);
  } finally {
    await engine.close();
    await r.close();
    t.cleanup();
  }
});
