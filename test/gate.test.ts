import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../src/core/engine.js';
import { ModelGate, openGate } from '../src/core/gate/index.js';
import { openReasoner, type Reasoner } from '../src/core/reason/index.js';
import { engram, tempRepo, writeFiles } from './support/repo.js';
import { engramAsync } from './fixtures/ask/cli.js';
import { scriptedServer, type ScriptedServer } from './fixtures/ask/server.js';
import { twoHopFiles, TWO_HOP_QUESTION } from './fixtures/ask/repos.js';

const GATE = join(__dirname, 'fixtures', 'ask', 'gate-tiny');
// This script never says it has the answer, so only the gate's limits end reading.
const SCRIPT = { rules: [], answer: { when: 'never', reply: '' } };

let tmp: { dir: string; cleanup: () => void };
let engine: Engine;
let server: ScriptedServer;
let chat: Reasoner;

before(async () => {
  tmp = tempRepo();
  writeFiles(join(tmp.dir, 'repo'), twoHopFiles());
  engine = await Engine.open({ repo: join(tmp.dir, 'repo'), store: join(tmp.dir, 'store') });
  await engine.index();
  server = await scriptedServer(SCRIPT);
  chat = await openReasoner({ backend: 'openai', baseUrl: server.url, model: 'scripted' });
});

after(async () => {
  await chat.close();
  await server.close();
  await engine.close();
  tmp.cleanup();
});

test('the gate model scores (question, memory, block) and its scores decide what is read', async () => {
  const gate = await ModelGate.load(GATE);
  try {
    const blocks = [
      { path: 'a.ts', startLine: 1, endLine: 2, text: 'export const A = 1;\n', rank: 0 },
      { path: 'b.ts', startLine: 3, endLine: 9, text: 'function b() {}\n', rank: 1 },
    ];
    const scores = await gate.score('what is A?', '', blocks);
    assert.equal(scores.length, 2);
    for (const s of scores) assert.ok(s > 0 && s < 1);
    assert.notEqual(scores[0], scores[1], 'different blocks, different scores');
    assert.deepEqual(await gate.score('what is A?', 'A is in a.ts', blocks), await gate.score('what is A?', 'A is in a.ts', blocks), 'deterministic');
    assert.notDeepEqual(await gate.score('what is A?', 'A is in a.ts', blocks), scores, 'the memory is part of the input');
    assert.equal(gate.threshold, 0.5, 'threshold_logit 0 from config.json');

    const r = await engine.ask(TWO_HOP_QUESTION, { mode: 'gated', reasoner: chat, gate, gateOptions: { maxBlocks: 2 } });
    const round1 = r.steps.filter((e) => e.type === 'gate' && e.step === 1);
    assert.equal(round1.length, r.stats.blocksTotal, 'every candidate is scored and recorded');
    const ranked = await engine.gateRank(TWO_HOP_QUESTION, 100, { gate });
    assert.deepEqual(round1.map((e) => e.path), ranked.map((c) => c.path), 'the trace is in the model score order');
    const kept = round1.filter((e) => e.text === 'kept');
    assert.ok(kept.length >= 1 && kept.length <= 2, 'at least the minimum, at most the maximum');
    for (const e of kept) assert.ok((e.score ?? 0) >= 0.5 || e === round1[0], 'kept: over the threshold, or the minimum');
    if (kept.length < 2) for (const e of round1.filter((d) => d.text === 'dropped')) assert.ok((e.score ?? 0) < 0.5);
    assert.ok(r.stats.blocksRead <= 2);
  } finally {
    await gate.close();
  }
});

test('threshold, minimum and maximum block counts and the token budget bound what the gate keeps', async () => {
  // Nothing passes a threshold above 1, but the minimum still reads two blocks.
  const min = await engine.ask(TWO_HOP_QUESTION, { mode: 'gated', reasoner: chat, gateOptions: { threshold: 1.01, minBlocks: 2 } });
  assert.equal(min.stats.blocksRead, 2);
  // Everything passes threshold 0; the maximum stops it.
  const max = await engine.ask(TWO_HOP_QUESTION, { mode: 'gated', reasoner: chat, gateOptions: { threshold: 0, maxBlocks: 3 } });
  assert.equal(max.stats.blocksRead, 3);
  // Without a gate model the recall rank is no relevance score: blocks are read in its order until
  // the reasoner has the answer or the maximum is reached, threshold or not.
  const rank = await engine.ask(TWO_HOP_QUESTION, { mode: 'gated', reasoner: chat, gateOptions: { threshold: 1.01, maxBlocks: 3 } });
  const found = rank.steps.some((e) => e.type === 'memory' && e.text === 'found');
  assert.ok(found ? rank.stats.blocksRead >= 1 : rank.stats.blocksRead === 3, `${rank.stats.blocksRead} blocks, found: ${found}`);
  assert.ok(rank.stats.blocksRead >= 2, 'past the first block: the threshold alone does not end the reading');
  // A one-token budget fits no block.
  const budget = await engine.ask(TWO_HOP_QUESTION, { mode: 'gated', reasoner: chat, gateOptions: { threshold: 0, tokenBudget: 1 } });
  assert.equal(budget.stats.blocksRead, 0);
  assert.ok(budget.steps.filter((e) => e.type === 'gate').every((e) => e.text === 'dropped'));
  assert.equal(budget.steps.at(-1)?.type, 'answer');
});

test('a question answered from one definition reads the blocks defining that name first', async () => {
  const gate = await ModelGate.load(GATE);
  try {
    // Asked from start.ts's side: its import of resolvePort ranks it near the top.
    const question = 'Which port does `startServer` get from `resolvePort`?';
    const plain = await engine.gateRank(question, 100, { gate });
    const first = await engine.gateRank(question, 100, { gate, gateOptions: { definitionOf: ['resolvePort'] } });
    assert.notEqual(plain[0]?.path, 'src/config/port.ts', `the scores alone put ${plain[0]?.path} first`);
    assert.equal(first[0]?.path, 'src/config/port.ts', 'the block defining resolvePort comes first');
    assert.deepEqual([...first].sort((a, b) => a.path.localeCompare(b.path)), [...plain].sort((a, b) => a.path.localeCompare(b.path)), 'the same candidates');
    assert.deepEqual(first.slice(1), plain.filter((c) => c.path !== 'src/config/port.ts'), 'the rest in score order');
  } finally {
    await gate.close();
  }
});

test('a missing or corrupt gate model falls back to recall ranking with a warning', async () => {
  const warnings: string[] = [];
  assert.equal(await openGate(join(tmp.dir, 'no-such-gate'), { onWarning: (m) => warnings.push(m) }), null);
  assert.match(warnings[0] ?? '', /could not be loaded.*ranking by recall instead/);

  const corrupt = join(tmp.dir, 'corrupt-gate');
  cpSync(GATE, corrupt, { recursive: true });
  writeFileSync(join(corrupt, 'onnx', 'model.onnx'), 'not an onnx file');
  assert.equal(await openGate(corrupt, { onWarning: (m) => warnings.push(m) }), null);
  assert.match(warnings[1] ?? '', /corrupt-gate could not be loaded/);

  // The CLI says so and still answers.
  const noTokenizer = join(tmp.dir, 'half-gate');
  mkdirSync(join(noTokenizer, 'onnx'), { recursive: true });
  cpSync(join(GATE, 'onnx', 'model.onnx'), join(noTokenizer, 'onnx', 'model.onnx'));
  writeFileSync(join(noTokenizer, 'config.json'), '{}');
  const run = await engramAsync(['ask', '--json', '--repo', join(tmp.dir, 'repo'), '--store', join(tmp.dir, 'store-cli'), '--server', server.url, '--server-model', 'x', '--gate', corrupt, 'where is clamp?']);
  // The CLI's own store is empty, so index first.
  assert.equal(run.code, 1);
  assert.match(run.stderr, /no indexed files/);
  assert.equal(engram(['index', '--repo', join(tmp.dir, 'repo'), '--store', join(tmp.dir, 'store-cli')]).code, 0);
  for (const gate of [corrupt, noTokenizer]) {
    const ok = await engramAsync(['ask', '--json', '--repo', join(tmp.dir, 'repo'), '--store', join(tmp.dir, 'store-cli'), '--server', server.url, '--server-model', 'x', '--gate', gate, 'where is clamp?']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /warning: gate model .* could not be loaded.*ranking by recall instead/);
    const result = JSON.parse(ok.stdout) as { stats: { blocksRead: number } };
    assert.ok(result.stats.blocksRead >= 1);
  }
});

