import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { Engine } from '../src/core/engine.js';
import { ExtractiveReasoner, openReasoner, type Reasoner } from '../src/core/reason/index.js';
import { readManifest, shippedModelsDir } from '../src/core/models/registry.js';
import { CancelledError, UserError, type AskMode, type TraceEvent } from '../src/core/types.js';
import { scoreAnswer } from '../src/core/ask/index.js';
import { tempRepo, writeFiles } from './support/repo.js';
import { scriptedServer, type ScriptedServer } from './fixtures/ask/server.js';
import { twoHopFiles, TWO_HOP_QUESTION } from './fixtures/ask/repos.js';

const FIXTURE = join(__dirname, 'fixtures', 'tiny-reasoner');
const SCRIPT = {
  rules: [
    { code: 'function startServer', note: 'startServer listens on resolvePort() (src/server/start.ts:5)' },
    { code: 'function resolvePort', note: 'resolvePort falls back to DEFAULT_PORT = 8080 (src/config/port.ts:1-3)', found: true },
  ],
  answer: {
    when: '8080',
    reply: 'ANSWER: 8080\nCITATIONS: src/config/port.ts:1-3, src/server/start.ts:4-5, src/missing.ts:1-2, src/config/port.ts:90-95',
  },
};

let tmp: { dir: string; cleanup: () => void };
let engine: Engine;
let server: ScriptedServer;
let chat: Reasoner;
let tiny: Reasoner;
let unsure: Reasoner;
let repo: string;

before(async () => {
  tmp = tempRepo();
  repo = join(tmp.dir, 'repo');
  writeFiles(repo, twoHopFiles());
  engine = await Engine.open({ repo, store: join(tmp.dir, 'store') });
  await engine.index();
  server = await scriptedServer(SCRIPT);
  chat = await openReasoner({ backend: 'openai', baseUrl: server.url, model: 'scripted' });
  tiny = await openReasoner({ backend: 'onnx', model: FIXTURE, provider: 'cpu', threads: 1 });
  // The shipped reader with P(no answer) < 0 required: it is never confident, whatever it reads.
  const reader = readManifest(shippedModelsDir()).find((m) => m.name === 'engram-reader')!;
  unsure = await ExtractiveReasoner.load(join(shippedModelsDir(), reader.path), { provider: 'cpu', threads: 1, noAnswerThreshold: 0 });
});

after(async () => {
  await tiny.close();
  await unsure.close();
  await chat.close();
  await server.close();
  await engine.close();
  tmp.cleanup();
});

test('gated mode re-gates on the memory: the second hop is found through what the first taught', async () => {
  const events: TraceEvent[] = [];
  const r = await engine.ask(TWO_HOP_QUESTION, { mode: 'gated', reasoner: chat, gateOptions: { candidates: 1 }, onTrace: (e) => events.push(e) });
  const reads = r.steps.filter((e) => e.type === 'read').map((e) => e.path);
  assert.deepEqual(reads, ['src/server/start.ts', 'src/config/port.ts']);
  // Round 1 saw only the first hop; round 2, queried with the memory, found the second.
  const gate1 = r.steps.filter((e) => e.type === 'gate' && e.step === 1).map((e) => e.path);
  const gate2 = r.steps.filter((e) => e.type === 'gate' && e.step === 2).map((e) => e.path);
  assert.deepEqual(gate1, ['src/server/start.ts']);
  assert.deepEqual(gate2, ['src/config/port.ts']);
  assert.equal(r.answer, '8080');
  // Stopped early: the reasoner said it had the answer after two of six blocks.
  assert.equal(r.stats.blocksRead, 2);
  assert.ok(r.stats.blocksTotal >= 6);
  assert.deepEqual(events, r.steps, 'the streamed trace is the returned one');
  assert.equal(events.at(-1)?.type, 'answer');
});

test('citations are verified against the lines read: unread files and nonexistent lines are dropped and counted', async () => {
  const r = await engine.ask(TWO_HOP_QUESTION, { mode: 'gated', reasoner: chat, gateOptions: { candidates: 1 } });
  assert.deepEqual(r.citations, [
    { path: 'src/config/port.ts', startLine: 1, endLine: 3 },
    { path: 'src/server/start.ts', startLine: 4, endLine: 5 },
  ]);
  assert.equal(r.stats.citationsDropped, 2);
  // With the second hop excluded, its citation has nothing behind it.
  const port = r.steps.find((e) => e.type === 'read' && e.path === 'src/config/port.ts')!;
  const without = await engine.ask(TWO_HOP_QUESTION, { mode: 'rag', reasoner: chat, ragK: 1, excluded: [port.blockId!] });
  assert.ok(!without.citations.some((c) => c.path === 'src/config/port.ts'));
});

test('memagent reads every block in path order; rag and full answer at once', async () => {
  const m = await engine.ask(TWO_HOP_QUESTION, { mode: 'memagent', reasoner: chat });
  const reads = m.steps.filter((e) => e.type === 'read');
  assert.equal(m.stats.blocksRead, m.stats.blocksTotal);
  assert.equal(reads.length, m.stats.blocksTotal);
  const order = reads.map((e) => `${e.path}:${String(e.startLine).padStart(6, '0')}`);
  assert.deepEqual(order, [...order].sort());
  assert.equal(m.answer, '8080');

  const before = server.prompts.length;
  const rag = await engine.ask(TWO_HOP_QUESTION, { mode: 'rag', reasoner: chat, ragK: 3 });
  assert.equal(server.prompts.length - before, 1, 'rag makes one call');
  assert.equal(rag.steps.filter((e) => e.type === 'read' || e.type === 'memory').length, 0);
  assert.ok(rag.stats.blocksRead <= 3);

  const full = await engine.ask(TWO_HOP_QUESTION, { mode: 'full', reasoner: chat });
  assert.equal(full.stats.blocksRead, full.stats.blocksTotal, 'the small workspace fits the window');
  assert.ok(server.prompts.at(-1)!.includes('1| export const DEFAULT_PORT = 8080;'), 'full mode reads raw numbered lines');
  assert.equal(full.answer, '8080');
});

test('the fixture ONNX decoder drives every mode within its window and memory bound', async () => {
  for (const mode of ['gated', 'memagent', 'full', 'rag'] as AskMode[]) {
    const r = await engine.ask(TWO_HOP_QUESTION, { mode, reasoner: tiny, gateOptions: { maxBlocks: 3 } });
    assert.equal(typeof r.answer, 'string', mode);
    assert.ok(r.stats.blocksRead >= 1 && r.stats.tokensRead > 0, `${mode} read something`);
    for (const e of r.steps.filter((s) => s.type === 'memory')) assert.ok(tiny.count(e.memory ?? '') <= tiny.memoryTokens, `${mode} memory bounded`);
    if (mode === 'gated') assert.ok(r.stats.blocksRead <= 3);
    if (mode === 'memagent') assert.equal(r.stats.blocksRead, r.stats.blocksTotal);
    assert.ok(r.stats.peakRssMb > 0);
  }
  assert.ok(tiny.memoryTokens <= 64, 'a 256-token window caps the memory at a quarter');
});

test('token and time budgets stop reading and answer from the memory so far', async () => {
  const byTokens = await engine.ask(TWO_HOP_QUESTION, { mode: 'memagent', reasoner: chat, maxTokens: 1 });
  assert.equal(byTokens.stats.blocksRead, 1);
  assert.match(byTokens.stats.stopped ?? '', /token budget/);
  assert.ok(byTokens.steps.some((e) => e.type === 'error' && /token budget/.test(e.text ?? '')));
  assert.equal(byTokens.steps.at(-1)?.type, 'answer');

  const slow = await scriptedServer({ ...SCRIPT, delayMs: 30 });
  const r = await openReasoner({ backend: 'openai', baseUrl: slow.url, model: 'scripted' });
  try {
    const byTime = await engine.ask(TWO_HOP_QUESTION, { mode: 'memagent', reasoner: r, timeoutMs: 1 });
    assert.ok(byTime.stats.blocksRead < byTime.stats.blocksTotal);
    assert.equal(byTime.steps.at(-1)?.type, 'answer');
    assert.match(byTime.stats.stopped ?? '', /time budget/);
  } finally {
    await slow.close();
  }
});

test('a budget stops a step in flight and still answers; the user cancelling under a budget still throws', async () => {
  const slow = await scriptedServer({ ...SCRIPT, delayMs: 1500 });
  const r = await openReasoner({ backend: 'openai', baseUrl: slow.url, model: 'scripted' });
  try {
    const res = await engine.ask(TWO_HOP_QUESTION, { mode: 'gated', reasoner: r, timeoutMs: 200 });
    // The first read was still waiting for the server when the budget ran out: it was stopped, not awaited.
    assert.equal(res.stats.blocksRead, 0);
    assert.equal(res.steps.filter((e) => e.type === 'read').length, 0);
    assert.match(res.stats.stopped ?? '', /^time budget \(200 ms\) reached during step 1$/);
    assert.ok(res.steps.some((e) => e.type === 'error' && /answering from the memory so far/.test(e.text ?? '')));
    assert.equal(res.steps.at(-1)?.type, 'answer');
    assert.equal(res.answer, 'not found', 'the answer comes from the (empty) memory so far');
    assert.equal(res.confidence, 'none');

    const user = new AbortController();
    const pending = engine.ask(TWO_HOP_QUESTION, { mode: 'gated', reasoner: r, timeoutMs: 60_000, signal: user.signal, onTrace: (e) => e.type === 'gate' && user.abort() });
    await assert.rejects(pending, CancelledError);
  } finally {
    await r.close();
    await slow.close();
  }
});

test('a reader that is not confident says so, quotes the closest evidence it read and cites it', async () => {
  for (const mode of ['gated', 'rag', 'memagent'] as AskMode[]) {
    // A question no rule answers (a value would be read from its definition, whatever the reader's confidence).
    const r = await engine.ask('Which key does `get_cached` look up?', { mode, reasoner: unsure });
    assert.equal(r.confidence, 'evidence', mode);
    const m = /^Not sure \(low confidence\): the closest evidence is ([\w/.]+):(\d+)(?:-(\d+))?: (.+)$/.exec(r.answer);
    assert.ok(m, `${mode}: ${r.answer}`);
    const cited = { path: m[1]!, startLine: Number(m[2]), endLine: Number(m[3] ?? m[2]) };
    assert.deepEqual(r.citations, [cited], `${mode}: the quoted lines are the cited ones`);
    // They are lines it read, and the quote is their text.
    const read = r.steps.filter((e) => (e.type === 'read' || (mode === 'rag' && e.type === 'gate')) && e.path === cited.path);
    assert.ok(read.some((e) => e.startLine! <= cited.startLine && e.endLine! >= cited.endLine), `${mode}: cites lines it read`);
    const lines = readFileSync(join(repo, cited.path), 'utf8').split('\n').slice(cited.startLine - 1, cited.endLine);
    assert.equal(m[4], lines.map((l) => l.trim()).filter(Boolean).join(' ⏎ '), mode);
  }
  // Nothing read, nothing remembered: no evidence, so it stays "not found".
  const none = await unsure.answer({ question: 'What is `CACHE_TTL`?', memory: '', blocks: [] });
  assert.deepEqual([none.answer, none.citations, none.confidence], ['not found', [], 'none']);
  // Other reasoners do not say; the loop tells a plain answer from "not found".
  const chatAnswer = await engine.ask(TWO_HOP_QUESTION, { mode: 'gated', reasoner: chat, gateOptions: { candidates: 1 } });
  assert.equal(chatAnswer.confidence, 'answer');
  const chatNone = await engine.ask('What is the value of `POOL_SIZE`?', { mode: 'rag', reasoner: chat, ragK: 1 });
  assert.deepEqual([chatNone.answer, chatNone.confidence], ['not found', 'none']);
});

test('eval never counts a low-confidence answer as correct, but counts its evidence hit', async () => {
  const question = 'Which key does `get_cached` look up?';
  const first = await engine.ask(question, { mode: 'gated', reasoner: unsure });
  const cited = first.citations[0]!;
  const quote = first.answer.slice(first.answer.lastIndexOf(': ') + 2);
  assert.equal(scoreAnswer(first.answer, quote).contains, true, 'the quote is inside the answer text');
  const elsewhere = twoHopFiles();
  const other = Object.keys(elsewhere).find((p) => p !== cited.path)!;
  const report = await engine.eval(
    [
      { id: 'hit', question, answer: quote, evidence: [cited] },
      { id: 'miss', question, answer: quote, evidence: [{ path: other, startLine: 1, endLine: 2 }] },
      { id: 'no-evidence', question, answer: quote },
    ],
    { mode: 'gated', reasoner: unsure, k: 2 },
  );
  assert.deepEqual(
    report.perQuestion.map((q) => [q.id, q.confidence, q.exact, q.contains, q.evidenceHit]),
    [
      ['hit', 'evidence', false, false, true],
      ['miss', 'evidence', false, false, false],
      ['no-evidence', 'evidence', false, false, undefined],
    ],
  );
  assert.equal(report.accuracy, 0);
  assert.equal(report.containment, 0);
  assert.equal(report.confidentRate, 0);
  assert.equal(report.evidenceHitRate, 0.5, 'one of the two questions with evidence');
  assert.equal(report.citationRecall, 0.5, 'citation scores still see every citation');
});

test('a question can be cancelled between steps and during a model call', async () => {
  const between = new AbortController();
  await assert.rejects(
    engine.ask(TWO_HOP_QUESTION, { mode: 'memagent', reasoner: chat, signal: between.signal, onTrace: (e) => e.type === 'read' && between.abort() }),
    CancelledError,
  );
  const slow = await scriptedServer({ ...SCRIPT, delayMs: 5000 });
  const r = await openReasoner({ backend: 'openai', baseUrl: slow.url, model: 'scripted' });
  const during = new AbortController();
  try {
    const pending = engine.ask(TWO_HOP_QUESTION, { mode: 'gated', reasoner: r, signal: during.signal, onTrace: (e) => e.type === 'gate' && during.abort() });
    await assert.rejects(pending, CancelledError);
  } finally {
    await slow.close();
  }
});

test('bad questions get clear messages; another language is answered, not rejected', async () => {
  await assert.rejects(engine.ask('   ', { reasoner: chat }), (e: Error) => e instanceof UserError && /empty question/.test(e.message));
  await assert.rejects(engine.ask('x'.repeat(100 * 1024), { reasoner: chat }), (e: Error) => e instanceof UserError && /100 KB; the limit is 16 KB/.test(e.message));
  const warnings: string[] = [];
  const r = await engine.ask('サーバーはどのポートで待ち受けますか？', { mode: 'gated', reasoner: chat, onWarning: (m) => warnings.push(m) });
  assert.equal(r.steps.at(-1)?.type, 'answer');
  assert.ok(r.stats.blocksRead >= 1, 'vector recall still finds candidates');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /no block shares a word with the question/);
});

test('an empty workspace and one where every file was skipped say so', async () => {
  const t = tempRepo();
  try {
    mkdirSync(join(t.dir, 'empty'));
    const empty = await Engine.open({ repo: join(t.dir, 'empty'), store: join(t.dir, 's1') });
    await empty.index();
    await assert.rejects(empty.ask('where is main?', { reasoner: chat }), (e: Error) => e instanceof UserError && /no indexed files/.test(e.message));
    await empty.close();

    mkdirSync(join(t.dir, 'skipped'));
    writeFileSync(join(t.dir, 'skipped', '.env'), 'TOKEN=abc\n');
    writeFileSync(join(t.dir, 'skipped', 'blob.bin'), Buffer.from([0, 1, 2, 0, 255, 0]));
    const skipped = await Engine.open({ repo: join(t.dir, 'skipped'), store: join(t.dir, 's2') });
    await skipped.index();
    await assert.rejects(skipped.ask('where is main?', { reasoner: chat }), (e: Error) => e instanceof UserError && /every file in the workspace was skipped \(.*secret: 1/.test(e.message));
    await skipped.close();
  } finally {
    t.cleanup();
  }
});
